// SPDX-License-Identifier: GPL-2.0

//! rust_pmem: a persistent memory block and DAX driver, the Rust twin of
//! `drivers/nvdimm/pmem.c` (nd_pmem).
//!
//! It binds the nvdimm bus's pmem and io namespaces (and their btt and pfn claims) and
//! gives each a bio-based `/dev/pmemN` whose I/O is a copy to or from the media: reads
//! with the machine-check-safe `copy_mc_to_kernel`, writes with `memcpy_flushcache`,
//! `REQ_PREFLUSH`/`REQ_FUA` through the region's flush. Where the namespace has struct
//! pages (memmap regions, fsdax namespaces) it also serves DAX, so filesystems mount
//! with `-o dax` and `MAP_SYNC` works.
//!
//! Probe mirrors `nd_pmem_probe()`: unconfigured claims and seed namespaces are declined
//! (`-ENODEV`), a btt claim is handed to the btt driver, and a raw namespace that holds a
//! btt, pfn or dax info block is never served raw (`-ENXIO`), since writing to it would
//! destroy the info block.
//!
//! All `unsafe` lives in the wrapper modules `nd`, `block`, `dax_ops` and `mce_copy`
//! over the C glue (`pmem_glue.c`); this file is safe Rust.

mod badblocks;
mod block;
mod clear_poison;
mod dax_ops;
mod debugfs;
mod geometry;
mod glue;
mod mce_copy;
mod nd;
#[cfg(rust_pmem_nfit)]
mod nfit_test;

use kernel::prelude::*;

use badblocks::BadBlocks;
use block::{
    Bio,
    Disk,
    DiskConfig,
    Segment, //
};
use clear_poison::{
    Backend,
    Fate,
    OldData,
    Stats,
    WriteGate,
    SECTORS_PER_PAGE, //
};
use dax_ops::{
    AccessMode,
    DaxDev,
    DaxHost,
    DaxKill,
    RecoveryIter, //
};
use geometry::{
    Geometry,
    PAGE_SHIFT,
    PAGE_SIZE,
    SECTOR_SHIFT, //
};
use kernel::{
    new_mutex,
    sync::{
        Arc,
        Mutex,
        SetOnce, //
    },
};
use mce_copy::{
    McError,
    PageView,
    PmemMap,
    Store, //
};
use nd::{
    Event,
    InfoBlock,
    Namespace,
    NdDevice,
    Pagemap, //
};

module! {
    type: RustPmem,
    name: "rust_pmem",
    authors: ["rust_pmem developers"],
    description: "Persistent memory block and DAX driver in Rust",
    license: "GPL v2",
}

/// The module: its debugfs directory and the nd driver (unregistered first on exit).
struct RustPmem {
    _driver: nd::Registration,
    _debugfs: debugfs::Root,
}

impl kernel::Module for RustPmem {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let debugfs = debugfs::Root::new();
        Ok(Self {
            _driver: nd::Registration::new()?,
            _debugfs: debugfs,
        })
    }
}

/// Probes an nd device, as `nd_pmem_probe()` does. `Ok(None)` when another driver
/// (btt) now owns the device's disk.
fn probe(nd: &NdDevice) -> Result<Option<KBox<PmemDevice>>> {
    let ns = nd.common_probe()?;
    if nd.is_btt() {
        nd.attach_btt(&ns)?;
        return Ok(None);
    }
    if !nd.is_pfn() {
        refuse_claimed(nd, &ns)?;
    }
    PmemDevice::attach(nd, &ns).map(Some)
}

/// Fails with `-ENXIO` when a btt, pfn or dax info block claims the raw namespace (its
/// claim device will be probed instead), or with the prober's `-EOPNOTSUPP` when a pfn
/// or dax info block was found but cannot be used.
fn refuse_claimed(nd: &NdDevice, ns: &Namespace) -> Result {
    nd.raw_enable(ns)?;
    for kind in [InfoBlock::Btt, InfoBlock::Pfn, InfoBlock::Dax] {
        match nd.probe_info_block(ns, kind) {
            Ok(()) => {
                dev_dbg!(
                    nd.dev(),
                    "namespace claimed by an info block, not served raw\n"
                );
                return Err(ENXIO);
            }
            Err(e) if e == EOPNOTSUPP && !matches!(kind, InfoBlock::Btt) => return Err(e),
            Err(_) => {}
        }
    }
    nd.raw_disable(ns);
    Ok(())
}

/// Sectors covering `bytes` bytes.
fn sectors(bytes: u64) -> u64 {
    bytes.div_ceil(geometry::SECTOR_SIZE)
}

/// What a DAX access found: the kernel address and pfn of `pgoff`, and how many pages
/// from there may be accessed.
pub(crate) struct DaxAccess {
    pub(crate) kaddr: *mut c_void,
    pub(crate) pfn: u64,
    pub(crate) pages: c_long,
}

/// Where the new data of a write over poison comes from.
enum Source<'a> {
    /// A bio segment (its first byte is the write's first byte).
    Segment(&'a Segment),
    /// Zeroes (`zero_page_range`).
    Zero,
    /// A recovery write's iov_iter, consumed in order.
    Iter(RecoveryIter),
}

impl Source<'_> {
    /// Fills `chunk` with the new bytes at `pos` bytes into the write.
    fn fill(&self, pos: u64, chunk: &mut [u8]) -> Result {
        match self {
            Source::Segment(seg) => {
                let from = u32::try_from(pos).map_err(|_| EINVAL)?;
                mce_copy::copy_from_segment(chunk, seg, from)
            }
            Source::Zero => {
                chunk.fill(0);
                Ok(())
            }
            Source::Iter(it) => {
                if mce_copy::copy_from_iter(chunk, it.iter) == chunk.len() {
                    Ok(())
                } else {
                    Err(EFAULT)
                }
            }
        }
    }
}

/// The I/O state of one namespace: everything `submit_bio`, the DAX operations and
/// debugfs use. Its address is the disk's and the DAX device's private data; it is
/// reference counted and outlives both (see [`PmemDevice`]).
pub(crate) struct Pmem {
    nd: NdDevice,
    map: PmemMap,
    geo: Geometry,
    phys_addr: u64,
    bb: BadBlocks,
    bb_range: (u64, u64),
    backend: Backend,
    /// The region's flush may sleep (an asynchronous region: virtio-pmem's flush is a
    /// request to the host that waits for its answer).
    flush_sleeps: bool,
    stats: Stats,
    pagemap: Option<Pagemap>,
    dax: SetOnce<DaxDev>,
    /// The clear engine's page buffer; its lock serialises clears on this device.
    bounce: Pin<KBox<Mutex<KVec<u8>>>>,
    /// Keeps plain writes off the pages the engine rewrites.
    gate: WriteGate,
    /// Test build: how long the engine pauses between reading a page back and storing
    /// it (µs, debugfs `rewrite_delay_us`), to widen races in tests.
    #[cfg(rust_pmem_test)]
    rewrite_delay_us: core::sync::atomic::AtomicU32,
}

/// The page being rewritten, read back through the machine-check-safe copy.
struct OldPage<'a> {
    view: &'a PageView<'a>,
}

impl OldData for OldPage<'_> {
    fn read_sector(&self, i: usize, buf: &mut [u8]) -> core::result::Result<(), McError> {
        match self.view.read(i * buf.len(), buf) {
            Ok(res) => res,
            Err(_) => Err(McError { copied: 0 }),
        }
    }
}

impl Pmem {
    /// `submit_bio`: flush, copy every segment, FUA, end.
    ///
    /// The disk has `BLK_FEAT_NOWAIT`, so io_uring issues O_DIRECT I/O inline. This is the
    /// one place that decides what a `REQ_NOWAIT` bio may do: copies to and from the
    /// media, badblocks lookups and records (a seqlock and a spinlock), passing the write
    /// gate (an RCU read-side section) and a synchronous region's flush (flush-hint stores)
    /// never sleep; clearing poison may (the bounce-page mutex, the platform's clear command,
    /// page attributes and the private mapping of a poisoned page), and so may waiting
    /// for it, so a `REQ_NOWAIT` bio that needs any of that ends with `EAGAIN`
    /// (`BLK_STS_AGAIN`) before anything is changed, and the submitter retries it from a
    /// context that may sleep.
    ///
    /// On a region whose flush sleeps (virtio-pmem) a `REQ_NOWAIT` bio that asks for a
    /// flush (`REQ_PREFLUSH` or `REQ_FUA`) ends with `EAGAIN` too, before anything is
    /// written; plain I/O stays inline there.
    pub(crate) fn submit_bio(&self, bio: Bio) {
        if bio.is_nowait() && self.flush_sleeps && (bio.is_preflush() || bio.is_fua()) {
            bio.end(Err(EAGAIN));
            return;
        }
        if bio.is_nowait() && bio.is_write() && self.bb.any() {
            let (sector, bytes) = bio.span();
            if self.bb.check(sector, sectors(bytes.into())).is_some() {
                bio.end(Err(EAGAIN));
                return;
            }
        }
        if bio.is_preflush() {
            Stats::inc(&self.stats.flushes);
            if let Err(e) = self.nd.flush() {
                bio.end(Err(e));
                return;
            }
        }
        let mut res = Ok(());
        if bio.has_data() {
            let acct = bio.start_acct();
            res = if bio.is_write() {
                self.write_bio(&bio)
            } else {
                self.read_bio(&bio)
            };
            bio.end_acct(acct);
        }
        if res.is_ok() && bio.is_fua() {
            Stats::inc(&self.stats.fua);
            match self.nd.flush_for(bio.as_raw()) {
                Ok(true) => return bio.handed_off(),
                Ok(false) => {}
                Err(e) => res = Err(e),
            }
        }
        bio.end(res);
    }

    /// A read: known poison anywhere in the bio fails it without touching the media
    /// (as pmem.c fails the segment over it, and so the bio); a machine check during the
    /// copy is recorded so the next access fails fast. A copy that stopped on a page out
    /// of the direct map (it took a machine check, and has lost sectors) is done again
    /// through the page's private mapping, so its good sectors still read.
    fn read_bio(&self, bio: &Bio) -> Result {
        let (sector, bytes) = bio.span();
        let off = self.geo.sector_offset(sector, bytes.into())?;
        if self.bb.any() {
            if self.bb.check(sector, sectors(bytes.into())).is_some() {
                return Err(EIO);
            }
            // A page out of the direct map is never touched there: without a
            // machine-check-safe copy routine on the CPU, `copy_mc_to_kernel` is a plain
            // `memcpy`, which would fault.
            if self.map.range_offline(off, bytes.into()) {
                return match bio.is_nowait() {
                    true => Err(EAGAIN),
                    false => self.read_offline(bio),
                };
            }
        }
        match self.map.read_bio(off, bio)? {
            Ok(()) => Ok(()),
            Err(mc) if self.map.page_offline(off + u64::from(mc.copied)) => {
                if bio.is_nowait() {
                    return Err(EAGAIN);
                }
                self.read_offline(bio)
            }
            Err(mc) => {
                self.record_machine_check(off, mc);
                Err(EIO)
            }
        }
    }

    /// A read, page by page through [`PageView`]s (see [`Self::read_bio`]). Holds the
    /// engine's mutex for its buffer.
    fn read_offline(&self, bio: &Bio) -> Result {
        let mut buf = self.bounce.lock();
        for seg in bio.segments() {
            let off = self.geo.sector_offset(seg.sector, seg.len.into())?;
            let mut done = 0u32;
            while done < seg.len {
                let at = off + u64::from(done);
                let page_off = at - at % PAGE_SIZE;
                let in_page = usize::try_from(at - page_off).map_err(|_| EIO)?;
                let n = (seg.len - done).min(geometry::PAGE_SIZE_U32 - in_page as u32);
                let chunk = &mut buf[..n as usize];
                let view = self.map.page(page_off, true)?;
                if let Err(mc) = view.read(in_page, chunk)? {
                    self.record_machine_check(at, mc);
                    return Err(EIO);
                }
                mce_copy::copy_to_segment(&seg, done, chunk)?;
                done += n;
            }
        }
        Ok(())
    }

    /// A write: in one copy when no poison is known in its range and the engine is not
    /// rewriting a page of it, else segment by segment, clearing where poison is known.
    fn write_bio(&self, bio: &Bio) -> Result {
        let (sector, bytes) = bio.span();
        let off = self.geo.sector_offset(sector, bytes.into())?;
        let nowait = bio.is_nowait();
        if self.plain_write_ok(sector, off, bytes) {
            let range = off..off + u64::from(bytes);
            if let Some(res) = self.gate.pass(range, || self.map.write_bio(off, bio)) {
                return res;
            }
            if nowait {
                return Err(EAGAIN);
            }
        }
        for seg in bio.segments() {
            self.do_write(&seg, nowait)?;
        }
        Ok(())
    }

    /// Whether `bytes` at `sector` (mapping offset `off`) may be written with a plain
    /// copy: no known poison in the range, and no page of it out of the direct map (a
    /// page with lost sectors, which has known poison elsewhere).
    fn plain_write_ok(&self, sector: u64, off: u64, bytes: u32) -> bool {
        if !self.bb.any() {
            return true;
        }
        self.bb.check(sector, sectors(bytes.into())).is_none()
            && !self.map.range_offline(off, bytes.into())
    }

    /// Records the sector where a copy at `off` stopped on poison.
    fn record_machine_check(&self, off: u64, mc: McError) {
        Stats::inc(&self.stats.machine_checks);
        let Some(bad) = off.checked_add(mc.copied.into()) else {
            return;
        };
        self.bb.set(self.geo.offset_sector(bad), 1);
        Stats::inc(&self.stats.ranges_recorded);
    }

    fn do_write(&self, seg: &Segment, nowait: bool) -> Result {
        let off = self.geo.sector_offset(seg.sector, seg.len.into())?;
        if self.plain_write_ok(seg.sector, off, seg.len) {
            let range = off..off + u64::from(seg.len);
            if let Some(res) = self.gate.pass(range, || self.map.write_from(off, seg)) {
                return res;
            }
        }
        if nowait {
            // Poison, or a rewrite of this range, appeared after `submit_bio` checked.
            return Err(EAGAIN);
        }
        self.dax_clear_poison(off, seg.len, &Source::Segment(seg))
    }

    /// The clear engine's entry point (the design's `dax_clear_poison`): writes `len`
    /// bytes at mapping offset `off` under the engine's mutex, page by page, clearing
    /// known poison on the way (see `clear_poison`). Block writes over poison,
    /// `zero_page_range` and `recovery_write` come here, and so do plain writes that
    /// found the gate closed. With no way to clear, a page with poison is not written
    /// and its records stay.
    fn dax_clear_poison(&self, off: u64, len: u32, src: &Source<'_>) -> Result {
        let end = off.checked_add(len.into()).ok_or(EIO)?;
        let first = off - off % PAGE_SIZE;
        let last = end.next_multiple_of(PAGE_SIZE);
        if self.backend == Backend::None
            && self
                .bb
                .check(
                    self.geo.offset_sector(first),
                    (last - first) >> SECTOR_SHIFT,
                )
                .is_some()
        {
            // Nothing is written: the write fails before anything changes.
            Stats::inc(&self.stats.failed_clears);
            dev_warn!(
                self.nd.dev(),
                "cannot clear poison at offset {:#x}: no clear method\n",
                off
            );
            return Err(EIO);
        }
        // Lock order: the bounce page, then the badblocks table's own seqlock.
        let mut buf = self.bounce.lock();
        // Plain writes are kept off these pages from the first page with known poison
        // on, until the stores are done.
        let mut closed = None;
        let mut res = Ok(());
        let mut page_off = first;
        while page_off < end {
            let mut bad = self.bad_sectors(page_off);
            if bad != 0 && closed.is_none() {
                closed = Some(self.gate.close(first..last));
                bad = self.bad_sectors(page_off);
            }
            let ws = off.max(page_off);
            let we = end.min(page_off + PAGE_SIZE);
            if let Err(e) = self.rewrite_page(page_off, bad, ws..we, ws - off, src, &mut buf[..]) {
                Stats::inc(&self.stats.failed_clears);
                res = Err(e);
                break;
            }
            page_off += PAGE_SIZE;
        }
        // The stores are ordered before the gate opens, on success and on failure.
        mce_copy::store_fence();
        drop(closed);
        res
    }

    /// Bit `i` set when sector `i` of the page at `page_off` is known bad.
    fn bad_sectors(&self, page_off: u64) -> u8 {
        let sector0 = self.geo.offset_sector(page_off);
        let mut bad = 0u8;
        for i in 0..SECTORS_PER_PAGE {
            if self.bb.check(sector0 + geometry::widen(i), 1).is_some() {
                bad |= 1 << i;
            }
        }
        bad
    }

    /// Rewrites the page at `page_off`, whose known bad sectors are `bad`, with the new
    /// bytes `write` (mapping offsets), which start `pos` bytes into the source; the
    /// caller holds the engine's mutex and has the gate closed if `bad` is not empty.
    fn rewrite_page(
        &self,
        page_off: u64,
        bad: u8,
        write: core::ops::Range<u64>,
        pos: u64,
        src: &Source<'_>,
        buf: &mut [u8],
    ) -> Result {
        let rel = |o: u64| usize::try_from(o - page_off).map_err(|_| EINVAL);
        let (ws, we) = (rel(write.start)?, rel(write.end)?);
        let view = self.map.page(page_off, bad != 0)?;
        if bad == 0 {
            // Nothing known bad in this page: an ordinary write of the covered bytes.
            let chunk = &mut buf[ws..we];
            src.fill(pos, chunk)?;
            return view.store(ws, chunk, Store::Flushcache);
        }
        if self.backend == Backend::None {
            // Poison recorded after `dax_clear_poison` checked: nothing to clear it with.
            return Err(EIO);
        }
        let plan = clear_poison::plan_page(ws..we, bad)?;
        let fates =
            clear_poison::compose(plan, ws..we, &OldPage { view: &view }, buf, |r, chunk| {
                src.fill(pos + geometry::widen(r.start - ws), chunk)
            })?;
        self.test_pause();
        // 1. The bus clear, over what is stored and nothing else: a lost sector keeps its
        // poison where the platform keeps it. A failed clear stops the clears; what was
        // cleared is still stored (it may hold junk now), the rest keeps its data.
        let mut res = Ok(());
        let mut cleared = 0u8;
        for run in clear_poison::store_runs(&fates) {
            if let Err(e) = self.bus_clear(&view, page_off, &run) {
                res = Err(e);
                break;
            }
            for i in run.start >> SECTOR_SHIFT..run.end >> SECTOR_SHIFT {
                cleared |= 1 << i;
            }
        }
        // 2. Present again in the direct map, once nothing of the page is poisoned.
        let lost = fates.iter().any(|f| *f == Fate::Lost);
        if !lost && res.is_ok() {
            view.make_present();
        }
        // 3. Stale cache lines dropped, 4. the store.
        for run in clear_poison::store_runs(&fates) {
            // Clears ran run by run and stopped at the first failure.
            if cleared & (1 << (run.start >> SECTOR_SHIFT)) == 0 {
                break;
            }
            view.invalidate(run.start, run.len())?;
            view.store(run.start, &buf[run.clone()], self.backend.store())?;
        }
        let sector0 = self.geo.offset_sector(page_off);
        for (i, fate) in fates.iter().enumerate() {
            let sector = sector0 + geometry::widen(i);
            match fate {
                Fate::Lost if bad & (1 << i) == 0 => {
                    // Latent poison found while reading the page back: a machine check
                    // like any other, recorded like any other.
                    Stats::inc(&self.stats.machine_checks);
                    self.bb.set(sector, 1);
                    Stats::inc(&self.stats.ranges_recorded);
                }
                Fate::Lost => {}
                _ if cleared & (1 << i) != 0 => self.bb.clear(sector, 1),
                _ => {}
            }
        }
        if res.is_ok() {
            self.backend.count_cleared(&self.stats);
        }
        res
    }

    /// The platform clear of `run` (bytes of the page at `page_off`) before it is
    /// stored: the bus's clear command where there is one; in the test build, on a bus
    /// without one, an emulated clear that scrambles what it clears.
    fn bus_clear(
        &self,
        view: &PageView<'_>,
        page_off: u64,
        run: &core::ops::Range<usize>,
    ) -> Result {
        let phys = self.phys_addr.checked_add(page_off).ok_or(EIO)? + geometry::widen(run.start);
        let len = u32::try_from(run.len()).map_err(|_| EINVAL)?;
        if self.backend.bus_clear() {
            return match self.nd.clear_poison(phys, len) {
                Ok(cleared) if cleared >= u64::from(len) => Ok(()),
                res => {
                    dev_warn!(
                        self.nd.dev(),
                        "clearing poison at {:#x}+{:#x} failed: {:?}\n",
                        phys,
                        len,
                        res
                    );
                    Err(EIO)
                }
            };
        }
        #[cfg(rust_pmem_test)]
        self.test_bus_clear(view, phys, run)?;
        #[cfg(not(rust_pmem_test))]
        let _ = view;
        Ok(())
    }

    /// `dax_operations.direct_access`: `-EHWPOISON` over a known bad page; in recovery
    /// mode, the number of good pages before the first bad one (at least one).
    pub(crate) fn direct_access(
        &self,
        pgoff: u64,
        nr_pages: c_long,
        mode: AccessMode,
    ) -> Result<DaxAccess> {
        let off = self.geo.page_offset(pgoff)?;
        let kaddr = self.map.kaddr(off, PAGE_SIZE)?;
        let pfn = self.phys_addr.checked_add(off).ok_or(ERANGE)? >> PAGE_SHIFT;
        let sector = pgoff.checked_mul(PAGE_SIZE).ok_or(ERANGE)? >> SECTOR_SHIFT;
        let want = u64::try_from(nr_pages).map_err(|_| EINVAL)?;
        let nr_sectors = want.checked_mul(PAGE_SIZE).ok_or(ERANGE)? >> SECTOR_SHIFT;
        let pages = if let Some(bad) = self.bb.check(sector, nr_sectors) {
            if mode != AccessMode::RecoveryWrite {
                return Err(EHWPOISON);
            }
            // The recovery stride is one page: the clear functions do not handle large
            // chunks (such as 2 MiB) reliably.
            let good = bad.first.saturating_sub(sector) << SECTOR_SHIFT;
            good.div_ceil(PAGE_SIZE).max(1)
        } else if self.bb.any() {
            // Bad blocks exist, but not here: vouch only for the requested range.
            want
        } else {
            self.geo.pages_from(off)
        };
        let pages = c_long::try_from(pages).map_err(|_| ERANGE)?;
        #[cfg(rust_pmem_nfit)]
        if let Some(pfn) = nfit_test::emulated_pfn(kaddr, self.phys_addr + off) {
            return Ok(DaxAccess {
                kaddr,
                pfn,
                pages: 1,
            });
        }
        Ok(DaxAccess { kaddr, pfn, pages })
    }

    /// `dax_operations.zero_page_range`: whole pages of zeroes through the write path, so
    /// known poison is cleared.
    pub(crate) fn zero_page_range(&self, pgoff: u64, nr_pages: u64) -> Result {
        for i in 0..nr_pages {
            let pgoff = pgoff.checked_add(i).ok_or(ERANGE)?;
            let off = self.geo.page_offset(pgoff)?;
            let sector = pgoff.checked_mul(PAGE_SIZE).ok_or(ERANGE)? >> SECTOR_SHIFT;
            if self.plain_write_ok(sector, off, geometry::PAGE_SIZE_U32) {
                let range = off..off + PAGE_SIZE;
                if let Some(res) = self.gate.pass(range, || self.map.write_zero_page(off)) {
                    res?;
                    continue;
                }
            }
            self.dax_clear_poison(off, geometry::PAGE_SIZE_U32, &Source::Zero)?;
        }
        Ok(())
    }

    /// `dax_operations.recovery_write`: copy `bytes` from `iter` to `addr` (in page
    /// `pgoff`). Over known poison the write goes through the clear engine, which keeps
    /// the good data of a partly written page (pmem.c refuses sub-page recovery writes).
    /// Returns the bytes copied; 0 when the poison cannot be cleared.
    pub(crate) fn recovery_write(
        &self,
        pgoff: u64,
        addr: *mut c_void,
        bytes: usize,
        iter: RecoveryIter,
    ) -> usize {
        self.try_recovery_write(pgoff, addr, bytes, iter)
            .unwrap_or_else(|e| {
                dev_dbg!(
                    self.nd.dev(),
                    "recovery write at page {} failed: {:?}\n",
                    pgoff,
                    e
                );
                0
            })
    }

    fn try_recovery_write(
        &self,
        pgoff: u64,
        addr: *mut c_void,
        bytes: usize,
        iter: RecoveryIter,
    ) -> Result<usize> {
        let in_page = geometry::widen(addr as usize % geometry::PAGE_BYTES);
        let len = u32::try_from(bytes).map_err(|_| EINVAL)?;
        let span = (in_page + u64::from(len)).next_multiple_of(PAGE_SIZE);
        let sector = pgoff.checked_mul(PAGE_SIZE).ok_or(ERANGE)? >> SECTOR_SHIFT;
        let page = self.geo.page_offset(pgoff)?;
        let span32 = u32::try_from(span).map_err(|_| EINVAL)?;
        if self.plain_write_ok(sector, page, span32) {
            // The copy may fault on the user's buffer, so it cannot pass the write gate
            // (an RCU read-side section); the engine's mutex keeps rewrites off instead
            // (recovery writes are rare).
            let _engine = self.bounce.lock();
            return Ok(self.map.copy_from_iter(addr, bytes, iter.iter));
        }
        let off = self
            .geo
            .page_offset(pgoff)?
            .checked_add(in_page)
            .ok_or(ERANGE)?;
        self.dax_clear_poison(off, len, &Source::Iter(iter))?;
        Stats::inc(&self.stats.recovery_writes);
        Ok(bytes)
    }

    /// `dev_pagemap_ops.memory_failure`: record a range the hardware reported, then tell
    /// the filesystem holding the DAX device. A software-simulated failure
    /// (`MF_SW_SIMULATED`: `MADV_HWPOISON`, hwpoison-inject) leaves the media good: it is
    /// only forwarded, as pmem.c forwards every failure, and counted apart.
    pub(crate) fn memory_failure(&self, offset: u64, len: u64, flags: c_int) -> Result {
        if dax_ops::is_simulated_failure(flags) {
            Stats::inc(&self.stats.simulated_failures);
        } else {
            let (first, last) = (offset >> SECTOR_SHIFT, offset.saturating_add(len));
            self.bb.set(first, sectors(last).saturating_sub(first));
            Stats::inc(&self.stats.ranges_recorded);
        }
        self.dax
            .as_ref()
            .ok_or(EOPNOTSUPP)?
            .notify_failure(offset, len, flags)
    }

    /// The DAX device, for the `dax/write_cache` attribute (null without DAX).
    pub(crate) fn dax_raw(&self) -> *mut glue::DaxDevice {
        self.dax
            .as_ref()
            .map_or(core::ptr::null_mut(), DaxDev::as_raw)
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Plants poison on disk sectors `sector..sector + len` where hardware keeps it
    /// (test build): latent in the media, so that a read takes an (emulated) machine
    /// check, and on the bus's list of bad ranges, so that it outlives unbind, module
    /// reload and reboot of the driver and is read into badblocks at probe.
    #[cfg(rust_pmem_test)]
    pub(crate) fn inject_latent(&self, sector: u64, len: u64) -> Result {
        let bytes = len.checked_mul(geometry::SECTOR_SIZE).ok_or(EINVAL)?;
        let off = self.geo.sector_offset(sector, bytes).map_err(|_| EINVAL)?;
        self.map.inject_latent(off, bytes)?;
        self.nd.bus_add_poison(self.phys_addr + off, bytes)
    }

    /// Removes planted poison from disk sectors `sector..sector + len`, in the media and
    /// on the bus (test build; recorded badblocks stay).
    #[cfg(rust_pmem_test)]
    pub(crate) fn clear_latent(&self, sector: u64, len: u64) -> Result {
        let bytes = len.checked_mul(geometry::SECTOR_SIZE).ok_or(EINVAL)?;
        let off = self.geo.sector_offset(sector, bytes).map_err(|_| EINVAL)?;
        self.map.clear_latent(off, bytes)?;
        self.nd.bus_forget_poison(self.phys_addr + off, bytes);
        Ok(())
    }

    /// The platform clear of the test build on a bus without a clear command (memmap):
    /// it takes `run` of the page in `view` (at physical address `phys`) off the bus's
    /// list and out of the latent poison, and leaves junk there, as a real clear may.
    #[cfg(rust_pmem_test)]
    fn test_bus_clear(
        &self,
        view: &PageView<'_>,
        phys: u64,
        run: &core::ops::Range<usize>,
    ) -> Result {
        const JUNK: [u8; 512] = [0x5a; 512];
        for at in run.clone().step_by(JUNK.len()) {
            let n = (run.end - at).min(JUNK.len());
            view.store(at, &JUNK[..n], Store::Flushcache)?;
        }
        self.nd.bus_forget_poison(phys, geometry::widen(run.len()));
        Ok(())
    }

    /// The engine's pause between reading a page back and storing it (test build).
    fn test_pause(&self) {
        #[cfg(rust_pmem_test)]
        {
            let us = self
                .rewrite_delay_us
                .load(core::sync::atomic::Ordering::Relaxed);
            if us > 0 {
                kernel::time::delay::fsleep(kernel::time::Delta::from_micros(us.into()));
            }
        }
    }

    /// Sets the engine's test pause (test build), at most one second.
    #[cfg(rust_pmem_test)]
    pub(crate) fn set_rewrite_delay(&self, us: u64) -> Result {
        let us = u32::try_from(us)
            .ok()
            .filter(|&us| us <= 1_000_000)
            .ok_or(EINVAL)?;
        self.rewrite_delay_us
            .store(us, core::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    #[cfg(rust_pmem_test)]
    pub(crate) fn rewrite_delay(&self) -> u32 {
        self.rewrite_delay_us
            .load(core::sync::atomic::Ordering::Relaxed)
    }

    /// Raises a hardware-reported memory failure (no `MF_SW_SIMULATED`) on every page
    /// of disk sectors `sector..sector + len`, through the kernel's `memory_failure()`
    /// (test build).
    #[cfg(rust_pmem_test)]
    pub(crate) fn hw_memory_failure(&self, sector: u64, len: u64) -> Result {
        let bytes = len.checked_mul(geometry::SECTOR_SIZE).ok_or(EINVAL)?;
        let off = self.geo.sector_offset(sector, bytes).map_err(|_| EINVAL)?;
        if self.pagemap.is_none() {
            return Err(EOPNOTSUPP);
        }
        let mut page = off - off % PAGE_SIZE;
        while page < off + bytes {
            dax_ops::raise_memory_failure(self.phys_addr + page)?;
            page += PAGE_SIZE;
        }
        Ok(())
    }
}

impl Drop for Pmem {
    fn drop(&mut self) {
        if let Some(pagemap) = &self.pagemap {
            pagemap.set_owner(core::ptr::null());
        }
    }
}

/// A bound namespace: the disk and DAX device over a [`Pmem`].
///
/// Field order is drop order, the order of pmem.c's `pmem_release_disk()` with debugfs
/// first: the debugfs directory goes (and its reference), the DAX host goes, the DAX
/// device is killed (no operation runs after this), the disk is deleted (no bio runs
/// after this), then the `Pmem` with its last DAX reference. The mapping itself is
/// devm-owned and released after remove.
pub(crate) struct PmemDevice {
    _debugfs: Option<debugfs::DeviceDir>,
    _host: Option<DaxHost>,
    _kill: Option<DaxKill>,
    disk: Disk,
    pmem: Arc<Pmem>,
}

impl Drop for PmemDevice {
    fn drop(&mut self) {
        // First of all: no memory_failure() notification reaches the device from here
        // on, and the ones in flight have returned.
        if let Some(pagemap) = &self.pmem.pagemap {
            pagemap.set_owner(core::ptr::null());
        }
    }
}

impl PmemDevice {
    /// `pmem_attach_disk()`.
    fn attach(nd: &NdDevice, ns: &Namespace) -> Result<KBox<Self>> {
        let (info, pagemap) = nd
            .map(ns)
            .inspect_err(|e| dev_err!(nd.dev(), "cannot map the namespace: {:?}\n", e))?;
        let geo = Geometry::new(info.size, info.data_offset, info.pfn_pad)
            .inspect_err(|_| dev_err!(nd.dev(), "data offset past the end of the namespace\n"))?;
        let fua = match nd.has_flush() {
            f if f < 0 => {
                dev_warn!(nd.dev(), "unable to guarantee persistence of writes\n");
                false
            }
            f => f > 0,
        };
        let pmem = Arc::new(
            Pmem {
                nd: nd.clone(),
                map: PmemMap::new(&info)?,
                geo,
                phys_addr: info.phys_addr,
                bb: BadBlocks::new(nd)?,
                bb_range: (info.bb_start, info.bb_end),
                backend: Backend::select(nd.clear_caps()),
                flush_sleeps: !info.sync,
                stats: Stats::default(),
                pagemap,
                dax: SetOnce::new(),
                bounce: KBox::pin_init(
                    new_mutex!(KVec::from_elem(0u8, geometry::PAGE_BYTES, GFP_KERNEL)?),
                    GFP_KERNEL,
                )?,
                gate: WriteGate::new(),
                #[cfg(rust_pmem_test)]
                rewrite_delay_us: core::sync::atomic::AtomicU32::new(0),
            },
            GFP_KERNEL,
        )?;
        let cfg = DiskConfig {
            logical_block_size: info.sector_size,
            numa_node: info.nid,
            fua,
            dax: info.pagemap,
            nowait: true,
            sectors: geo.capacity_sectors(),
        };
        let mut disk = Disk::new(ns, &cfg, &pmem)?;
        pmem.bb.populate(nd, info.bb_start, info.bb_end);
        pmem.bb.attach(&disk);
        if let Some(dax) = DaxDev::new(&pmem, info.sync)? {
            pmem.dax.populate(dax);
        }
        let (host, kill) = match pmem.dax.as_ref() {
            Some(dax) => {
                let kill = dax.killer();
                let host = dax.add_host(&disk)?;
                dax.set_write_cache(info.has_cache);
                (Some(host), Some(kill))
            }
            None => (None, None),
        };
        if let Some(pagemap) = &pmem.pagemap {
            pagemap.set_owner(core::ptr::from_ref::<Pmem>(&pmem).cast());
        }
        disk.add(nd)
            .inspect_err(|e| dev_err!(nd.dev(), "cannot add the disk: {:?}\n", e))?;
        if !info.pagemap {
            // nd_pmem says nothing here, and `mount -o dax` then fails with a generic
            // "DAX unsupported by block device".
            dev_info!(
                nd.dev(),
                "{}: raw namespace without struct pages: block I/O only, no file system DAX \
                 (ndctl create-namespace -m fsdax gives it DAX)\n",
                disk.name()
            );
        }
        let debugfs = debugfs::device_dir(disk.name(), pmem.clone())
            .inspect_err(|e| dev_warn!(nd.dev(), "no debugfs directory: {:?}\n", e))
            .ok();
        let dev = KBox::new(
            PmemDevice {
                _debugfs: debugfs,
                _host: host,
                _kill: kill,
                disk,
                pmem,
            },
            GFP_KERNEL,
        )?;
        dev.disk.check_and_set_ro();
        dev.pmem.bb.watch(nd, &dev.disk);
        Ok(dev)
    }

    /// A bus event, with the device lock held.
    pub(crate) fn notify(&self, event: Event) {
        match event {
            Event::RevalidateRegion => self.disk.check_and_set_ro(),
            Event::RevalidatePoison => {
                let (start, end) = self.pmem.bb_range;
                self.pmem.bb.populate(&self.pmem.nd, start, end);
            }
        }
    }
}
