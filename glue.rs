// SPDX-License-Identifier: GPL-2.0

//! The C glue's interface (`pmem_glue.c`): its types and function declarations.
//!
//! Only the thin wrapper modules (`nd`, `block`, `mce_copy`, `dax_ops`, `badblocks`, and
//! `nfit_test` in that build) call into it; driver logic uses its constants and types
//! at most. Layouts here must match `pmem_glue.c`.

use kernel::{
    bindings,
    prelude::*, //
};

/// An opaque `struct nd_namespace_common`.
#[repr(C)]
pub(crate) struct NdNamespaceCommon {
    _private: [u8; 0],
}

/// An opaque `struct rpmem_pgmap` (a devm-owned `struct dev_pagemap`).
#[repr(C)]
pub(crate) struct RpmemPgmap {
    _private: [u8; 0],
}

/// An opaque `struct badblocks`.
#[repr(C)]
pub(crate) struct Badblocks {
    _private: [u8; 0],
}

/// An opaque `struct kernfs_node`.
#[repr(C)]
pub(crate) struct KernfsNode {
    _private: [u8; 0],
}

/// An opaque `struct dax_device`.
#[repr(C)]
pub(crate) struct DaxDevice {
    _private: [u8; 0],
}

/// `struct rpmem_map_info`: what mapping a namespace found out.
#[repr(C)]
pub(crate) struct MapInfo {
    pub(crate) virt_addr: *mut c_void,
    pub(crate) phys_addr: u64,
    pub(crate) size: u64,
    pub(crate) data_offset: u64,
    pub(crate) pfn_pad: u64,
    pub(crate) bb_start: u64,
    pub(crate) bb_end: u64,
    pub(crate) sector_size: u32,
    pub(crate) nid: c_int,
    pub(crate) pagemap: bool,
    pub(crate) sync: bool,
    pub(crate) has_cache: bool,
}

impl MapInfo {
    pub(crate) const fn zeroed() -> Self {
        Self {
            virt_addr: core::ptr::null_mut(),
            phys_addr: 0,
            size: 0,
            data_offset: 0,
            pfn_pad: 0,
            bb_start: 0,
            bb_end: 0,
            sector_size: 0,
            nid: 0,
            pagemap: false,
            sync: false,
            has_cache: false,
        }
    }
}

/// `struct rpmem_disk_cfg`.
#[repr(C)]
pub(crate) struct DiskCfg {
    pub(crate) logical_block_size: u32,
    pub(crate) nid: c_int,
    pub(crate) fua: bool,
    pub(crate) dax: bool,
    pub(crate) nowait: bool,
    pub(crate) sectors: u64,
}

/// `struct rpmem_bio_info`.
#[repr(C)]
pub(crate) struct BioInfo {
    pub(crate) flags: u32,
    pub(crate) size: u32,
    pub(crate) sector: u64,
    pub(crate) iter: bindings::bvec_iter,
}

/// `RPMEM_BIO_*` flags of [`BioInfo`].
pub(crate) const BIO_WRITE: u32 = 1 << 0;
/// See [`BIO_WRITE`].
pub(crate) const BIO_DATA: u32 = 1 << 1;
/// See [`BIO_WRITE`].
pub(crate) const BIO_PREFLUSH: u32 = 1 << 2;
/// See [`BIO_WRITE`].
pub(crate) const BIO_FUA: u32 = 1 << 3;
/// See [`BIO_WRITE`].
pub(crate) const BIO_NOWAIT: u32 = 1 << 4;
/// See [`BIO_WRITE`]: the queue has iostats on.
pub(crate) const BIO_ACCT: u32 = 1 << 5;

/// `struct rpmem_seg`: one single-page segment of a bio.
#[repr(C)]
pub(crate) struct Seg {
    pub(crate) page: *mut bindings::page,
    pub(crate) offset: u32,
    pub(crate) len: u32,
    pub(crate) sector: u64,
}

// Kernel structures are only passed by pointer. Some are zero-sized in some configurations
// (`lockdep_map` without lockdep), which `improper_ctypes` flags; it depends on the kernel
// configuration, so `expect` would fail on the others.
#[allow(improper_ctypes)]
extern "C" {
    pub(crate) fn rpmem_driver_register() -> c_int;
    pub(crate) fn rpmem_driver_unregister();

    pub(crate) fn rpmem_common_probe(dev: *mut bindings::device) -> *mut NdNamespaceCommon;
    pub(crate) fn rpmem_is_btt(dev: *mut bindings::device) -> bool;
    pub(crate) fn rpmem_is_pfn(dev: *mut bindings::device) -> bool;
    pub(crate) fn rpmem_attach_btt(ndns: *mut NdNamespaceCommon) -> c_int;
    pub(crate) fn rpmem_detach_btt(dev: *mut bindings::device);
    pub(crate) fn rpmem_btt_revalidate_region(dev: *mut bindings::device);
    pub(crate) fn rpmem_raw_enable(
        dev: *mut bindings::device,
        ndns: *mut NdNamespaceCommon,
    ) -> c_int;
    pub(crate) fn rpmem_raw_disable(dev: *mut bindings::device, ndns: *mut NdNamespaceCommon);
    pub(crate) fn rpmem_btt_probe(
        dev: *mut bindings::device,
        ndns: *mut NdNamespaceCommon,
    ) -> c_int;
    pub(crate) fn rpmem_pfn_probe(
        dev: *mut bindings::device,
        ndns: *mut NdNamespaceCommon,
    ) -> c_int;
    pub(crate) fn rpmem_dax_probe(
        dev: *mut bindings::device,
        ndns: *mut NdNamespaceCommon,
    ) -> c_int;
    pub(crate) fn rpmem_get_drvdata(dev: *mut bindings::device) -> *mut c_void;
    pub(crate) fn rpmem_set_drvdata(dev: *mut bindings::device, data: *mut c_void);

    pub(crate) fn rpmem_flush(dev: *mut bindings::device, bio: *mut bindings::bio) -> c_int;
    pub(crate) fn rpmem_has_flush(dev: *mut bindings::device) -> c_int;

    pub(crate) fn rpmem_map_namespace(
        dev: *mut bindings::device,
        ndns: *mut NdNamespaceCommon,
        info: *mut MapInfo,
        pgmap: *mut *mut RpmemPgmap,
    ) -> c_int;
    pub(crate) fn rpmem_pgmap_set_owner(pgmap: *mut RpmemPgmap, owner: *const c_void);

    pub(crate) fn rpmem_alloc_disk(
        ndns: *mut NdNamespaceCommon,
        cfg: *const DiskCfg,
        private_data: *const c_void,
    ) -> *mut bindings::gendisk;
    pub(crate) fn rpmem_add_disk(dev: *mut bindings::device, disk: *mut bindings::gendisk)
        -> c_int;
    pub(crate) fn rpmem_del_disk(disk: *mut bindings::gendisk);
    pub(crate) fn rpmem_put_disk(disk: *mut bindings::gendisk);
    pub(crate) fn rpmem_check_and_set_ro(disk: *mut bindings::gendisk);

    pub(crate) fn rpmem_badblocks_new(dev: *mut bindings::device) -> *mut Badblocks;
    pub(crate) fn rpmem_badblocks_populate(
        dev: *mut bindings::device,
        bb: *mut Badblocks,
        start: u64,
        end: u64,
    );
    pub(crate) fn rpmem_badblocks_check(
        bb: *mut Badblocks,
        sector: u64,
        nr: u64,
        first_bad: *mut u64,
        num_bad: *mut u64,
    ) -> bool;
    pub(crate) fn rpmem_badblocks_count(bb: *mut Badblocks) -> *mut c_int;
    pub(crate) fn rpmem_badblocks_clear(bb: *mut Badblocks, sector: u64, nr: u64);
    pub(crate) fn rpmem_disk_set_bb(disk: *mut bindings::gendisk, bb: *mut Badblocks);
    pub(crate) fn rpmem_bb_state_get(disk: *mut bindings::gendisk) -> *mut KernfsNode;
    pub(crate) fn rpmem_bb_state_put(kn: *mut KernfsNode);
    pub(crate) fn rpmem_bb_state_notify(kn: *mut KernfsNode);
    pub(crate) fn rpmem_clear_poison(dev: *mut bindings::device, phys: u64, len: u32) -> c_long;
    pub(crate) fn rpmem_page_present(virt_addr: *mut c_void, phys: u64);
    pub(crate) fn rpmem_in_direct_map(virt_addr: *mut c_void) -> bool;
    pub(crate) fn rpmem_page_offline(virt_addr: *mut c_void, phys: u64) -> bool;
    pub(crate) fn rpmem_alias_map(phys: u64) -> *mut c_void;
    pub(crate) fn rpmem_alias_unmap(alias: *mut c_void);
    pub(crate) fn rpmem_invalidate(addr: *mut c_void, len: u32);
    pub(crate) fn rpmem_store_fence();
    pub(crate) fn rpmem_btt_revalidate_poison(dev: *mut bindings::device);
    pub(crate) fn rpmem_mf_sw_simulated() -> c_int;
    pub(crate) fn rpmem_copy_to_page(
        page: *mut bindings::page,
        off: u32,
        src: *const c_void,
        len: u32,
    );
    #[cfg(rust_pmem_test)]
    pub(crate) fn rpmem_test_machine_check(virt_addr: *mut c_void, phys: u64);
    #[cfg(rust_pmem_test)]
    pub(crate) fn rpmem_test_bus_add_poison(
        dev: *mut bindings::device,
        phys: u64,
        len: u64,
    ) -> c_int;
    #[cfg(rust_pmem_test)]
    pub(crate) fn rpmem_test_bus_forget_poison(dev: *mut bindings::device, phys: u64, len: u64);
    #[cfg(rust_pmem_test)]
    pub(crate) fn rpmem_test_memory_failure(phys: u64) -> c_int;

    pub(crate) fn rpmem_badblocks_set(bb: *mut Badblocks, sector: u64, nr: u64);
    pub(crate) fn rpmem_clear_caps(dev: *mut bindings::device) -> u32;
    pub(crate) fn rpmem_copy_mc(dst: *mut c_void, src: *const c_void, len: u32) -> c_ulong;
    pub(crate) fn rpmem_store_flushcache(dst: *mut c_void, src: *const c_void, len: u32);
    pub(crate) fn rpmem_store_movdir64b(dst: *mut c_void, src: *const c_void, len: u32);
    pub(crate) fn rpmem_copy_from_page(
        dst: *mut c_void,
        page: *mut bindings::page,
        off: u32,
        len: u32,
    );
    pub(crate) fn rpmem_copy_from_iter(
        dst: *mut c_void,
        bytes: usize,
        iter: *mut bindings::iov_iter,
    ) -> usize;
    pub(crate) fn rpmem_disk_name(disk: *mut bindings::gendisk) -> *const c_char;

    pub(crate) fn rpmem_alloc_dax(private: *const c_void, sync: bool) -> *mut DaxDevice;
    pub(crate) fn rpmem_dax_add_host(dax: *mut DaxDevice, disk: *mut bindings::gendisk) -> c_int;
    pub(crate) fn rpmem_dax_remove_host(disk: *mut bindings::gendisk);
    pub(crate) fn rpmem_dax_write_cache(dax: *mut DaxDevice, wc: bool);
    pub(crate) fn rpmem_kill_dax(dax: *mut DaxDevice);
    pub(crate) fn rpmem_put_dax(dax: *mut DaxDevice);
    pub(crate) fn rpmem_dax_notify_failure(
        dax: *mut DaxDevice,
        offset: u64,
        len: u64,
        mf_flags: c_int,
    ) -> c_int;

    pub(crate) fn rpmem_bio_next(
        bio: *mut bindings::bio,
        iter: *mut bindings::bvec_iter,
        seg: *mut Seg,
    ) -> bool;
    pub(crate) fn rpmem_bio_start_acct(bio: *mut bindings::bio) -> c_ulong;
    pub(crate) fn rpmem_bio_end_acct(bio: *mut bindings::bio, start: c_ulong);
    pub(crate) fn rpmem_bio_endio(bio: *mut bindings::bio, err: c_int);

    pub(crate) fn rpmem_copy_mc_to_bio(
        bio: *mut bindings::bio,
        start: *const bindings::bvec_iter,
        src: *const c_void,
        len: u32,
    ) -> c_ulong;
    pub(crate) fn rpmem_copy_bio_to_pmem(
        dst: *mut c_void,
        bio: *mut bindings::bio,
        start: *const bindings::bvec_iter,
        len: u32,
    );
    pub(crate) fn rpmem_copy_page_to_pmem(
        dst: *mut c_void,
        page: *mut bindings::page,
        off: u32,
        len: u32,
    );
    pub(crate) fn rpmem_copy_from_iter_flushcache(
        addr: *mut c_void,
        bytes: usize,
        iter: *mut bindings::iov_iter,
    ) -> usize;
    pub(crate) fn rpmem_zero_page() -> *mut bindings::page;
}

// nfit_test build only (see `nfit_test.rs`).
#[cfg(rust_pmem_nfit)]
extern "C" {
    pub(crate) fn rpmem_nfit_pfn(kaddr: *mut c_void, phys: u64, pfn: *mut c_ulong) -> bool;
}

/// `rpmem_clear_caps()`: the CPU has MOVDIR64B.
pub(crate) const CLEAR_MOVDIR64B: u32 = 1 << 0;
/// `rpmem_clear_caps()`: the bus has no commands (e820): nothing to clear.
pub(crate) const CLEAR_LEGACY: u32 = 1 << 1;
/// `rpmem_clear_caps()`: the bus has `ND_CMD_CLEAR_ERROR`.
pub(crate) const CLEAR_DSM: u32 = 1 << 2;
