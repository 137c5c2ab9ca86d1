// SPDX-License-Identifier: GPL-2.0

//! The badblocks table of a namespace: the sectors known to be poisoned.
//!
//! Filled from the bus (ARS results, the MCE notifier, nfit_test) at probe and on
//! `NVDIMM_REVALIDATE_POISON`, and by the block layer itself: attached as the disk's
//! `bb`, the table backs `/sys/block/pmemN/badblocks`, whose writes ("SECTOR LEN") genhd
//! parses and adds. Reads over a bad range fail fast; writes clear first. Sectors are
//! the disk's (relative to the data offset). The table has its own seqlock, so every
//! method takes `&self` and may race with I/O.

use core::{
    ptr::NonNull,
    sync::atomic::{
        AtomicPtr,
        Ordering, //
    },
};
use kernel::{
    error::from_err_ptr,
    prelude::*, //
};

use crate::{
    block::Disk,
    glue,
    nd::NdDevice, //
};

/// The first bad range found in a checked span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadRange {
    pub(crate) first: u64,
    pub(crate) len: u64,
}

/// A devm-owned `struct badblocks` and the disk's `badblocks` sysfs node.
///
/// # Invariants
///
/// `bb` was initialised by `devm_init_badblocks` for a device that stays bound while
/// this value lives; `count` points to its `count` field; `state` is null or a kernfs
/// node reference owned by this value.
pub(crate) struct BadBlocks {
    bb: NonNull<glue::Badblocks>,
    count: NonNull<c_int>,
    state: AtomicPtr<glue::KernfsNode>,
}

// SAFETY: The badblocks API serialises with its own seqlock; the kernfs node pointer is
// accessed atomically.
unsafe impl Send for BadBlocks {}
// SAFETY: See above.
unsafe impl Sync for BadBlocks {}

impl BadBlocks {
    /// An empty table owned (devm) by `nd`.
    pub(crate) fn new(nd: &NdDevice) -> Result<Self> {
        // SAFETY: `nd` is the device being probed; the table is devm-released after
        // remove, which is after this value (part of the driver data) is dropped.
        let bb = from_err_ptr(unsafe { glue::rpmem_badblocks_new(nd.raw()) })?;
        let bb = NonNull::new(bb).ok_or(ENOMEM)?;
        // SAFETY: `bb` is live (initialised above).
        let count = unsafe { glue::rpmem_badblocks_count(bb.as_ptr()) };
        let count = NonNull::new(count).ok_or(EINVAL)?;
        // INVARIANT: initialised above, `count` is its field, no sysfs node yet.
        Ok(Self {
            bb,
            count,
            state: AtomicPtr::new(core::ptr::null_mut()),
        })
    }

    /// Adds the bus's bad ranges within the physical range `start..=end`.
    pub(crate) fn populate(&self, nd: &NdDevice, start: u64, end: u64) {
        // SAFETY: By the invariants, the table is live; `nd` is its bound device.
        unsafe { glue::rpmem_badblocks_populate(nd.raw(), self.bb.as_ptr(), start, end) };
        self.notify();
    }

    /// Whether any bad range is recorded at all: `bb->count` read once, as pmem.c's
    /// `is_bad_pmem()` reads it, without a call out (this runs for every segment).
    pub(crate) fn any(&self) -> bool {
        // SAFETY: By the invariants, the table is live and `count` points to its `count`
        // field, a valid `int`. It is written under the table's lock; a volatile read is
        // `READ_ONCE()`, and a stale answer is the race pmem.c accepts too (the range is
        // checked under the lock by `badblocks_check()` whenever the count is non-zero).
        unsafe { core::ptr::read_volatile(self.count.as_ptr()) != 0 }
    }

    /// The first bad range overlapping `sector..sector + nr`, if any.
    pub(crate) fn check(&self, sector: u64, nr: u64) -> Option<BadRange> {
        if !self.any() {
            return None;
        }
        let (mut first, mut len) = (0, 0);
        // SAFETY: By the invariants, the table is live; the out-pointers are valid.
        let bad = unsafe {
            glue::rpmem_badblocks_check(self.bb.as_ptr(), sector, nr, &mut first, &mut len)
        };
        bad.then_some(BadRange { first, len })
    }

    /// Records `sector..sector + nr` as bad (acknowledged) and tells sysfs pollers.
    pub(crate) fn set(&self, sector: u64, nr: u64) {
        if nr == 0 {
            return;
        }
        // SAFETY: By the invariants, the table is live.
        unsafe { glue::rpmem_badblocks_set(self.bb.as_ptr(), sector, nr) };
        self.notify();
    }

    /// Forgets `sector..sector + nr` and tells sysfs pollers.
    pub(crate) fn clear(&self, sector: u64, nr: u64) {
        if nr == 0 {
            return;
        }
        // SAFETY: By the invariants, the table is live.
        unsafe { glue::rpmem_badblocks_clear(self.bb.as_ptr(), sector, nr) };
        self.notify();
    }

    /// Makes the table the disk's `bb` (before the disk is added).
    pub(crate) fn attach(&self, disk: &Disk) {
        // SAFETY: The table outlives the disk: it is devm-released after remove, and
        // the disk is deleted in remove.
        unsafe { glue::rpmem_disk_set_bb(disk.as_raw(), self.bb.as_ptr()) };
    }

    /// Looks up the added disk's `badblocks` attribute for change notifications.
    pub(crate) fn watch(&self, nd: &NdDevice, disk: &Disk) {
        // SAFETY: The disk is added, so its kobject has a sysfs directory.
        let kn = unsafe { glue::rpmem_bb_state_get(disk.as_raw()) };
        if kn.is_null() {
            dev_warn!(nd.dev(), "'badblocks' notification disabled\n");
        }
        // INVARIANT: the reference taken above is now owned here.
        let old = self.state.swap(kn, Ordering::AcqRel);
        Self::put(old);
    }

    fn notify(&self) {
        let kn = self.state.load(Ordering::Acquire);
        if !kn.is_null() {
            // SAFETY: By the invariants, a non-null `state` is a node reference we own.
            unsafe { glue::rpmem_bb_state_notify(kn) };
        }
    }

    fn put(kn: *mut glue::KernfsNode) {
        if !kn.is_null() {
            // SAFETY: The caller hands over a reference it owned.
            unsafe { glue::rpmem_bb_state_put(kn) };
        }
    }
}

impl Drop for BadBlocks {
    fn drop(&mut self) {
        Self::put(self.state.swap(core::ptr::null_mut(), Ordering::AcqRel));
    }
}
