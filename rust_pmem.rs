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
    stats: Stats,
    pagemap: Option<Pagemap>,
    dax: SetOnce<DaxDev>,
    /// The clear engine's page buffer; its lock serialises clears on this device.
    bounce: Pin<KBox<Mutex<KVec<u8>>>>,
}

/// The page being rewritten, read back through the machine-check-safe copy.
struct OldPage<'a> {
    map: &'a PmemMap,
    page_off: u64,
}

impl OldData for OldPage<'_> {
    fn read_sector(&self, i: usize, buf: &mut [u8]) -> core::result::Result<(), McError> {
        let off = geometry::widen(i) * geometry::SECTOR_SIZE + self.page_off;
        match self.map.read_buf(off, buf) {
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
    /// media, badblocks lookups and records (a seqlock and a spinlock), and the region
    /// flush (flush-hint stores) never sleep; clearing poison may (the bounce-page mutex,
    /// the platform's clear command, making pages present again changes page
    /// attributes), so a `REQ_NOWAIT` write that meets known poison ends with `EAGAIN`
    /// (`BLK_STS_AGAIN`) before anything is changed, and the submitter retries it from a
    /// context that may sleep.
    pub(crate) fn submit_bio(&self, bio: Bio) {
        if bio.is_nowait() && bio.is_write() && self.bb.any() {
            let (sector, bytes) = bio.span();
            if self.bb.check(sector, sectors(bytes.into())).is_some() {
                bio.end(Err(EAGAIN));
                return;
            }
        }
        if bio.is_preflush() {
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
    /// copy is recorded so the next access fails fast.
    fn read_bio(&self, bio: &Bio) -> Result {
        let (sector, bytes) = bio.span();
        let off = self.geo.sector_offset(sector, bytes.into())?;
        if self.bb.check(sector, sectors(bytes.into())).is_some() {
            return Err(EIO);
        }
        match self.map.read_bio(off, bio)? {
            Ok(()) => Ok(()),
            Err(mc) => {
                self.record_machine_check(off, mc);
                Err(EIO)
            }
        }
    }

    /// A write: in one copy when no poison is known in its range, else segment by
    /// segment, clearing where poison is known.
    fn write_bio(&self, bio: &Bio) -> Result {
        let (sector, bytes) = bio.span();
        let off = self.geo.sector_offset(sector, bytes.into())?;
        if self.bb.check(sector, sectors(bytes.into())).is_none() {
            return self.map.write_bio(off, bio);
        }
        let nowait = bio.is_nowait();
        for seg in bio.segments() {
            self.do_write(&seg, nowait)?;
        }
        Ok(())
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
        if self.bb.check(seg.sector, sectors(seg.len.into())).is_some() {
            if nowait {
                // Only reached when poison was recorded after `submit_bio` checked.
                return Err(EAGAIN);
            }
            return self.write_clearing(off, seg.len, &Source::Segment(seg));
        }
        self.map.write_from(off, seg)
    }

    /// Writes `len` bytes at mapping offset `off` over known poison, page by page
    /// through the clear engine (see `clear_poison`). With no way to clear, nothing is
    /// written and the records stay.
    fn write_clearing(&self, off: u64, len: u32, src: &Source<'_>) -> Result {
        if self.backend == Backend::None {
            Stats::inc(&self.stats.failed_clears);
            dev_warn!(
                self.nd.dev(),
                "cannot clear poison at offset {:#x}: no clear method\n",
                off
            );
            return Err(EIO);
        }
        let end = off.checked_add(len.into()).ok_or(EIO)?;
        // Lock order: the bounce page, then the badblocks table's own seqlock.
        let mut buf = self.bounce.lock();
        let mut page_off = off - off % PAGE_SIZE;
        while page_off < end {
            let ws = off.max(page_off);
            let we = end.min(page_off + PAGE_SIZE);
            self.rewrite_page(page_off, ws..we, ws - off, src, &mut buf[..])
                .inspect_err(|_| Stats::inc(&self.stats.failed_clears))?;
            page_off += PAGE_SIZE;
        }
        Ok(())
    }

    /// Rewrites the page at `page_off` with the new bytes `write` (mapping offsets),
    /// which start `pos` bytes into the source.
    fn rewrite_page(
        &self,
        page_off: u64,
        write: core::ops::Range<u64>,
        pos: u64,
        src: &Source<'_>,
        buf: &mut [u8],
    ) -> Result {
        let sector0 = self.geo.offset_sector(page_off);
        let mut bad = 0u8;
        for i in 0..SECTORS_PER_PAGE {
            if self.bb.check(sector0 + geometry::widen(i), 1).is_some() {
                bad |= 1 << i;
            }
        }
        let rel = |o: u64| usize::try_from(o - page_off).map_err(|_| EINVAL);
        let (ws, we) = (rel(write.start)?, rel(write.end)?);
        if bad == 0 {
            // Nothing known bad in this page: an ordinary write of the covered bytes.
            let chunk = &mut buf[ws..we];
            src.fill(pos, chunk)?;
            return self.map.store(write.start, chunk, Store::Flushcache);
        }
        let plan = clear_poison::plan_page(ws..we, bad)?;
        let old = OldPage {
            map: &self.map,
            page_off,
        };
        let fates = clear_poison::compose(plan, ws..we, &old, buf, |r, chunk| {
            src.fill(pos + geometry::widen(r.start - ws), chunk)
        })?;
        let phys = self.phys_addr.checked_add(page_off).ok_or(EIO)?;
        if self.backend.dsm_before() {
            self.dsm_clear(phys)?;
        }
        self.map.store(page_off, buf, self.backend.store())?;
        if self.backend.dsm_after() {
            self.dsm_clear(phys)?;
        }
        self.map.poison_cleared(page_off, phys, PAGE_SIZE)?;
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
                _ => self.bb.clear(sector, 1),
            }
        }
        self.backend.count_cleared(&self.stats);
        Ok(())
    }

    /// The bus clear command over one page; anything short of the whole page is `EIO`.
    fn dsm_clear(&self, phys: u64) -> Result {
        match self.nd.clear_poison(phys, geometry::PAGE_SIZE_U32) {
            Ok(cleared) if cleared >= PAGE_SIZE => Ok(()),
            res => {
                dev_warn!(
                    self.nd.dev(),
                    "clearing poison at {:#x} failed: {:?}\n",
                    phys,
                    res
                );
                Err(EIO)
            }
        }
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
            if self.bb.check(sector, PAGE_SIZE >> SECTOR_SHIFT).is_some() {
                self.write_clearing(off, geometry::PAGE_SIZE_U32, &Source::Zero)?;
            } else {
                self.map.write_zero_page(off)?;
            }
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
        if self.bb.check(sector, span >> SECTOR_SHIFT).is_none() {
            return Ok(self.map.copy_from_iter(addr, bytes, iter.iter));
        }
        let off = self
            .geo
            .page_offset(pgoff)?
            .checked_add(in_page)
            .ok_or(ERANGE)?;
        self.write_clearing(off, len, &Source::Iter(iter))?;
        Stats::inc(&self.stats.recovery_writes);
        Ok(bytes)
    }

    /// `dev_pagemap_ops.memory_failure`: record the range, then tell the filesystem
    /// holding the DAX device.
    pub(crate) fn memory_failure(&self, offset: u64, len: u64, flags: c_int) -> Result {
        let (first, last) = (offset >> SECTOR_SHIFT, offset.saturating_add(len));
        self.bb.set(first, sectors(last).saturating_sub(first));
        Stats::inc(&self.stats.ranges_recorded);
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

    /// Plants latent poison on disk sectors `sector..sector + len` (test build).
    #[cfg(rust_pmem_test)]
    pub(crate) fn inject_latent(&self, sector: u64, len: u64) -> Result {
        let bytes = len.checked_mul(geometry::SECTOR_SIZE).ok_or(EINVAL)?;
        let off = self.geo.sector_offset(sector, bytes).map_err(|_| EINVAL)?;
        self.map.inject_latent(off, bytes)
    }

    /// Removes latent poison from disk sectors `sector..sector + len` (test build).
    #[cfg(rust_pmem_test)]
    pub(crate) fn clear_latent(&self, sector: u64, len: u64) -> Result {
        let bytes = len.checked_mul(geometry::SECTOR_SIZE).ok_or(EINVAL)?;
        let off = self.geo.sector_offset(sector, bytes).map_err(|_| EINVAL)?;
        self.map.clear_latent(off, bytes)
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
                stats: Stats::default(),
                pagemap,
                dax: SetOnce::new(),
                bounce: KBox::pin_init(
                    new_mutex!(KVec::from_elem(0u8, geometry::PAGE_BYTES, GFP_KERNEL)?),
                    GFP_KERNEL,
                )?,
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
