// SPDX-License-Identifier: GPL-2.0

//! The clear engine: one page-granular way to write over known poison, used by block
//! writes, `zero_page_range` and `recovery_write`.
//!
//! A poisoned page is never patched in place: the engine composes the whole page in a
//! bounce buffer (new data where the write covers it, the page's good sectors read back
//! with the machine-check-safe copy, zeroes for sectors that cannot be read) and replaces
//! the page with one store, after or before the platform's clear as the backend needs.
//! Sectors that could not be read stay recorded as bad, so their reads keep failing
//! instead of returning invented data; everything the write covered, or that was read
//! back, leaves the badblocks table.
//!
//! Backends, chosen per device at probe ([`Backend::select`]):
//! - `movdir64b`: 64-byte direct stores replace whole lines without reading them; where
//!   the bus also has a clear command (`+dsm`) it is called after the store, since the
//!   device may keep the error in its own list;
//! - `dsm`: the bus's clear-error command (`nvdimm_clear_poison`), then the store;
//! - `legacy`: a bus without commands (e820/memmap): the store is all there is;
//! - `none`: a bus that cannot clear (QEMU's NFIT): the write fails with `EIO` before
//!   anything changes, and the records stay.
//!
//! Lock order: the device's bounce-page mutex (held for a whole clearing write, which
//! also serialises clears on a device), then the badblocks table's own seqlock. I/O that
//! meets no known poison takes neither.

use core::sync::atomic::{
    AtomicU64,
    Ordering, //
};
use kernel::prelude::*;

use crate::{
    geometry::{
        PAGE_BYTES,
        PAGE_SIZE,
        SECTOR_SIZE, //
    },
    glue,
    mce_copy::{
        McError,
        Store, //
    },
};

/// Sectors in a page.
pub(crate) const SECTORS_PER_PAGE: usize = PAGE_BYTES / SECTOR;
const SECTOR: usize = 512;
const _: () = assert!(SECTOR as u64 == SECTOR_SIZE && PAGE_BYTES as u64 == PAGE_SIZE);

/// How a device clears poison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// MOVDIR64B stores, followed by the bus clear command when `dsm` is set.
    Movdir64b { dsm: bool },
    /// The bus's clear-error command, then a normal store.
    Dsm,
    /// No bus commands (e820): the store clears.
    Legacy,
    /// Cannot clear.
    None,
}

impl Backend {
    /// The backend for a device with the capabilities `caps` (`glue::CLEAR_*`).
    pub(crate) fn select(caps: u32) -> Self {
        let dsm = caps & glue::CLEAR_DSM != 0;
        if caps & glue::CLEAR_MOVDIR64B != 0 && (dsm || caps & glue::CLEAR_LEGACY != 0) {
            Self::Movdir64b { dsm }
        } else if dsm {
            Self::Dsm
        } else if caps & glue::CLEAR_LEGACY != 0 {
            Self::Legacy
        } else {
            Self::None
        }
    }

    /// The name shown in debugfs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Movdir64b { dsm: true } => "movdir64b+dsm",
            Self::Movdir64b { dsm: false } => "movdir64b",
            Self::Dsm => "dsm",
            Self::Legacy => "legacy",
            Self::None => "none",
        }
    }

    /// The store that replaces a page.
    pub(crate) fn store(self) -> Store {
        match self {
            Self::Movdir64b { .. } => Store::Movdir64b,
            _ => Store::Flushcache,
        }
    }

    /// Whether the bus clear command runs before the store.
    pub(crate) fn dsm_before(self) -> bool {
        self == Self::Dsm
    }

    /// Whether the bus clear command runs after the store.
    pub(crate) fn dsm_after(self) -> bool {
        self == (Self::Movdir64b { dsm: true })
    }

    fn counter(self, stats: &Stats) -> &AtomicU64 {
        match self {
            Self::Movdir64b { .. } => &stats.cleared_movdir64b,
            Self::Dsm => &stats.cleared_dsm,
            _ => &stats.cleared_legacy,
        }
    }

    /// Counts one page cleared through this backend.
    pub(crate) fn count_cleared(self, stats: &Stats) {
        Stats::inc(self.counter(stats));
    }
}

/// Poison counters of a device, shown in debugfs.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) machine_checks: AtomicU64,
    pub(crate) ranges_recorded: AtomicU64,
    pub(crate) cleared_legacy: AtomicU64,
    pub(crate) cleared_dsm: AtomicU64,
    pub(crate) cleared_movdir64b: AtomicU64,
    pub(crate) recovery_writes: AtomicU64,
    pub(crate) failed_clears: AtomicU64,
}

impl Stats {
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `(name, value)` of every counter, in display order.
    pub(crate) fn snapshot(&self) -> [(&'static str, u64); 7] {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("machine_checks", g(&self.machine_checks)),
            ("ranges_recorded", g(&self.ranges_recorded)),
            ("cleared_legacy", g(&self.cleared_legacy)),
            ("cleared_dsm", g(&self.cleared_dsm)),
            ("cleared_movdir64b", g(&self.cleared_movdir64b)),
            ("recovery_writes", g(&self.recovery_writes)),
            ("failed_clears", g(&self.failed_clears)),
        ]
    }
}

/// What becomes of one sector of a page that is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Wholly covered by the write.
    New,
    /// Partly covered: the rest of the sector is read back and merged.
    Merge,
    /// Not covered and readable: read back unchanged.
    Kept,
    /// Not covered and poisoned: cannot be read; stays recorded (zeroes on the media).
    Lost,
}

/// Plans the rewrite of a page: `write` is the byte range of the page the write covers,
/// bit `i` of `bad` says sector `i` is known bad. A partly covered bad sector cannot be
/// merged (its other bytes are unreadable), which is `EIO`.
pub(crate) fn plan_page(
    write: core::ops::Range<usize>,
    bad: u8,
) -> Result<[Fate; SECTORS_PER_PAGE]> {
    if write.start >= write.end || write.end > SECTORS_PER_PAGE * SECTOR {
        return Err(EINVAL);
    }
    let mut plan = [Fate::Kept; SECTORS_PER_PAGE];
    for (i, fate) in plan.iter_mut().enumerate() {
        let (s, e) = (i * SECTOR, (i + 1) * SECTOR);
        let is_bad = bad & (1 << i) != 0;
        *fate = if write.start <= s && e <= write.end {
            Fate::New
        } else if write.start < e && s < write.end {
            if is_bad {
                return Err(EIO);
            }
            Fate::Merge
        } else if is_bad {
            Fate::Lost
        } else {
            Fate::Kept
        };
    }
    Ok(plan)
}

/// Where the engine reads back old sectors.
pub(crate) trait OldData {
    /// Machine-check-safe read of sector `i` of the page into `buf`.
    fn read_sector(&self, i: usize, buf: &mut [u8]) -> core::result::Result<(), McError>;
}

/// Composes a page in `buf` following `plan`: `fill(range, chunk)` writes the new bytes
/// of `range` (byte offsets in the page) into `chunk`; kept and merged sectors are read
/// back from `old`. A kept sector whose read fails becomes [`Fate::Lost`] (zeroes); a
/// merged one fails the whole page with `EIO`. Returns the final plan.
pub(crate) fn compose<O: OldData>(
    plan: [Fate; SECTORS_PER_PAGE],
    write: core::ops::Range<usize>,
    old: &O,
    buf: &mut [u8],
    mut fill: impl FnMut(core::ops::Range<usize>, &mut [u8]) -> Result,
) -> Result<[Fate; SECTORS_PER_PAGE]> {
    if buf.len() != SECTORS_PER_PAGE * SECTOR {
        return Err(EINVAL);
    }
    let mut out = plan;
    for (i, (fate, chunk)) in out.iter_mut().zip(buf.chunks_mut(SECTOR)).enumerate() {
        let (s, e) = (i * SECTOR, (i + 1) * SECTOR);
        match *fate {
            Fate::New => fill(s..e, chunk)?,
            Fate::Merge => {
                old.read_sector(i, chunk).map_err(|_| EIO)?;
                let (ws, we) = (write.start.max(s), write.end.min(e));
                fill(ws..we, &mut chunk[ws - s..we - s])?;
            }
            Fate::Kept => {
                if old.read_sector(i, chunk).is_err() {
                    chunk.fill(0);
                    *fate = Fate::Lost;
                }
            }
            Fate::Lost => chunk.fill(0),
        }
    }
    Ok(out)
}

#[cfg(CONFIG_KUNIT)]
#[kunit_tests(rust_pmem_clear_poison)]
mod tests {
    use super::*;

    /// Old page content: sector `i` holds the byte `i + 1`; `poisoned` sectors fail.
    struct FakeOld {
        poisoned: u8,
    }

    impl OldData for FakeOld {
        fn read_sector(&self, i: usize, buf: &mut [u8]) -> core::result::Result<(), McError> {
            if self.poisoned & (1 << i) != 0 {
                return Err(McError { copied: 0 });
            }
            buf.fill(i as u8 + 1);
            Ok(())
        }
    }

    fn new_byte(_r: core::ops::Range<usize>, chunk: &mut [u8]) -> Result {
        chunk.fill(0xee);
        Ok(())
    }

    #[test]
    fn plan_subpage_write_keeps_neighbours() -> Result {
        // A 512-byte write to sector 2; sector 5 is known bad.
        let plan = plan_page(1024..1536, 1 << 5)?;
        assert_eq!(plan[2], Fate::New);
        assert_eq!(plan[5], Fate::Lost);
        assert_eq!(plan[0], Fate::Kept);
        assert_eq!(plan[7], Fate::Kept);
        Ok(())
    }

    #[test]
    fn plan_write_covering_poison() -> Result {
        let plan = plan_page(2560..3072, 1 << 5)?;
        assert_eq!(
            plan,
            [
                Fate::Kept,
                Fate::Kept,
                Fate::Kept,
                Fate::Kept,
                Fate::Kept,
                Fate::New,
                Fate::Kept,
                Fate::Kept
            ]
        );
        Ok(())
    }

    #[test]
    fn plan_partial_bad_sector_refused() {
        // 100 bytes into sector 1, which is bad: its other bytes are unreadable.
        assert!(plan_page(612..712, 1 << 1).is_err());
        assert_eq!(plan_page(612..712, 0).map(|p| p[1]), Ok(Fate::Merge));
        assert!(plan_page(0..0, 0).is_err());
        assert!(plan_page(0..4097, 0).is_err());
    }

    #[test]
    fn compose_merges_and_marks_lost() -> Result {
        let mut buf = [0u8; 4096];
        // Write 100 bytes into sector 1; sector 5 recorded bad; sector 6 latent poison.
        let plan = plan_page(612..712, 1 << 5)?;
        let old = FakeOld {
            poisoned: (1 << 5) | (1 << 6),
        };
        let out = compose(plan, 612..712, &old, &mut buf, new_byte)?;
        assert_eq!(out[1], Fate::Merge);
        assert_eq!(out[5], Fate::Lost);
        assert_eq!(out[6], Fate::Lost);
        assert_eq!(buf[0], 1);
        assert_eq!(buf[512], 2);
        assert_eq!(buf[612], 0xee);
        assert_eq!(buf[711], 0xee);
        assert_eq!(buf[712], 2);
        assert_eq!(buf[5 * 512], 0);
        assert_eq!(buf[7 * 512], 8);
        Ok(())
    }

    #[test]
    fn compose_merge_over_latent_poison_fails() -> Result {
        let mut buf = [0u8; 4096];
        let plan = plan_page(612..712, 0)?;
        let old = FakeOld { poisoned: 1 << 1 };
        assert!(compose(plan, 612..712, &old, &mut buf, new_byte).is_err());
        Ok(())
    }

    #[test]
    fn backend_selection() {
        assert_eq!(Backend::select(glue::CLEAR_LEGACY), Backend::Legacy);
        assert_eq!(Backend::select(glue::CLEAR_DSM), Backend::Dsm);
        assert_eq!(Backend::select(0), Backend::None);
        assert_eq!(
            Backend::select(glue::CLEAR_MOVDIR64B | glue::CLEAR_DSM),
            Backend::Movdir64b { dsm: true }
        );
        assert_eq!(
            Backend::select(glue::CLEAR_MOVDIR64B | glue::CLEAR_LEGACY),
            Backend::Movdir64b { dsm: false }
        );
        // MOVDIR64B alone cannot take the error out of a bus that keeps its own list
        // and has no clear command.
        assert_eq!(Backend::select(glue::CLEAR_MOVDIR64B), Backend::None);
        assert!(Backend::Dsm.dsm_before() && !Backend::Dsm.dsm_after());
        assert!(Backend::Movdir64b { dsm: true }.dsm_after());
        assert_eq!(Backend::Movdir64b { dsm: false }.store(), Store::Movdir64b);
    }
}
