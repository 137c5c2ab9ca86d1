// SPDX-License-Identifier: GPL-2.0

//! Staging wrapper for the DAX device: its lifetime ([`DaxDev`], [`DaxHost`],
//! [`DaxKill`]) and the `dax_operations` entry points, which hand safe arguments to
//! [`crate::Pmem`]'s `direct_access`, `zero_page_range` and `recovery_write`.
//!
//! Teardown follows pmem.c's `pmem_release_disk()`: remove the host (the block device
//! no longer resolves to the DAX device), kill the DAX device (no new operations, wait
//! for running ones), delete the disk, and only then drop the last reference, so the
//! `dax/write_cache` attribute never sees a freed device.

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::{
        from_err_ptr,
        to_result, //
    },
    prelude::*, //
};

use crate::{
    block::Disk,
    glue, //
};

/// `enum dax_access_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessMode {
    /// A normal access (`DAX_ACCESS`).
    Access,
    /// The filesystem is about to overwrite poison (`DAX_RECOVERY_WRITE`).
    RecoveryWrite,
}

/// A DAX device allocated for a [`crate::Pmem`], holding the allocation reference.
///
/// # Invariants
///
/// `raw` came from `alloc_dax` and this value owns that reference.
pub(crate) struct DaxDev {
    raw: NonNull<glue::DaxDevice>,
}

// SAFETY: A dax_device is reference counted and its operations are thread safe.
unsafe impl Send for DaxDev {}
// SAFETY: `&DaxDev` only calls `dax_write_cache` and `dax_holder_notify_failure`, which
// the DAX core makes safe to call concurrently.
unsafe impl Sync for DaxDev {}

impl DaxDev {
    /// `alloc_dax()` whose operations go to `data`; `None` where the kernel has no DAX
    /// for this device (`-EOPNOTSUPP`, as pmem.c tolerates).
    ///
    /// `data` must outlive the device's use: the owner kills it ([`DaxKill`]) before
    /// `data` goes away.
    pub(crate) fn new(data: &crate::Pmem, sync: bool) -> Result<Option<Self>> {
        let private = core::ptr::from_ref(data).cast::<c_void>();
        // SAFETY: `private` is only handed back to the callbacks below.
        let raw = match from_err_ptr(unsafe { glue::rpmem_alloc_dax(private, sync) }) {
            Ok(raw) => raw,
            Err(e) if e == EOPNOTSUPP => return Ok(None),
            Err(e) => return Err(e),
        };
        // INVARIANT: a successful `alloc_dax`.
        Ok(NonNull::new(raw).map(|raw| Self { raw }))
    }

    pub(crate) fn as_raw(&self) -> *mut glue::DaxDevice {
        self.raw.as_ptr()
    }

    /// `dax_write_cache()`.
    pub(crate) fn set_write_cache(&self, on: bool) {
        // SAFETY: By the invariants, the device is live.
        unsafe { glue::rpmem_dax_write_cache(self.raw.as_ptr(), on) }
    }

    /// Registers `disk` as the DAX host, so filesystems find this device by bdev.
    pub(crate) fn add_host(&self, disk: &Disk) -> Result<DaxHost> {
        // SAFETY: Both are live; the returned guard undoes it before the disk goes.
        to_result(unsafe { glue::rpmem_dax_add_host(self.raw.as_ptr(), disk.as_raw()) })?;
        Ok(DaxHost {
            disk: disk.as_raw(),
        })
    }

    /// A guard that kills this device when dropped.
    pub(crate) fn killer(&self) -> DaxKill {
        DaxKill { raw: self.raw }
    }

    /// `dax_holder_notify_failure()`: tell the filesystem holding the device.
    pub(crate) fn notify_failure(&self, offset: u64, len: u64, mf_flags: c_int) -> Result {
        // SAFETY: By the invariants, the device is live.
        to_result(unsafe {
            glue::rpmem_dax_notify_failure(self.raw.as_ptr(), offset, len, mf_flags)
        })
    }
}

impl Drop for DaxDev {
    fn drop(&mut self) {
        // The owner killed the device already (DaxKill); this drops the last reference.
        // SAFETY: By the invariants, this value owns the reference.
        unsafe { glue::rpmem_put_dax(self.raw.as_ptr()) };
    }
}

/// Kills a DAX device when dropped: no new operations, and running ones finish first.
pub(crate) struct DaxKill {
    raw: NonNull<glue::DaxDevice>,
}

// SAFETY: Killing a dax_device may happen on any thread.
unsafe impl Send for DaxKill {}
// SAFETY: `&DaxKill` gives no access at all.
unsafe impl Sync for DaxKill {}

impl Drop for DaxKill {
    fn drop(&mut self) {
        // SAFETY: The `DaxDev` this came from is dropped after this guard (field order of
        // `PmemDevice`), so the device is live; killing twice is harmless.
        unsafe { glue::rpmem_kill_dax(self.raw.as_ptr()) };
    }
}

/// The disk registered as a DAX host; removed on drop.
pub(crate) struct DaxHost {
    disk: *mut bindings::gendisk,
}

// SAFETY: `dax_remove_host` may run on any thread.
unsafe impl Send for DaxHost {}
// SAFETY: `&DaxHost` gives no access at all.
unsafe impl Sync for DaxHost {}

impl Drop for DaxHost {
    fn drop(&mut self) {
        // SAFETY: The disk outlives this guard (field order of `PmemDevice`).
        unsafe { glue::rpmem_dax_remove_host(self.disk) };
    }
}

/// A page offset or count from C (`usize` is at most 64 bits wide on every kernel target;
/// an impossible value saturates and fails the range checks).
fn widen(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// # Safety
///
/// `data` must be the private pointer given to `alloc_dax` by [`DaxDev::new`]; the DAX
/// core calls operations only on a live (not killed) device, whose `Pmem` is alive.
unsafe fn pmem<'a>(data: *mut c_void) -> &'a crate::Pmem {
    // SAFETY: Guaranteed by the caller.
    unsafe { &*data.cast::<crate::Pmem>() }
}

#[no_mangle]
extern "C" fn rpmem_rs_direct_access(
    data: *mut c_void,
    pgoff: c_ulong,
    nr_pages: c_long,
    mode: c_int,
    kaddr: *mut *mut c_void,
    pfn: *mut c_ulong,
) -> c_long {
    // SAFETY: Called through the dax_operations of a live device.
    let pmem = unsafe { pmem(data) };
    let mode = if mode == 0 {
        AccessMode::Access
    } else {
        AccessMode::RecoveryWrite
    };
    match pmem.direct_access(widen(pgoff), nr_pages, mode) {
        Ok(a) => {
            // SAFETY: `kaddr` and `pfn` are null or valid for writes (dax_direct_access).
            unsafe {
                if !kaddr.is_null() {
                    *kaddr = a.kaddr;
                }
                if !pfn.is_null() {
                    *pfn = a.pfn as c_ulong;
                }
            }
            a.pages
        }
        Err(e) => c_long::try_from(e.to_errno()).unwrap_or(c_long::MIN),
    }
}

#[no_mangle]
extern "C" fn rpmem_rs_zero_page_range(
    data: *mut c_void,
    pgoff: c_ulong,
    nr_pages: usize,
) -> c_int {
    // SAFETY: Called through the dax_operations of a live device.
    let pmem = unsafe { pmem(data) };
    match pmem.zero_page_range(widen(pgoff), widen(nr_pages)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

#[no_mangle]
extern "C" fn rpmem_rs_recovery_write(
    data: *mut c_void,
    pgoff: c_ulong,
    addr: *mut c_void,
    bytes: usize,
    iter: *mut bindings::iov_iter,
) -> usize {
    // SAFETY: Called through the dax_operations of a live device.
    let pmem = unsafe { pmem(data) };
    pmem.recovery_write(widen(pgoff), addr, bytes, RecoveryIter { iter })
}

/// The source of a recovery write: the caller's `iov_iter`.
pub(crate) struct RecoveryIter {
    pub(crate) iter: *mut bindings::iov_iter,
}

/// Whether `memory_failure()`'s `flags` say the failure was simulated by software
/// (`MF_SW_SIMULATED`).
pub(crate) fn is_simulated_failure(flags: c_int) -> bool {
    // SAFETY: Returns a constant.
    flags & unsafe { glue::rpmem_mf_sw_simulated() } != 0
}

/// Raises a hardware-reported memory failure on the page at `phys` through the kernel's
/// `memory_failure()` (test build).
#[cfg(rust_pmem_test)]
pub(crate) fn raise_memory_failure(phys: u64) -> Result {
    // SAFETY: `memory_failure()` checks the pfn itself; the caller passes a page of a
    // bound namespace with struct pages.
    to_result(unsafe { glue::rpmem_test_memory_failure(phys) })
}

/// `dev_pagemap_ops.memory_failure` of the namespace's pages.
#[no_mangle]
extern "C" fn rpmem_rs_memory_failure(
    data: *mut c_void,
    offset: u64,
    len: u64,
    flags: c_int,
) -> c_int {
    // SAFETY: `data` is the pagemap owner, the `Pmem`, read under the pagemap's owner lock,
    // which the C side holds across this call; the owner is cleared (which waits for this
    // call to return) before the `Pmem` goes.
    let pmem = unsafe { pmem(data) };
    match pmem.memory_failure(offset, len, flags) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The `dax/write_cache` attribute's way to the disk's DAX device.
#[no_mangle]
extern "C" fn rpmem_rs_disk_dax(data: *mut c_void) -> *mut glue::DaxDevice {
    // SAFETY: `data` is the private data of an added disk, a live `Pmem`.
    let pmem = unsafe { pmem(data) };
    pmem.dax_raw()
}
