// SPDX-License-Identifier: GPL-2.0

//! The clear engine: one page-granular way to write over known poison, used by block
//! writes, `zero_page_range` and `recovery_write`.
//!
//! A poisoned page is never patched in place: the engine composes the page in a bounce
//! buffer (new data where the write covers it, the page's good sectors read back with
//! the machine-check-safe copy) and replaces it. Its contract, whatever the backend:
//!
//! - **Order.** Per page: the bus clear (a platform clear command may leave what it
//!   clears indeterminate), then the page made present again in the kernel's direct map
//!   (`clear_mce_nospec`: a machine check took it out), then the CPU's cached lines
//!   dropped, and only then the store.
//! - **No completed write is undone.** While a page is read back and stored, no other
//!   writer may change it: plain writes pass a [`WriteGate`] the engine closes over the
//!   pages it rewrites.
//! - **Lost stays lost.** A sector that could not be read and that the write does not
//!   cover ([`Fate::Lost`]) is neither stored over nor bus-cleared, so its poison stays
//!   where the platform keeps it (the bus's list, the media): it stays in badblocks and
//!   fails with `EIO` after a rebind or a reboot instead of reading as zeroes. Only the
//!   runs of new, merged and kept sectors ([`store_runs`]) are cleared and stored.
//!
//! A page that took a machine check is, where the namespace is in the direct map, marked
//! HWPoison and unmapped there. While any sector of it stays lost the page stays so (and
//! `direct_access` refuses it): the engine, and reads of the page's good sectors, reach it
//! through a short-lived private mapping of the page (`mce_copy::PageView`), never
//! through the direct map; only once nothing of the page is lost is it made present
//! again. Accesses through that mapping are machine-check safe reads and whole-line
//! stores of the good sectors, so a lost line is never touched.
//!
//! Backends, chosen per device at probe ([`Backend::select`]):
//! - `movdir64b`: 64-byte direct stores replace whole lines without reading them; where
//!   the bus also has a clear command (`+dsm`) it runs first, since the device may keep
//!   the error in its own list;
//! - `dsm`: the bus's clear-error command (`nvdimm_clear_poison`), then the store;
//! - `legacy`: a bus without commands (e820/memmap): the store is all there is (the test
//!   build emulates a platform clear here that scrambles what it clears);
//! - `none`: a bus that cannot clear (QEMU's NFIT): the write fails with `EIO` before
//!   anything changes, and the records stay.
//!
//! Lock order: the device's bounce-page mutex (held for a whole clearing write, which
//! also serialises clears on a device), then the badblocks table's own seqlock. I/O that
//! meets no known poison takes neither: a plain write only enters an RCU read-side
//! section to pass the gate.

use core::sync::atomic::{
    AtomicU64,
    Ordering, //
};
use kernel::prelude::*;

use kernel::sync::rcu;

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

    /// Whether the bus has a clear command, run before the store.
    pub(crate) fn bus_clear(self) -> bool {
        matches!(self, Self::Dsm | Self::Movdir64b { dsm: true })
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

/// Counters of a device, shown in debugfs: poison handling, and the region flushes that
/// `REQ_PREFLUSH` (`flushes`) and `REQ_FUA` (`fua`) bios asked for.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) machine_checks: AtomicU64,
    pub(crate) ranges_recorded: AtomicU64,
    pub(crate) cleared_legacy: AtomicU64,
    pub(crate) cleared_dsm: AtomicU64,
    pub(crate) cleared_movdir64b: AtomicU64,
    pub(crate) recovery_writes: AtomicU64,
    pub(crate) failed_clears: AtomicU64,
    pub(crate) simulated_failures: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) fua: AtomicU64,
}

impl Stats {
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `(name, value)` of every counter, in display order.
    pub(crate) fn snapshot(&self) -> [(&'static str, u64); 10] {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("machine_checks", g(&self.machine_checks)),
            ("ranges_recorded", g(&self.ranges_recorded)),
            ("cleared_legacy", g(&self.cleared_legacy)),
            ("cleared_dsm", g(&self.cleared_dsm)),
            ("cleared_movdir64b", g(&self.cleared_movdir64b)),
            ("recovery_writes", g(&self.recovery_writes)),
            ("failed_clears", g(&self.failed_clears)),
            ("simulated_failures", g(&self.simulated_failures)),
            ("flushes", g(&self.flushes)),
            ("fua", g(&self.fua)),
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
    /// Not covered and poisoned: cannot be read; neither stored over nor cleared, stays
    /// recorded.
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
/// back from `old`. A kept sector whose read fails becomes [`Fate::Lost`]; a merged one
/// fails the whole page with `EIO`. Lost sectors' bytes in `buf` are zeroed and never
/// stored. Returns the final plan.
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

/// The byte ranges of the page that the engine clears and stores: the maximal runs of
/// sectors that are not [`Fate::Lost`], in order.
pub(crate) fn store_runs(fates: &[Fate; SECTORS_PER_PAGE]) -> StoreRuns<'_> {
    StoreRuns { fates, next: 0 }
}

/// Iterator of [`store_runs`].
pub(crate) struct StoreRuns<'a> {
    fates: &'a [Fate; SECTORS_PER_PAGE],
    next: usize,
}

impl Iterator for StoreRuns<'_> {
    type Item = core::ops::Range<usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let f = self.fates;
        let mut i = self.next;
        while i < SECTORS_PER_PAGE && f[i] == Fate::Lost {
            i += 1;
        }
        if i == SECTORS_PER_PAGE {
            self.next = i;
            return None;
        }
        let start = i;
        while i < SECTORS_PER_PAGE && f[i] != Fate::Lost {
            i += 1;
        }
        self.next = i;
        Some(start * SECTOR..i * SECTOR)
    }
}

/// Keeps plain writes off the pages the engine is rewriting (no completed write is
/// undone by a rewrite's store of what it read back).
///
/// A plain write (one that meets no known poison) runs inside an RCU read-side critical
/// section and first checks that the gate is open over its range. The engine closes the
/// gate over its pages, then waits for a grace period: every plain write that could
/// have missed the closing has then finished, and every later one sees it and waits for
/// the engine on its mutex. A plain write costs no lock and no shared write, whether or
/// not poison is known, so poison that appears between a write's badblocks check and its
/// copy is covered too.
pub(crate) struct WriteGate {
    /// The closed range of mapping offsets; `start >= end` when open.
    start: AtomicU64,
    end: AtomicU64,
}

impl WriteGate {
    pub(crate) fn new() -> Self {
        Self {
            start: AtomicU64::new(u64::MAX),
            end: AtomicU64::new(0),
        }
    }

    /// Runs the plain write `f` over mapping offsets `range` unless the engine has the
    /// gate closed over any of it (`None`: wait for the engine, see [`Self::close`]).
    /// `f` must not sleep.
    pub(crate) fn pass<R>(&self, range: core::ops::Range<u64>, f: impl FnOnce() -> R) -> Option<R> {
        let _rcu = rcu::read_lock();
        let (start, end) = (
            self.start.load(Ordering::Acquire),
            self.end.load(Ordering::Acquire),
        );
        if range.start < end && start < range.end {
            return None;
        }
        Some(f())
    }

    /// Closes the gate over `range` until the guard is dropped, and waits for the plain
    /// writes that may have passed it. The caller holds the engine's mutex, so one range
    /// at most is closed at a time. Sleeps.
    pub(crate) fn close(&self, range: core::ops::Range<u64>) -> GateClosed<'_> {
        self.end.store(range.end, Ordering::Release);
        self.start.store(range.start, Ordering::Release);
        rcu::synchronize_rcu();
        GateClosed(self)
    }
}

/// The gate closed by [`WriteGate::close`]; opens it when dropped, after the engine's
/// stores (which the caller has ordered with a store fence).
pub(crate) struct GateClosed<'a>(&'a WriteGate);

impl Drop for GateClosed<'_> {
    fn drop(&mut self) {
        self.0.start.store(u64::MAX, Ordering::Release);
        self.0.end.store(0, Ordering::Release);
    }
}

#[cfg(all(CONFIG_KUNIT, rust_pmem_kunit))]
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

    /// The runs `store_runs` gives for `fates`, as sector ranges.
    fn runs_of(fates: [Fate; SECTORS_PER_PAGE]) -> KVec<(usize, usize)> {
        let mut v = KVec::new();
        for r in store_runs(&fates) {
            assert_eq!(r.start % SECTOR, 0);
            assert_eq!(r.end % SECTOR, 0);
            v.push((r.start / SECTOR, r.end / SECTOR), GFP_KERNEL)
                .expect("allocation");
        }
        v
    }

    #[test]
    fn store_runs_skip_lost_sectors() {
        use Fate::*;
        assert_eq!(&runs_of([New; 8])[..], &[(0, 8)]);
        assert_eq!(&runs_of([Lost; 8])[..], &[]);
        assert_eq!(
            &runs_of([Kept, Lost, New, Merge, Lost, Lost, Kept, Kept])[..],
            &[(0, 1), (2, 4), (6, 8)]
        );
        assert_eq!(
            &runs_of([Lost, Kept, Kept, Kept, Kept, Kept, Kept, Lost])[..],
            &[(1, 7)]
        );
    }

    /// Every mix of new, kept and lost sectors (a sector-aligned write over any run of
    /// sectors, any set of bad sectors, any set of latent ones): the runs stored and
    /// cleared are exactly the sectors that are not lost, a lost sector is one that is
    /// bad or latent and not written, and its bytes are never in a run.
    #[test]
    fn store_runs_every_mix() -> Result {
        let mut buf = [0u8; 4096];
        for first in 0..SECTORS_PER_PAGE {
            for last in first..SECTORS_PER_PAGE {
                let write = first * SECTOR..(last + 1) * SECTOR;
                for bad in 0..=u8::MAX {
                    for latent in [0u8, 0x81, 0x3c, 0xff] {
                        let plan = plan_page(write.clone(), bad)?;
                        let old = FakeOld {
                            poisoned: bad | latent,
                        };
                        let fates = compose(plan, write.clone(), &old, &mut buf, new_byte)?;
                        let mut covered = 0u8;
                        for r in store_runs(&fates) {
                            for i in r.start / SECTOR..r.end / SECTOR {
                                covered |= 1 << i;
                            }
                        }
                        for (i, fate) in fates.iter().enumerate() {
                            let written = (first..=last).contains(&i);
                            let unreadable = (bad | latent) & (1 << i) != 0;
                            let lost = !written && unreadable;
                            assert_eq!((*fate == Fate::Lost), lost);
                            assert_eq!((covered & (1 << i) != 0), !lost);
                            if written {
                                assert_eq!(*fate, Fate::New);
                            }
                        }
                    }
                }
            }
        }
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
        assert!(Backend::Dsm.bus_clear() && Backend::Movdir64b { dsm: true }.bus_clear());
        assert!(!Backend::Legacy.bus_clear() && !Backend::Movdir64b { dsm: false }.bus_clear());
        assert_eq!(Backend::Movdir64b { dsm: false }.store(), Store::Movdir64b);
    }
}
