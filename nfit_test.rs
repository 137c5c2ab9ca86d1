// SPDX-License-Identifier: GPL-2.0

//! nfit_test build only (`RUST_PMEM_NFIT=1`): the one place where the driver knows about
//! the kernel's `tools/testing/nvdimm` emulation.
//!
//! nfit_test backs its regions with `vmalloc()` memory at made-up physical addresses, and
//! this build's link wraps the mapping calls of `pmem_glue.c` so they land on that memory
//! (the way the test build of nd_pmem is relinked). DAX must then hand out the pfn of the
//! vmalloc page, one page at a time, instead of the made-up address's pfn, which would
//! be some unrelated page of RAM. Never part of the production build.

use kernel::prelude::*;

use crate::glue;

/// The pfn of the emulated region's page at `kaddr` (physical address `phys`), or `None`
/// when `phys` is not nfit_test's (a real region: its pfn is `phys >> PAGE_SHIFT`).
pub(crate) fn emulated_pfn(kaddr: *mut c_void, phys: u64) -> Option<u64> {
    let mut pfn: c_ulong = 0;
    // SAFETY: `kaddr` is the kernel address of `phys` inside the device's mapping; the
    // glue only looks `phys` up in nfit_test's resource list and, on a hit, translates
    // `kaddr` with `vmalloc_to_page()`. `pfn` is valid for writes.
    let hit = unsafe { glue::rpmem_nfit_pfn(kaddr, phys, &mut pfn) };
    hit.then(|| u64::try_from(pfn).ok()).flatten()
}
