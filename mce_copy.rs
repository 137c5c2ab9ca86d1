// SPDX-License-Identifier: GPL-2.0

//! Data movement to and from the media.
//!
//! Every read of pmem goes through `copy_mc_to_kernel`, which survives a machine check
//! on a poisoned line and reports the bytes it could not copy; every write goes through
//! `memcpy_flushcache` (non-temporal stores, nothing left dirty in the CPU cache).
//! [`PmemMap`] is the only handle on the mapping: it bounds-checks every access, so the
//! rest of the driver never touches a raw pmem address.

use core::ptr::NonNull;
use kernel::{
    bindings,
    prelude::*, //
};

use crate::{
    block::Segment,
    glue, //
};

/// A short machine-check-safe copy: `copied` bytes arrived before the poison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct McError {
    pub(crate) copied: u32,
}

/// The kernel mapping of a namespace's media.
///
/// # Invariants
///
/// `virt` maps `len` bytes of pmem for as long as the device is bound (a devm mapping of
/// the nd device), which outlives this value. The memory is never referenced as a Rust
/// object: it is only read and written through the copy routines, which tolerate
/// concurrent access like any block device's media.
pub(crate) struct PmemMap {
    virt: NonNull<u8>,
    len: u64,
}

// SAFETY: The mapping is device memory valid on every CPU; see the type invariants for
// why sharing the raw pointer is sound.
unsafe impl Send for PmemMap {}
// SAFETY: `&PmemMap` only gives bounds-checked copies, safe to run concurrently.
unsafe impl Sync for PmemMap {}

impl PmemMap {
    /// Wraps the mapping described by `info`.
    pub(crate) fn new(info: &glue::MapInfo) -> Result<Self> {
        let virt = NonNull::new(info.virt_addr.cast::<u8>()).ok_or(ENXIO)?;
        // INVARIANT: `rpmem_map_namespace` mapped `info.size` bytes at `virt`, devm-owned.
        Ok(Self {
            virt,
            len: info.size,
        })
    }

    /// Pointer to `off` in the mapping, after checking that `off..off + len` is inside it.
    fn at(&self, off: u64, len: u64) -> Result<*mut c_void> {
        let end = off.checked_add(len).ok_or(EIO)?;
        if end > self.len {
            return Err(EIO);
        }
        let off = usize::try_from(off).map_err(|_| EIO)?;
        // SAFETY: `off + len <= self.len`, so the result stays inside the mapping.
        Ok(unsafe { self.virt.as_ptr().add(off) }.cast())
    }

    /// Kernel address of `off` for DAX (`direct_access`), bounds-checked for `len` bytes.
    pub(crate) fn kaddr(&self, off: u64, len: u64) -> Result<*mut c_void> {
        self.at(off, len)
    }

    /// After the platform cleared poison in `off..off + len` (physical address `phys`):
    /// make poisoned pages present again and drop stale cache lines.
    pub(crate) fn poison_cleared(&self, off: u64, phys: u64, len: u64) -> Result {
        let addr = self.at(off, len)?;
        // SAFETY: `addr..addr + len` is inside the mapping (checked above) and `phys` is
        // its physical address, as the caller computed it from the same offset.
        unsafe { glue::rpmem_poison_cleared(addr, phys, len) };
        Ok(())
    }

    /// Copies `seg.len` bytes at `off` into the segment's page, machine-check safe.
    pub(crate) fn read_into(
        &self,
        off: u64,
        seg: &Segment,
    ) -> Result<core::result::Result<(), McError>> {
        let src = self.at(off, seg.len.into())?;
        // SAFETY: `src` is valid for `seg.len` bytes (checked above); the segment's page
        // belongs to a live bio and `offset + len` stays within that page.
        let rem =
            unsafe { glue::rpmem_copy_mc_to_page(seg.page.as_ptr(), seg.offset, src, seg.len) };
        if rem == 0 {
            return Ok(Ok(()));
        }
        let rem = u32::try_from(rem).unwrap_or(seg.len).min(seg.len);
        Ok(Err(McError {
            copied: seg.len - rem,
        }))
    }

    /// Copies the segment's data to `off`, with non-temporal stores.
    pub(crate) fn write_from(&self, off: u64, seg: &Segment) -> Result {
        self.write_page(off, seg.page, seg.offset, seg.len)
    }

    /// Writes `len` bytes of `page` (from `page_off`) to `off`.
    pub(crate) fn write_page(
        &self,
        off: u64,
        page: NonNull<bindings::page>,
        page_off: u32,
        len: u32,
    ) -> Result {
        let dst = self.at(off, len.into())?;
        // SAFETY: `dst` is valid for `len` bytes (checked above); the caller's page is
        // live and `page_off + len` stays within it.
        unsafe { glue::rpmem_copy_page_to_pmem(dst, page.as_ptr(), page_off, len) };
        Ok(())
    }

    /// Writes a page of zeroes at `off` (the shared zero page as the source).
    pub(crate) fn write_zero_page(&self, off: u64) -> Result {
        // SAFETY: `ZERO_PAGE(0)` is always a valid page.
        let zero = unsafe { glue::rpmem_zero_page() };
        let zero = NonNull::new(zero).ok_or(EIO)?;
        self.write_page(off, zero, 0, crate::geometry::PAGE_SIZE_U32)
    }

    /// Copies `bytes` from `iter` to the DAX address `addr` with non-temporal stores,
    /// returning how much was copied. `addr` must have come from [`Self::kaddr`].
    pub(crate) fn copy_from_iter(
        &self,
        addr: *mut c_void,
        bytes: usize,
        iter: *mut bindings::iov_iter,
    ) -> usize {
        let start = self.virt.as_ptr() as usize;
        let a = addr as usize;
        let in_map =
            a >= start && u64::try_from(a - start + bytes).is_ok_and(|end| end <= self.len);
        if !in_map {
            return 0;
        }
        // SAFETY: `addr..addr + bytes` is inside the mapping (checked above); `iter` is
        // the live iov_iter the DAX core passed to `recovery_write`.
        unsafe { glue::rpmem_copy_from_iter_flushcache(addr, bytes, iter) }
    }
}
