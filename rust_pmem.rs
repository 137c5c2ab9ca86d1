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
mod dax_ops;
mod geometry;
mod glue;
mod mce_copy;
mod nd;

use kernel::prelude::*;

use badblocks::BadBlocks;
use block::{
    Bio,
    Disk,
    DiskConfig,
    Segment, //
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
use mce_copy::PmemMap;
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

struct RustPmem {
    _driver: nd::Registration,
}

impl kernel::Module for RustPmem {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self {
            _driver: nd::Registration::new()?,
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

/// The I/O state of one namespace: everything `submit_bio` and the DAX operations use.
/// Its address is the disk's and the DAX device's private data, so it is boxed and
/// outlives both (see [`PmemDevice`]).
pub(crate) struct Pmem {
    nd: NdDevice,
    map: PmemMap,
    geo: Geometry,
    phys_addr: u64,
    bb: BadBlocks,
    bb_range: (u64, u64),
    pagemap: Option<Pagemap>,
    dax: Option<DaxDev>,
}

impl Pmem {
    /// `submit_bio`: flush, copy every segment, FUA, end.
    pub(crate) fn submit_bio(&self, bio: Bio) {
        if bio.is_preflush() {
            if let Err(e) = self.nd.flush() {
                bio.end(Err(e));
                return;
            }
        }
        let mut res = Ok(());
        if bio.has_data() {
            let acct = bio.start_acct();
            let write = bio.is_write();
            for seg in bio.segments() {
                res = if write {
                    self.do_write(&seg)
                } else {
                    self.do_read(&seg)
                };
                if res.is_err() {
                    break;
                }
            }
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

    fn do_read(&self, seg: &Segment) -> Result {
        let off = self.geo.sector_offset(seg.sector, seg.len.into())?;
        if self.bb.check(seg.sector, sectors(seg.len.into())).is_some() {
            return Err(EIO);
        }
        match self.map.read_into(off, seg)? {
            Ok(()) => Ok(()),
            Err(_poison) => Err(EIO),
        }
    }

    fn do_write(&self, seg: &Segment) -> Result {
        let off = self.geo.sector_offset(seg.sector, seg.len.into())?;
        self.clear_if_bad(seg.sector, off, seg.len)?;
        self.map.write_from(off, seg)
    }

    /// Before a write of `len` bytes at `sector` (mapping offset `off`): if the range is
    /// known bad, clear it, as pmem.c's `pmem_clear_poison()` does.
    fn clear_if_bad(&self, sector: u64, off: u64, len: u32) -> Result {
        if self.bb.check(sector, sectors(len.into())).is_none() {
            return Ok(());
        }
        let cleared = self.clear_poison(off, len)?;
        if cleared < u64::from(len) {
            return Err(EIO);
        }
        Ok(())
    }

    /// Asks the platform to clear `off..off + len`; on success the pages are made present
    /// again and the cleared sectors leave the badblocks table. Returns the bytes cleared.
    fn clear_poison(&self, off: u64, len: u32) -> Result<u64> {
        let phys = self.phys_addr.checked_add(off).ok_or(EIO)?;
        let cleared = self.nd.clear_poison(phys, len).map_err(|_| EIO)?;
        if cleared > 0 {
            self.map.poison_cleared(off, phys, cleared)?;
        }
        self.bb
            .clear(self.geo.offset_sector(off), cleared >> SECTOR_SHIFT);
        Ok(cleared)
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
            (good.div_ceil(PAGE_SIZE)).max(1)
        } else if self.bb.any() {
            // Bad blocks exist, but not here: vouch only for the requested range.
            want
        } else {
            self.geo.pages_from(off)
        };
        let pages = c_long::try_from(pages).map_err(|_| ERANGE)?;
        Ok(DaxAccess { kaddr, pfn, pages })
    }

    /// `dax_operations.zero_page_range`: whole pages of zeroes, through the write path
    /// (so known poison is cleared first).
    pub(crate) fn zero_page_range(&self, pgoff: u64, nr_pages: u64) -> Result {
        for i in 0..nr_pages {
            let pgoff = pgoff.checked_add(i).ok_or(ERANGE)?;
            let off = self.geo.page_offset(pgoff)?;
            let sector = pgoff.checked_mul(PAGE_SIZE).ok_or(ERANGE)? >> SECTOR_SHIFT;
            self.clear_if_bad(sector, off, geometry::PAGE_SIZE_U32)?;
            self.map.write_zero_page(off)?;
        }
        Ok(())
    }

    /// `dax_operations.recovery_write`: copy `bytes` from `iter` to `addr` (page `pgoff`),
    /// clearing known poison first. Poison can only be cleared in whole pages, so a
    /// misaligned recovery write copies nothing. Returns the bytes copied.
    pub(crate) fn recovery_write(
        &self,
        pgoff: u64,
        addr: *mut c_void,
        bytes: usize,
        iter: RecoveryIter,
    ) -> usize {
        let in_page = (addr as usize) % (PAGE_SIZE as usize);
        let span = match in_page
            .checked_add(bytes)
            .map(|end| end.next_multiple_of(PAGE_SIZE as usize))
        {
            Some(span) => span,
            None => return 0,
        };
        let (Ok(span), Some(sector)) = (
            u64::try_from(span),
            pgoff.checked_mul(PAGE_SIZE).map(|b| b >> SECTOR_SHIFT),
        ) else {
            return 0;
        };
        if self.bb.check(sector, span >> SECTOR_SHIFT).is_none() {
            return self.map.copy_from_iter(addr, bytes, iter.iter);
        }
        if in_page != 0 || bytes % (PAGE_SIZE as usize) != 0 {
            dev_dbg!(
                self.nd.dev(),
                "poison found, but the recovery write is not page aligned\n"
            );
            return 0;
        }
        let (Ok(off), Ok(len)) = (self.geo.page_offset(pgoff), u32::try_from(span)) else {
            return 0;
        };
        match self.clear_poison(off, len) {
            Ok(cleared) if cleared >= span => self.map.copy_from_iter(addr, bytes, iter.iter),
            _ => 0,
        }
    }

    /// `dev_pagemap_ops.memory_failure`: tell the filesystem holding the DAX device.
    pub(crate) fn memory_failure(&self, offset: u64, len: u64, flags: c_int) -> Result {
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
/// Field order is drop order, the order of pmem.c's `pmem_release_disk()`: the DAX host
/// goes, the DAX device is killed (no operation runs after this), the disk is deleted
/// (no bio runs after this), then the `Pmem` with its last DAX reference. The mapping
/// itself is devm-owned and released after remove.
pub(crate) struct PmemDevice {
    _host: Option<DaxHost>,
    _kill: Option<DaxKill>,
    disk: Disk,
    pmem: KBox<Pmem>,
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
        let mut pmem = KBox::new(
            Pmem {
                nd: nd.clone(),
                map: PmemMap::new(&info)?,
                geo,
                phys_addr: info.phys_addr,
                bb: BadBlocks::new(nd)?,
                bb_range: (info.bb_start, info.bb_end),
                pagemap,
                dax: None,
            },
            GFP_KERNEL,
        )?;
        let cfg = DiskConfig {
            logical_block_size: info.sector_size,
            numa_node: info.nid,
            fua,
            dax: info.pagemap,
            sectors: geo.capacity_sectors(),
        };
        let disk = Disk::new(ns, &cfg, &pmem)?;
        pmem.bb.populate(nd, info.bb_start, info.bb_end);
        pmem.bb.attach(&disk);
        let dax = DaxDev::new(&pmem, info.sync)?;
        pmem.dax = dax;
        let (host, kill) = match &pmem.dax {
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
        let mut dev = KBox::new(
            PmemDevice {
                _host: host,
                _kill: kill,
                disk,
                pmem,
            },
            GFP_KERNEL,
        )?;
        dev.disk
            .add(nd)
            .inspect_err(|e| dev_err!(nd.dev(), "cannot add the disk: {:?}\n", e))?;
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
