// SPDX-License-Identifier: GPL-2.0

//! Data movement to and from the media.
//!
//! Every read of pmem goes through `copy_mc_to_kernel`, which survives a machine check
//! on a poisoned line and reports the bytes it could not copy; every write goes through
//! `memcpy_flushcache` (non-temporal stores, nothing left dirty in the CPU cache).
//! [`PmemMap`] is the only handle on the mapping: it bounds-checks every access, so the
//! rest of the driver never touches a raw pmem address.
//!
//! A page that took a machine check is, where the namespace is in the kernel's direct
//! map, marked HWPoison and unmapped there by the kernel's MCE handling; a plain access
//! to it faults. [`PageView`] reaches such a page through a private mapping, for the
//! clear engine and for reads of the page's good sectors.
//!
//! A test build (`--cfg rust_pmem_test`) adds latent poison: sectors planted through
//! debugfs that a read reports exactly as `copy_mc` reports a machine check (a short copy
//! ending at the first poisoned line), since real machine checks cannot be raised under
//! emulation. Like a machine check on hardware, it also takes the page out of the
//! direct map. Rewriting a sector removes its latent poison, as an overwrite would.

use core::ptr::NonNull;
use kernel::{
    bindings,
    prelude::*, //
};

use crate::{
    block::{Bio, Segment},
    glue, //
};

/// How a page is stored when poison is cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    /// Non-temporal stores (`memcpy_flushcache`).
    Flushcache,
    /// 64-byte direct stores (`MOVDIR64B`): whole lines replaced without being read.
    Movdir64b,
}

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
    phys: u64,
    #[cfg(rust_pmem_test)]
    latent: latent::Latent,
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
            phys: info.phys_addr,
            #[cfg(rust_pmem_test)]
            latent: latent::Latent::new()?,
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

    /// Whether the page holding `off` took a machine check and is out of the direct map
    /// (reach it through [`Self::page`]).
    pub(crate) fn page_offline(&self, off: u64) -> bool {
        let Ok(addr) = self.at(off, 1) else {
            return false;
        };
        // SAFETY: `addr` is inside the mapping and `self.phys + off` is its physical
        // address (the mapping is linear from `phys`).
        unsafe { glue::rpmem_page_offline(addr, self.phys + off) }
    }

    /// Whether any page of `off..off + len` is out of the direct map (see
    /// [`Self::page_offline`]).
    pub(crate) fn range_offline(&self, off: u64, len: u64) -> bool {
        let mut page = off - off % PAGE;
        while page < off.saturating_add(len) {
            if self.page_offline(page) {
                return true;
            }
            page += PAGE;
        }
        false
    }

    /// A view of the page at `page_off` (page aligned). Where the namespace is in the
    /// direct map, a page that is out of it, or that has known poison (`poisoned`: the
    /// kernel's machine-check handling may take it out at any moment), is reached
    /// through a private mapping of its own; any other page through the namespace's
    /// mapping. May sleep.
    pub(crate) fn page(&self, page_off: u64, poisoned: bool) -> Result<PageView<'_>> {
        if page_off % PAGE != 0 {
            return Err(EINVAL);
        }
        let direct = self.at(page_off, PAGE)?;
        // SAFETY: `direct` is inside the mapping.
        let in_direct_map = unsafe { glue::rpmem_in_direct_map(direct) };
        let alias = if in_direct_map && (poisoned || self.page_offline(page_off)) {
            // SAFETY: `phys + page_off` is a page of this namespace, which has struct
            // pages (it is in the direct map).
            let a = unsafe { glue::rpmem_alias_map(self.phys + page_off) };
            Some(NonNull::new(a.cast::<u8>()).ok_or(ENOMEM)?)
        } else {
            None
        };
        // INVARIANT: `direct` maps the page (checked above); `alias` is null or maps it.
        Ok(PageView {
            map: self,
            page_off,
            direct: direct.cast(),
            alias,
        })
    }

    /// The result of a machine-check-safe copy of `total` bytes at `off`, cut to `tried`
    /// by planted poison, that left `rem` of those not copied; a cut is an (emulated)
    /// machine check at the first poisoned byte.
    fn copied(
        &self,
        off: u64,
        total: u32,
        tried: u32,
        rem: c_ulong,
    ) -> core::result::Result<(), McError> {
        if tried < total && rem == 0 {
            self.machine_check(off + u64::from(tried));
        }
        short_copy(total, tried, rem)
    }

    /// A copy at `off` stopped on (emulated) poison at `bad`: do to the page what the
    /// kernel's machine-check handling does (test build).
    #[cfg(rust_pmem_test)]
    fn machine_check(&self, bad: u64) {
        if let Ok(addr) = self.at(bad, 1) {
            // SAFETY: `addr` is inside the mapping, `self.phys + bad` its physical address.
            unsafe { glue::rpmem_test_machine_check(addr, self.phys + bad) };
        }
    }

    #[cfg(not(rust_pmem_test))]
    #[inline(always)]
    fn machine_check(&self, _bad: u64) {}

    /// Copies the whole bio's data from `off`, machine-check safe, in one call.
    pub(crate) fn read_bio(
        &self,
        off: u64,
        bio: &Bio,
    ) -> Result<core::result::Result<(), McError>> {
        let (_, total) = bio.span();
        let src = self.at(off, total.into())?;
        let len = self.latent_limit(off, total);
        // SAFETY: `src` is valid for `total >= len` bytes (checked above); the bio is live
        // (borrowed) and its iterator covers `total` bytes of its pages.
        let rem = unsafe { glue::rpmem_copy_mc_to_bio(bio.as_raw(), bio.iter(), src, len) };
        Ok(self.copied(off, total, len, rem))
    }

    /// Stores the whole bio's data at `off` with non-temporal stores, in one call.
    pub(crate) fn write_bio(&self, off: u64, bio: &Bio) -> Result {
        let (_, total) = bio.span();
        let dst = self.at(off, total.into())?;
        // SAFETY: `dst` is valid for `total` bytes (checked above); the bio is live
        // (borrowed) and its iterator covers `total` bytes of its pages.
        unsafe { glue::rpmem_copy_bio_to_pmem(dst, bio.as_raw(), bio.iter(), total) };
        self.latent_forget(off, total.into());
        Ok(())
    }

    /// How many of `len` bytes at `off` can be read before planted latent poison.
    #[cfg(rust_pmem_test)]
    fn latent_limit(&self, off: u64, len: u32) -> u32 {
        self.latent.first_in(off, len.into()).map_or(len, |first| {
            u32::try_from(first.saturating_sub(off))
                .unwrap_or(0)
                .min(len)
        })
    }

    #[cfg(not(rust_pmem_test))]
    #[inline(always)]
    fn latent_limit(&self, _off: u64, len: u32) -> u32 {
        len
    }

    #[cfg(rust_pmem_test)]
    fn latent_forget(&self, off: u64, len: u64) {
        self.latent.remove(off, len);
    }

    #[cfg(not(rust_pmem_test))]
    #[inline(always)]
    fn latent_forget(&self, _off: u64, _len: u64) {}

    /// Plants latent poison on `off..off + len` (test build).
    #[cfg(rust_pmem_test)]
    pub(crate) fn inject_latent(&self, off: u64, len: u64) -> Result {
        self.at(off, len)?;
        self.latent.add(off, len)
    }

    /// Removes latent poison from `off..off + len` (test build).
    #[cfg(rust_pmem_test)]
    pub(crate) fn clear_latent(&self, off: u64, len: u64) -> Result {
        self.at(off, len)?;
        self.latent.remove(off, len);
        Ok(())
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
        self.latent_forget(off, len.into());
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

/// The result of a copy of `total` bytes cut to `tried` (by latent poison) that left
/// `rem` of those not copied (by a machine check).
fn short_copy(total: u32, tried: u32, rem: c_ulong) -> core::result::Result<(), McError> {
    let rem = u64::from(total - tried).saturating_add(u64::try_from(rem).unwrap_or(u64::MAX));
    if rem == 0 {
        return Ok(());
    }
    let rem = u32::try_from(rem).unwrap_or(total).min(total);
    Err(McError {
        copied: total - rem,
    })
}

const PAGE: u64 = crate::geometry::PAGE_SIZE;

/// One page of the media, reached through the namespace's mapping or, while the page is
/// out of the kernel's direct map after a machine check, through a private mapping.
///
/// # Invariants
///
/// `direct` maps the page at `page_off` of `map`; `alias`, when set, is a private
/// mapping of the same page owned by this value.
pub(crate) struct PageView<'a> {
    map: &'a PmemMap,
    page_off: u64,
    direct: *mut u8,
    alias: Option<NonNull<u8>>,
}

impl PageView<'_> {
    /// The address of `in_page..in_page + len`, bounds-checked.
    fn ptr(&self, in_page: usize, len: usize) -> Result<*mut c_void> {
        let end = in_page.checked_add(len).ok_or(EINVAL)?;
        if u64::try_from(end).map_err(|_| EINVAL)? > PAGE {
            return Err(EINVAL);
        }
        let base = self.alias.map_or(self.direct, NonNull::as_ptr);
        // SAFETY: `in_page + len <= PAGE`, and `base` maps a whole page (invariants).
        Ok(unsafe { base.add(in_page) }.cast())
    }

    /// Machine-check-safe read of `buf.len()` bytes at `in_page`.
    pub(crate) fn read(
        &self,
        in_page: usize,
        buf: &mut [u8],
    ) -> Result<core::result::Result<(), McError>> {
        let total = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        let src = self.ptr(in_page, buf.len())?;
        let off = self.page_off + crate::geometry::widen(in_page);
        let len = self.map.latent_limit(off, total);
        // SAFETY: `src` is valid for `total >= len` bytes (checked above) and `buf` for
        // `total` bytes.
        let rem = unsafe { glue::rpmem_copy_mc(buf.as_mut_ptr().cast(), src, len) };
        Ok(self.map.copied(off, total, len, rem))
    }

    /// Drops the CPU's cached copies of `in_page..in_page + len` before they are stored.
    pub(crate) fn invalidate(&self, in_page: usize, len: usize) -> Result {
        let addr = self.ptr(in_page, len)?;
        let len = u32::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: `addr..addr + len` is mapped (checked above).
        unsafe { glue::rpmem_invalidate(addr, len) };
        Ok(())
    }

    /// Stores `buf` at `in_page` (whole 64-byte lines for [`Store::Movdir64b`]).
    pub(crate) fn store(&self, in_page: usize, buf: &[u8], how: Store) -> Result {
        let len = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        if how == Store::Movdir64b && (in_page % 64 != 0 || len % 64 != 0) {
            return Err(EINVAL);
        }
        let dst = self.ptr(in_page, buf.len())?;
        // SAFETY: `dst` is valid for `len` bytes (checked above), `buf` for `len` bytes;
        // MOVDIR64B alignment was checked, and that store is only selected where the CPU
        // has the instruction (see `clear_poison::Backend::select`).
        unsafe {
            match how {
                Store::Flushcache => glue::rpmem_store_flushcache(dst, buf.as_ptr().cast(), len),
                Store::Movdir64b => glue::rpmem_store_movdir64b(dst, buf.as_ptr().cast(), len),
            }
        }
        self.map
            .latent_forget(self.page_off + crate::geometry::widen(in_page), len.into());
        Ok(())
    }

    /// After the bus cleared the page's poison: clear its HWPoison state and map it in
    /// the direct map again (`clear_mce_nospec`). Only for a page with no poison left.
    pub(crate) fn make_present(&self) {
        // SAFETY: `direct` maps the page whose physical address is `phys + page_off`.
        unsafe { glue::rpmem_page_present(self.direct.cast(), self.map.phys + self.page_off) };
    }
}

impl Drop for PageView<'_> {
    fn drop(&mut self) {
        if let Some(alias) = self.alias.take() {
            // SAFETY: By the invariants, this value owns the private mapping.
            unsafe { glue::rpmem_alias_unmap(alias.as_ptr().cast()) };
        }
    }
}

/// Orders the non-temporal stores made so far before any later store (`wmb()`).
pub(crate) fn store_fence() {
    // SAFETY: A store fence has no preconditions.
    unsafe { glue::rpmem_store_fence() };
}

/// `len` as a `u32`, once `from..from + len` is checked to lie within the segment.
fn segment_span(seg: &Segment, from: u32, len: usize) -> Result<u32> {
    let len = u32::try_from(len).map_err(|_| EINVAL)?;
    let end = from.checked_add(len).ok_or(EINVAL)?;
    if end > seg.len {
        return Err(EINVAL);
    }
    Ok(len)
}

/// Copies `buf` into a bio segment's page, `from` bytes into the segment.
pub(crate) fn copy_to_segment(seg: &Segment, from: u32, buf: &[u8]) -> Result {
    let len = segment_span(seg, from, buf.len())?;
    // SAFETY: `buf` is valid for `len` bytes; `seg.offset + from + len` stays within the
    // segment, which lies within its live page.
    unsafe {
        glue::rpmem_copy_to_page(
            seg.page.as_ptr(),
            seg.offset + from,
            buf.as_ptr().cast(),
            len,
        )
    };
    Ok(())
}

/// Copies `buf.len()` bytes of `page` from `off` into `buf` (a bio segment's data).
pub(crate) fn copy_from_segment(buf: &mut [u8], seg: &Segment, from: u32) -> Result {
    let len = segment_span(seg, from, buf.len())?;
    // SAFETY: `buf` is valid for `len` bytes; `seg.offset + from + len` stays within the
    // segment, which lies within its live page.
    unsafe {
        glue::rpmem_copy_from_page(
            buf.as_mut_ptr().cast(),
            seg.page.as_ptr(),
            seg.offset + from,
            len,
        )
    };
    Ok(())
}

/// Copies up to `buf.len()` bytes from a recovery write's `iov_iter` into `buf`; the
/// number copied.
pub(crate) fn copy_from_iter(buf: &mut [u8], iter: *mut bindings::iov_iter) -> usize {
    // SAFETY: `buf` is valid for its length; `iter` is the live iov_iter the DAX core
    // passed to `recovery_write`.
    unsafe { glue::rpmem_copy_from_iter(buf.as_mut_ptr().cast(), buf.len(), iter) }
}

#[cfg(rust_pmem_test)]
mod latent {
    //! The test build's latent poison: sector-aligned byte ranges of the mapping.

    use core::sync::atomic::{
        AtomicBool,
        Ordering, //
    };
    use kernel::{
        new_spinlock,
        prelude::*,
        sync::SpinLock, //
    };

    const SECTOR: u64 = crate::geometry::SECTOR_SIZE;
    const MAX_SECTORS: usize = 4096;

    pub(super) struct Latent {
        any: AtomicBool,
        sectors: Pin<KBox<SpinLock<KVec<u64>>>>,
    }

    impl Latent {
        pub(super) fn new() -> Result<Self> {
            Ok(Self {
                any: AtomicBool::new(false),
                sectors: KBox::pin_init(new_spinlock!(KVec::new()), GFP_KERNEL)?,
            })
        }

        /// The first poisoned byte in `off..off + len`.
        pub(super) fn first_in(&self, off: u64, len: u64) -> Option<u64> {
            if !self.any.load(Ordering::Acquire) {
                return None;
            }
            let end = off.saturating_add(len);
            let guard = self.sectors.lock();
            guard
                .iter()
                .copied()
                .filter(|&s| s < end && s + SECTOR > off)
                .min()
                .map(|s| s.max(off))
        }

        pub(super) fn add(&self, off: u64, len: u64) -> Result {
            let first = off / SECTOR * SECTOR;
            let end = off.checked_add(len).ok_or(EINVAL)?.div_ceil(SECTOR) * SECTOR;
            let mut guard = self.sectors.lock();
            let mut s = first;
            while s < end {
                if !guard.contains(&s) {
                    if guard.len() >= MAX_SECTORS {
                        return Err(ENOSPC);
                    }
                    guard.push(s, GFP_ATOMIC)?;
                }
                s += SECTOR;
            }
            self.any.store(!guard.is_empty(), Ordering::Release);
            Ok(())
        }

        pub(super) fn remove(&self, off: u64, len: u64) {
            if !self.any.load(Ordering::Acquire) {
                return;
            }
            let end = off.saturating_add(len);
            let mut guard = self.sectors.lock();
            guard.retain(|s| !(*s >= off && *s + SECTOR <= end));
            self.any.store(!guard.is_empty(), Ordering::Release);
        }
    }
}
