// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark-only module: times the copy routines of the pmem data path over a pmem range,
 * the ceiling a driver's block I/O can approach. copy_mc_to_kernel() (reads) and
 * memcpy_flushcache() (writes) in CHUNK-sized pieces over SIZE bytes at PHYS, best of
 * three passes; prints one line and refuses to stay loaded. Destroys the range's data.
 * Load only while no driver has the namespace bound.
 */
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

static ulong phys;
module_param(phys, ulong, 0444);
static ulong size = 256UL << 20;
module_param(size, ulong, 0444);
static uint chunk = 128 * 1024;
module_param(chunk, uint, 0444);

static int __init copy_ceiling_init(void)
{
	u64 best_r = U64_MAX, best_w = U64_MAX, t;
	unsigned long off;
	void *pmem, *buf;
	int pass;

	if (!phys || !size || !chunk || size % chunk)
		return -EINVAL;
	pmem = memremap(phys, size, MEMREMAP_WB);
	if (!pmem)
		return -ENOMEM;
	buf = kvmalloc(chunk, GFP_KERNEL);
	if (!buf) {
		memunmap(pmem);
		return -ENOMEM;
	}
	memset(buf, 0x5a, chunk);
	for (pass = 0; pass < 3; pass++) {
		t = ktime_get_ns();
		for (off = 0; off < size; off += chunk)
			memcpy_flushcache(pmem + off, buf, chunk);
		best_w = min(best_w, ktime_get_ns() - t);
		t = ktime_get_ns();
		for (off = 0; off < size; off += chunk)
			if (copy_mc_to_kernel(buf, pmem + off, chunk))
				break;
		best_r = min(best_r, ktime_get_ns() - t);
		cond_resched();
	}
	pr_info("copy_ceiling: chunk=%u bytes=%lu read_ns=%llu write_ns=%llu\n",
		chunk, size, best_r, best_w);
	kvfree(buf);
	memunmap(pmem);
	return -EAGAIN;	/* measured; nothing to keep loaded */
}
module_init(copy_ceiling_init);

MODULE_DESCRIPTION("rust_pmem benchmark: copy_mc_to_kernel/memcpy_flushcache ceiling");
MODULE_LICENSE("GPL");
