// SPDX-License-Identifier: GPL-2.0
/*
 * nd_pmem stand-in for rust_pmem's nfit_test runs: nfit_test.ko links against
 * pmem_test(), the watermark of the test build of nd_pmem, so an nd_pmem module must
 * load; this one is no driver at all, so no namespace can fall to nd_pmem while
 * rust_pmem is under test (ndctl binds by trying every nd driver in turn).
 */
#include <linux/module.h>

int pmem_test(void);

int pmem_test(void)
{
	return 0;
}
EXPORT_SYMBOL(pmem_test);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("nd_pmem stand-in for rust_pmem's nfit_test runs (pmem_test only)");
