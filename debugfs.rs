// SPDX-License-Identifier: GPL-2.0

//! debugfs: `rust_pmem/pmemN/` with the poison backend, the poison counters and, in a
//! test build, `inject_poison` / `clear_poison` to plant and remove latent poison
//! ("SECTOR LENGTH" in disk sectors, in the style of CXL's debugfs files).
//!
//! The `rust_pmem` directory lives as long as the module; each device's directory holds
//! a reference to its [`Pmem`] and is removed before the device's teardown goes on.

use kernel::{
    debugfs::{
        Dir,
        Scope, //
    },
    fmt,
    prelude::*,
    sync::Arc,
};

#[cfg(rust_pmem_test)]
use kernel::uaccess::UserSliceReader;

use crate::Pmem;

kernel::sync::global_lock! {
    // SAFETY: Initialised in `Root::new` (module init) before any use.
    unsafe(uninit) static ROOT: Mutex<Option<Dir>> = None;
}

/// The module's `rust_pmem` directory; removed when dropped (module exit).
pub(crate) struct Root(());

impl Root {
    /// Creates `rust_pmem/`. Called once, at module init.
    pub(crate) fn new() -> Self {
        // SAFETY: Module init runs once, before any probe can use the lock.
        unsafe { ROOT.init() };
        *ROOT.lock() = Some(Dir::new(c"rust_pmem"));
        Self(())
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        ROOT.lock().take();
    }
}

/// A device's `rust_pmem/NAME/` directory.
pub(crate) type DeviceDir = Pin<KBox<Scope<Arc<Pmem>>>>;

/// Creates `rust_pmem/NAME/` for `pmem`.
pub(crate) fn device_dir(name: &CStr, pmem: Arc<Pmem>) -> Result<DeviceDir> {
    let guard = ROOT.lock();
    let root = guard.as_ref().ok_or(ENOENT)?;
    KBox::pin_init(
        root.scope(Ok::<_, Error>(pmem), name, |pmem, dir| {
            dir.read_callback_file(c"backend", pmem, &show_backend);
            dir.read_callback_file(c"counters", pmem, &show_counters);
            #[cfg(rust_pmem_test)]
            {
                dir.write_only_callback_file(c"inject_poison", pmem, &inject_poison);
                dir.write_only_callback_file(c"clear_poison", pmem, &clear_poison);
                dir.read_write_callback_file(
                    c"rewrite_delay_us",
                    pmem,
                    &show_rewrite_delay,
                    &set_rewrite_delay,
                );
                dir.write_only_callback_file(c"hw_memory_failure", pmem, &hw_memory_failure);
            }
        }),
        GFP_KERNEL,
    )
}

fn show_backend(pmem: &Arc<Pmem>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", pmem.backend().name())
}

fn show_counters(pmem: &Arc<Pmem>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (name, value) in pmem.stats().snapshot() {
        writeln!(f, "{name} {value}")?;
    }
    Ok(())
}

/// Parses "SECTOR LENGTH" (decimal, LENGTH > 0, optional trailing newline).
#[cfg(any(rust_pmem_test, all(CONFIG_KUNIT, rust_pmem_kunit)))]
pub(crate) fn parse_range(input: &[u8]) -> Result<(u64, u64)> {
    let s = core::str::from_utf8(input).map_err(|_| EINVAL)?;
    let s = s.strip_suffix('\n').unwrap_or(s);
    let mut it = s.split(' ');
    let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
        return Err(EINVAL);
    };
    let parse = |t: &str| {
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(EINVAL);
        }
        t.parse::<u64>().map_err(|_| EINVAL)
    };
    let (sector, len) = (parse(a)?, parse(b)?);
    if len == 0 {
        return Err(EINVAL);
    }
    Ok((sector, len))
}

#[cfg(rust_pmem_test)]
fn read_range(reader: &mut UserSliceReader) -> Result<(u64, u64)> {
    let mut buf = [0u8; 64];
    let len = reader.len();
    if len == 0 || len > buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..len])?;
    parse_range(&buf[..len])
}

#[cfg(rust_pmem_test)]
fn inject_poison(pmem: &Arc<Pmem>, reader: &mut UserSliceReader) -> Result {
    let (sector, len) = read_range(reader)?;
    pmem.inject_latent(sector, len)
}

#[cfg(rust_pmem_test)]
fn clear_poison(pmem: &Arc<Pmem>, reader: &mut UserSliceReader) -> Result {
    let (sector, len) = read_range(reader)?;
    pmem.clear_latent(sector, len)
}

#[cfg(rust_pmem_test)]
fn show_rewrite_delay(pmem: &Arc<Pmem>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", pmem.rewrite_delay())
}

/// Parses one decimal number (optional trailing newline).
#[cfg(rust_pmem_test)]
fn set_rewrite_delay(pmem: &Arc<Pmem>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 16];
    let len = reader.len();
    if len == 0 || len > buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..len])?;
    let s = core::str::from_utf8(&buf[..len]).map_err(|_| EINVAL)?;
    let s = s.strip_suffix('\n').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(EINVAL);
    }
    pmem.set_rewrite_delay(s.parse::<u64>().map_err(|_| EINVAL)?)
}

#[cfg(rust_pmem_test)]
fn hw_memory_failure(pmem: &Arc<Pmem>, reader: &mut UserSliceReader) -> Result {
    let (sector, len) = read_range(reader)?;
    pmem.hw_memory_failure(sector, len)
}

#[cfg(all(CONFIG_KUNIT, rust_pmem_kunit))]
#[kunit_tests(rust_pmem_debugfs)]
mod tests {
    use super::*;

    #[test]
    fn parses_sector_length() {
        assert_eq!(parse_range(b"8 8"), Ok((8, 8)));
        assert_eq!(parse_range(b"8 8\n"), Ok((8, 8)));
        assert_eq!(parse_range(b"0 1"), Ok((0, 1)));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"8",
            b"8 0",
            b"8 -1",
            b"abc",
            b"8 8 x",
            b"8  8",
            b" 8 8",
            b"8 8\n\n",
            b"99999999999999999999 1",
            b"+8 8",
        ] {
            assert_eq!(parse_range(bad), Err(EINVAL));
        }
    }
}
