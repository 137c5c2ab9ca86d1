// SPDX-License-Identifier: GPL-2.0

//! Data movement to and from the media.
//!
//! Every read of pmem goes through `copy_mc_to_kernel`, which survives a machine check
//! on a poisoned line and reports the bytes it could not copy; every write goes through
//! `memcpy_flushcache` (non-temporal stores, nothing left dirty in the CPU cache).
//! [`PmemMap`] is the only handle on the mapping: it bounds-checks every access, so the
//! rest of the driver never touches a raw pmem address.
//!
//! A test build (`--cfg rust_pmem_test`) adds latent poison: sectors planted through
//! debugfs that a read reports exactly as `copy_mc` reports a machine check (a short copy
//! ending at the first poisoned line), since real machine checks cannot be raised under
//! emulation. Rewriting a sector removes its latent poison, as an overwrite would.

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

    /// After the platform cleared poison in `off..off + len` (physical address `phys`):
    /// make poisoned pages present again and drop stale cache lines.
    pub(crate) fn poison_cleared(&self, off: u64, phys: u64, len: u64) -> Result {
        let addr = self.at(off, len)?;
        // SAFETY: `addr..addr + len` is inside the mapping (checked above) and `phys` is
        // its physical address, as the caller computed it from the same offset.
        unsafe { glue::rpmem_poison_cleared(addr, phys, len) };
        Ok(())
    }

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
        Ok(short_copy(total, len, rem))
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

    /// Machine-check-safe copy of `buf.len()` bytes at `off` into `buf`.
    pub(crate) fn read_buf(
        &self,
        off: u64,
        buf: &mut [u8],
    ) -> Result<core::result::Result<(), McError>> {
        let total = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        let src = self.at(off, total.into())?;
        let len = self.latent_limit(off, total);
        // SAFETY: `src` is valid for `total >= len` bytes (checked above) and `buf` for
        // `total` bytes.
        let rem = unsafe { glue::rpmem_copy_mc(buf.as_mut_ptr().cast(), src, len) };
        Ok(short_copy(total, len, rem))
    }

    /// Stores `buf` at `off` (64-byte aligned for [`Store::Movdir64b`]).
    pub(crate) fn store(&self, off: u64, buf: &[u8], how: Store) -> Result {
        let len = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        if how == Store::Movdir64b && (off % 64 != 0 || len % 64 != 0) {
            return Err(EINVAL);
        }
        let dst = self.at(off, len.into())?;
        // SAFETY: `dst` is valid for `len` bytes (checked above), `buf` for `len` bytes;
        // MOVDIR64B alignment was checked, and that store is only selected where the CPU
        // has the instruction (see `clear_poison::Backend::select`).
        unsafe {
            match how {
                Store::Flushcache => glue::rpmem_store_flushcache(dst, buf.as_ptr().cast(), len),
                Store::Movdir64b => glue::rpmem_store_movdir64b(dst, buf.as_ptr().cast(), len),
            }
        }
        self.latent_forget(off, len.into());
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

/// Copies `buf.len()` bytes of `page` from `off` into `buf` (a bio segment's data).
pub(crate) fn copy_from_segment(buf: &mut [u8], seg: &Segment, from: u32) -> Result {
    let len = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
    let end = from.checked_add(len).ok_or(EINVAL)?;
    if end > seg.len {
        return Err(EINVAL);
    }
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
