// SPDX-License-Identifier: GPL-2.0

//! Staging wrapper for a bio-based gendisk: the disk's lifetime ([`Disk`]), the bios the
//! block layer submits ([`Bio`]) and their single-page segments ([`Segment`]).
//!
//! `submit_bio` lands in [`rpmem_rs_submit_bio`], which hands an owned [`Bio`] to
//! [`crate::Pmem::submit_bio`]; a `Bio` is ended exactly once, by [`Bio::end`] or by
//! handing it to an asynchronous flush.

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
    glue,
    nd::{
        Namespace, //
        NdDevice,
    },
};

/// Queue limits and features of a new disk (pmem.c's `pmem_attach_disk`).
pub(crate) struct DiskConfig {
    pub(crate) logical_block_size: u32,
    pub(crate) numa_node: i32,
    pub(crate) fua: bool,
    pub(crate) dax: bool,
    pub(crate) nowait: bool,
    pub(crate) sectors: u64,
}

/// A gendisk owned by the driver.
///
/// # Invariants
///
/// `raw` came from `blk_alloc_disk` and this value holds its reference; `added` is true
/// exactly when `device_add_disk` succeeded and `del_gendisk` has not run.
pub(crate) struct Disk {
    raw: NonNull<bindings::gendisk>,
    added: bool,
}

// SAFETY: A gendisk may be added, deleted and put from any thread.
unsafe impl Send for Disk {}
// SAFETY: `&Disk` only reads the pointer; the disk's own locks serialise its state.
unsafe impl Sync for Disk {}

impl Disk {
    /// Allocates a disk for `ns`, named as nd_pmem names it (`pmemN[.M][s]`), whose
    /// bios go to `data`.
    ///
    /// `data` must stay valid until this `Disk` is dropped.
    pub(crate) fn new(ns: &Namespace, cfg: &DiskConfig, data: &crate::Pmem) -> Result<Self> {
        let c = glue::DiskCfg {
            logical_block_size: cfg.logical_block_size,
            nid: cfg.numa_node,
            fua: cfg.fua,
            dax: cfg.dax,
            nowait: cfg.nowait,
            sectors: cfg.sectors,
        };
        let data = core::ptr::from_ref(data).cast::<c_void>();
        // SAFETY: `ns` is the namespace being attached; `c` is valid for the call. The
        // callers keep `data` alive longer than the disk (field order of PmemDevice).
        let raw = from_err_ptr(unsafe { glue::rpmem_alloc_disk(ns.as_raw(), &c, data) })?;
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // INVARIANT: freshly allocated, not yet added.
        Ok(Self { raw, added: false })
    }

    /// `device_add_disk()` under the nd device, with the `dax/` attribute group.
    pub(crate) fn add(&mut self, parent: &NdDevice) -> Result {
        // SAFETY: `raw` is a live, not yet added disk; `parent` is the bound device.
        to_result(unsafe { glue::rpmem_add_disk(parent.raw(), self.raw.as_ptr()) })?;
        // INVARIANT: added successfully.
        self.added = true;
        Ok(())
    }

    /// Applies the region's read-only state (`nvdimm_check_and_set_ro`).
    pub(crate) fn check_and_set_ro(&self) {
        if self.added {
            // SAFETY: The disk is live and added.
            unsafe { glue::rpmem_check_and_set_ro(self.raw.as_ptr()) }
        }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::gendisk {
        self.raw.as_ptr()
    }

    /// The disk's name (`pmemN`).
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: `disk_name` is a NUL-terminated array inside the live gendisk, set at
        // allocation and never changed; it lives as long as `self`.
        unsafe { CStr::from_char_ptr(glue::rpmem_disk_name(self.raw.as_ptr())) }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        // SAFETY: By the invariants, `raw` is ours; `del_gendisk` waits for bios in flight
        // and runs only for an added disk, `put_disk` drops our reference.
        unsafe {
            if self.added {
                glue::rpmem_del_disk(self.raw.as_ptr());
            }
            glue::rpmem_put_disk(self.raw.as_ptr());
        }
    }
}

/// A bio submitted to the driver, owned until ended.
///
/// # Invariants
///
/// `raw` is a live bio that the block layer handed to `submit_bio` and nobody has ended.
pub(crate) struct Bio {
    raw: NonNull<bindings::bio>,
    info: glue::BioInfo,
}

impl Bio {
    pub(crate) fn is_write(&self) -> bool {
        self.info.flags & glue::BIO_WRITE != 0
    }

    pub(crate) fn has_data(&self) -> bool {
        self.info.flags & glue::BIO_DATA != 0
    }

    pub(crate) fn is_preflush(&self) -> bool {
        self.info.flags & glue::BIO_PREFLUSH != 0
    }

    pub(crate) fn is_fua(&self) -> bool {
        self.info.flags & glue::BIO_FUA != 0
    }

    /// `REQ_NOWAIT`: the submitter must not be made to sleep; end with `EAGAIN` instead.
    pub(crate) fn is_nowait(&self) -> bool {
        self.info.flags & glue::BIO_NOWAIT != 0
    }

    /// First sector and length in bytes of the bio's data.
    pub(crate) fn span(&self) -> (u64, u32) {
        (self.info.sector, self.info.size)
    }

    /// Starts I/O accounting if the queue has iostats on (0 when off); pass the result
    /// to [`Self::end_acct`].
    pub(crate) fn start_acct(&self) -> c_ulong {
        if self.info.flags & glue::BIO_ACCT == 0 {
            return 0;
        }
        // SAFETY: By the invariants, the bio is live.
        unsafe { glue::rpmem_bio_start_acct(self.raw.as_ptr()) }
    }

    pub(crate) fn end_acct(&self, start: c_ulong) {
        if start == 0 {
            return;
        }
        // SAFETY: By the invariants, the bio is live; `start` came from `start_acct`.
        unsafe { glue::rpmem_bio_end_acct(self.raw.as_ptr(), start) }
    }

    /// Where the bio's data starts (its `bi_iter` when it was submitted).
    pub(crate) fn iter(&self) -> &bindings::bvec_iter {
        &self.info.iter
    }

    /// The bio's segments, one page or less each, with their start sectors.
    pub(crate) fn segments(&self) -> Segments<'_> {
        Segments {
            bio: self,
            iter: self.info.iter,
        }
    }

    /// The raw bio, for a region flush that may complete it (see
    /// [`NdDevice::flush_for`]).
    pub(crate) fn as_raw(&self) -> *mut bindings::bio {
        self.raw.as_ptr()
    }

    /// Gives up ownership after an asynchronous flush took over the bio's completion.
    pub(crate) fn handed_off(self) {
        core::mem::forget(self);
    }

    /// Ends the bio with `res` (an errno becomes a `blk_status_t`).
    pub(crate) fn end(self, res: Result) {
        let err = match res {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        // SAFETY: By the invariants, the bio is live and not ended; `self` is consumed,
        // so it is ended exactly once.
        unsafe { glue::rpmem_bio_endio(self.raw.as_ptr(), err) };
        core::mem::forget(self);
    }
}

impl Drop for Bio {
    fn drop(&mut self) {
        // A bio must never be lost: if the driver forgot it, end it with an I/O error.
        // SAFETY: By the invariants, the bio is live and not yet ended.
        unsafe { glue::rpmem_bio_endio(self.raw.as_ptr(), EIO.to_errno()) };
    }
}

/// One single-page piece of a bio's data.
pub(crate) struct Segment {
    pub(crate) page: NonNull<bindings::page>,
    pub(crate) offset: u32,
    pub(crate) len: u32,
    pub(crate) sector: u64,
}

/// Iterator over a bio's segments (`bio_for_each_segment`).
pub(crate) struct Segments<'a> {
    bio: &'a Bio,
    iter: bindings::bvec_iter,
}

impl Iterator for Segments<'_> {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        // The end, without a call out (the common 4k bio has one segment).
        if self.iter.bi_size == 0 {
            return None;
        }
        let mut seg = glue::Seg {
            page: core::ptr::null_mut(),
            offset: 0,
            len: 0,
            sector: 0,
        };
        // SAFETY: The bio is live (borrowed from `Bio`); `iter` was initialised from it.
        if !unsafe { glue::rpmem_bio_next(self.bio.raw.as_ptr(), &mut self.iter, &mut seg) } {
            return None;
        }
        Some(Segment {
            page: NonNull::new(seg.page)?,
            offset: seg.offset,
            len: seg.len,
            sector: seg.sector,
        })
    }
}

/// `submit_bio` of the disk's `block_device_operations` (its C side fills `info`).
#[no_mangle]
extern "C" fn rpmem_rs_submit_bio(
    data: *mut c_void,
    bio: *mut bindings::bio,
    info: *const glue::BioInfo,
) {
    let Some(raw) = NonNull::new(bio) else { return };
    // SAFETY: `info` points to the C caller's `struct rpmem_bio_info` for this bio,
    // filled and live for the call.
    let info = unsafe { core::ptr::read(info) };
    // INVARIANT: The block layer hands us a live bio to complete.
    let bio = Bio { raw, info };
    // SAFETY: `data` is the disk's private data, the `Pmem` the disk was created for,
    // which outlives the disk (and so every bio submitted to it).
    let pmem = unsafe { &*data.cast::<crate::Pmem>() };
    pmem.submit_bio(bio);
}
