// SPDX-License-Identifier: GPL-2.0

//! Staging wrapper for the nvdimm (nd) bus: driver registration, the probe steps of
//! `nd_pmem_probe()`, namespace mapping and region services.
//!
//! All `unsafe` for the nd bus lives here. The bus calls back into
//! [`rpmem_rs_probe`], [`rpmem_rs_remove`] and [`rpmem_rs_notify`], which hand safe
//! types to the driver ([`crate::probe`], [`crate::PmemDevice`]).

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    error::{
        from_err_ptr,
        to_result, //
    },
    prelude::*,
    sync::aref::ARef, //
};

use crate::glue;

/// The driver's registration with the nd bus; unregisters on drop.
pub(crate) struct Registration(());

impl Registration {
    /// Registers the `rust_pmem` nd driver for pmem and io namespaces.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: The glue's driver structure is static; it is registered once, here, and
        // unregistered in `drop` before the module text goes away.
        to_result(unsafe { glue::rpmem_driver_register() })?;
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: `self` exists only after a successful registration.
        unsafe { glue::rpmem_driver_unregister() };
    }
}

/// A device on the nd bus offered to the driver: a namespace, or a btt/pfn/dax claim of
/// one. Holds a reference to the `struct device`.
#[derive(Clone)]
pub(crate) struct NdDevice {
    dev: ARef<Device>,
}

impl NdDevice {
    /// # Safety
    ///
    /// `ptr` must point to a live `struct device` with a non-zero reference count.
    unsafe fn from_raw(ptr: *mut bindings::device) -> Self {
        // SAFETY: Guaranteed by the caller.
        let dev = unsafe { Device::get_device(ptr) };
        Self { dev }
    }

    fn as_raw(&self) -> *mut bindings::device {
        // CAST: `Device` is `repr(transparent)` over `Opaque<bindings::device>`, itself a
        // transparent wrapper of the C structure.
        core::ptr::from_ref::<Device>(&self.dev)
            .cast::<bindings::device>()
            .cast_mut()
    }

    /// The generic device, for logging.
    pub(crate) fn dev(&self) -> &Device {
        &self.dev
    }

    /// `nvdimm_namespace_common_probe()`: the namespace behind this device. Fails with
    /// `-ENODEV` for unconfigured claim devices and size-0 seed namespaces.
    pub(crate) fn common_probe(&self) -> Result<Namespace> {
        // SAFETY: `self` holds a reference on the device; the bus calls probe with the
        // device lock held.
        let ndns = from_err_ptr(unsafe { glue::rpmem_common_probe(self.as_raw()) })?;
        let ndns = NonNull::new(ndns).ok_or(ENODEV)?;
        Ok(Namespace { ndns })
    }

    /// Whether this is a btt (sector mode) claim device.
    pub(crate) fn is_btt(&self) -> bool {
        // SAFETY: `self` holds a reference on the device.
        unsafe { glue::rpmem_is_btt(self.as_raw()) }
    }

    /// Whether this is a pfn (fsdax mode) claim device.
    pub(crate) fn is_pfn(&self) -> bool {
        // SAFETY: `self` holds a reference on the device.
        unsafe { glue::rpmem_is_pfn(self.as_raw()) }
    }

    /// `nvdimm_namespace_attach_btt()`: the btt driver creates and owns its own disk.
    pub(crate) fn attach_btt(&self, ns: &Namespace) -> Result {
        // SAFETY: `ns` came from `common_probe` on this device, during probe.
        to_result(unsafe { glue::rpmem_attach_btt(ns.ndns.as_ptr()) })
    }

    /// `nvdimm_namespace_detach_btt()`, the undo of [`Self::attach_btt`].
    fn detach_btt(&self) {
        // SAFETY: Called from remove of a btt device whose attach succeeded.
        unsafe { glue::rpmem_detach_btt(self.as_raw()) }
    }

    /// Enables raw access to the namespace (for info-block detection); devm-undone.
    pub(crate) fn raw_enable(&self, ns: &Namespace) -> Result {
        // SAFETY: `ns` belongs to this device; the enable is devm-managed by it.
        to_result(unsafe { glue::rpmem_raw_enable(self.as_raw(), ns.ndns.as_ptr()) })
    }

    /// Disables raw access again before the namespace is mapped.
    pub(crate) fn raw_disable(&self, ns: &Namespace) {
        // SAFETY: `ns` belongs to this device.
        unsafe { glue::rpmem_raw_disable(self.as_raw(), ns.ndns.as_ptr()) }
    }

    /// Looks for a btt, pfn or dax info block: `Ok(())` when one claims the namespace
    /// (which must then not be served raw), otherwise the prober's error.
    pub(crate) fn probe_info_block(&self, ns: &Namespace, kind: InfoBlock) -> Result {
        let (dev, ndns) = (self.as_raw(), ns.ndns.as_ptr());
        // SAFETY: Raw access was enabled by `raw_enable`; `ns` belongs to this device.
        let ret = unsafe {
            match kind {
                InfoBlock::Btt => glue::rpmem_btt_probe(dev, ndns),
                InfoBlock::Pfn => glue::rpmem_pfn_probe(dev, ndns),
                InfoBlock::Dax => glue::rpmem_dax_probe(dev, ndns),
            }
        };
        to_result(ret)
    }

    /// Maps the namespace (pfn info block, resource reservation, memremap with or without
    /// struct pages). The mapping lives until the driver is unbound (devm).
    pub(crate) fn map(&self, ns: &Namespace) -> Result<(glue::MapInfo, Option<Pagemap>)> {
        let mut info = glue::MapInfo::zeroed();
        let mut pgmap = core::ptr::null_mut();
        // SAFETY: `info` and `pgmap` are valid for writes; `ns` belongs to this device.
        to_result(unsafe {
            glue::rpmem_map_namespace(self.as_raw(), ns.ndns.as_ptr(), &mut info, &mut pgmap)
        })?;
        Ok((info, NonNull::new(pgmap).map(|p| Pagemap { p })))
    }

    /// `nvdimm_has_flush()` of the parent region: >0 flush hints, 0 none needed, <0 unknown
    /// (no guarantee of persistence).
    pub(crate) fn has_flush(&self) -> i32 {
        // SAFETY: `self` holds a reference on the device, whose parent is its region.
        unsafe { glue::rpmem_has_flush(self.as_raw()) }
    }

    /// `nvdimm_flush()` of the parent region, without a bio.
    pub(crate) fn flush(&self) -> Result {
        // SAFETY: A null bio asks for a synchronous flush.
        to_result(unsafe { glue::rpmem_flush(self.as_raw(), core::ptr::null_mut()) })
    }

    /// `nvdimm_flush()` on behalf of `bio`: `Ok(true)` when the region's flush completes
    /// the bio asynchronously (it must then not be ended by the driver).
    pub(crate) fn flush_for(&self, bio: *mut bindings::bio) -> Result<bool> {
        // SAFETY: `bio` is the live bio being submitted (see `block::Bio::as_raw`).
        let ret = unsafe { glue::rpmem_flush(self.as_raw(), bio) };
        to_result(ret)?;
        Ok(ret == NVDIMM_FLUSH_ASYNC)
    }

    /// `nvdimm_clear_poison()`: asks the platform to clear `len` bytes of poison at the
    /// physical address `phys`; the number of bytes it reports cleared.
    pub(crate) fn clear_poison(&self, phys: u64, len: u32) -> Result<u64> {
        // SAFETY: `self` is the bound device; the bus validates the range.
        let ret = unsafe { glue::rpmem_clear_poison(self.as_raw(), phys, len) };
        match u64::try_from(ret) {
            Ok(cleared) => Ok(cleared),
            Err(_) => Err(i32::try_from(ret).map_or(EIO, Error::from_errno)),
        }
    }

    /// How the bus and CPU can clear poison (`glue::CLEAR_*` bits).
    pub(crate) fn clear_caps(&self) -> u32 {
        // SAFETY: `self` is a device whose parent is its region, on an nvdimm bus.
        unsafe { glue::rpmem_clear_caps(self.as_raw()) }
    }

    /// Adds `phys..phys + len` to the bus's list of bad ranges (test build: platform
    /// poison, which outlives unbind and module reload and is read again at probe).
    #[cfg(rust_pmem_test)]
    pub(crate) fn bus_add_poison(&self, phys: u64, len: u64) -> Result {
        // SAFETY: `self` is a bound device on an nvdimm bus; the list has its own lock.
        to_result(unsafe { glue::rpmem_test_bus_add_poison(self.as_raw(), phys, len) })
    }

    /// Removes `phys..phys + len` from the bus's list of bad ranges (test build).
    #[cfg(rust_pmem_test)]
    pub(crate) fn bus_forget_poison(&self, phys: u64, len: u64) {
        // SAFETY: As for `bus_add_poison`.
        unsafe { glue::rpmem_test_bus_forget_poison(self.as_raw(), phys, len) }
    }

    fn drvdata(&self) -> *mut c_void {
        // SAFETY: `self` holds a reference on the device.
        unsafe { glue::rpmem_get_drvdata(self.as_raw()) }
    }

    pub(crate) fn raw(&self) -> *mut bindings::device {
        self.as_raw()
    }
}

/// Which info block [`NdDevice::probe_info_block`] looks for.
#[derive(Clone, Copy)]
pub(crate) enum InfoBlock {
    Btt,
    Pfn,
    Dax,
}

/// A namespace (`struct nd_namespace_common`), valid while its device is being probed
/// or is bound.
pub(crate) struct Namespace {
    ndns: NonNull<glue::NdNamespaceCommon>,
}

impl Namespace {
    pub(crate) fn as_raw(&self) -> *mut glue::NdNamespaceCommon {
        self.ndns.as_ptr()
    }
}

/// The devm-owned `dev_pagemap` of a namespace mapped with struct pages.
pub(crate) struct Pagemap {
    p: NonNull<glue::RpmemPgmap>,
}

// SAFETY: The pagemap is a devm allocation of the bound device; its owner pointer is
// written and read under the pagemap's own lock, so any thread may set it.
unsafe impl Send for Pagemap {}
// SAFETY: See above: `&Pagemap` only allows `set_owner`, under that lock.
unsafe impl Sync for Pagemap {}

impl Pagemap {
    /// Routes `memory_failure` on these pages to `owner` (or nowhere, with null). Waits
    /// for the calls that still run on the old owner, so that once it returns nothing
    /// uses the old owner any more. Sleeps.
    pub(crate) fn set_owner(&self, owner: *const c_void) {
        // SAFETY: `p` is live while the device is bound, which outlives `self`'s owner.
        unsafe { glue::rpmem_pgmap_set_owner(self.p.as_ptr(), owner) }
    }
}

/// Called by the nd bus to probe `dev` (device lock held).
#[no_mangle]
extern "C" fn rpmem_rs_probe(dev: *mut bindings::device) -> c_int {
    // SAFETY: The bus holds a reference on `dev` for the duration of probe.
    let nd = unsafe { NdDevice::from_raw(dev) };
    match crate::probe(&nd) {
        Ok(None) => 0,
        Ok(Some(pmem)) => {
            let ptr = KBox::into_raw(pmem);
            // SAFETY: Ownership of the box moves to the device's drvdata until remove.
            unsafe { glue::rpmem_set_drvdata(dev, ptr.cast()) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Called by the nd bus to unbind `dev` (device lock held).
#[no_mangle]
extern "C" fn rpmem_rs_remove(dev: *mut bindings::device) {
    // SAFETY: The bus holds a reference on `dev` for the duration of remove.
    let nd = unsafe { NdDevice::from_raw(dev) };
    if nd.is_btt() {
        nd.detach_btt();
    } else {
        let ptr = nd.drvdata().cast::<crate::PmemDevice>();
        if !ptr.is_null() {
            // SAFETY: `ptr` came from `KBox::into_raw` in probe and is taken back once,
            // here; drvdata is cleared so nothing else can reach it.
            let pmem = unsafe {
                glue::rpmem_set_drvdata(dev, core::ptr::null_mut());
                KBox::from_raw(ptr)
            };
            drop(pmem);
        }
    }
    let _ = nd.flush();
}

// `enum nvdimm_event` of include/linux/nd.h (not in the Rust bindings).
const NVDIMM_REVALIDATE_POISON: c_int = 0;
const NVDIMM_REVALIDATE_REGION: c_int = 1;
// `NVDIMM_FLUSH_ASYNC` of include/linux/libnvdimm.h.
const NVDIMM_FLUSH_ASYNC: c_int = 1;

/// The events the bus sends to `notify`.
pub(crate) enum Event {
    RevalidatePoison,
    RevalidateRegion,
}

/// Called by the nd bus with the device lock held while a driver is bound.
#[no_mangle]
extern "C" fn rpmem_rs_notify(dev: *mut bindings::device, event: c_int) {
    // SAFETY: The bus holds a reference on `dev` and its device lock.
    let nd = unsafe { NdDevice::from_raw(dev) };
    let event = match event {
        NVDIMM_REVALIDATE_POISON => Event::RevalidatePoison,
        NVDIMM_REVALIDATE_REGION => Event::RevalidateRegion,
        _ => {
            dev_warn!(nd.dev(), "notify: unknown event: {}\n", event);
            return;
        }
    };
    if nd.is_btt() {
        match event {
            // SAFETY: A btt device with a bound driver has an attached btt.
            Event::RevalidateRegion => unsafe { glue::rpmem_btt_revalidate_region(dev) },
            // SAFETY: As above; the namespace's badblocks live as long as it does.
            Event::RevalidatePoison => unsafe { glue::rpmem_btt_revalidate_poison(dev) },
        }
        return;
    }
    let ptr = nd.drvdata().cast::<crate::PmemDevice>();
    // SAFETY: drvdata is set between a successful probe and remove, both of which hold
    // the device lock that is held here too, so the box is live for this call.
    if let Some(pmem) = unsafe { ptr.as_ref() } {
        pmem.notify(event);
    }
}
