// SPDX-License-Identifier: GPL-2.0

//! Address arithmetic of a pmem namespace: sectors and DAX page offsets to byte offsets
//! in the mapping, all checked (no wrap, no access past the usable end).
//!
//! The usable media is `data_offset..size - pfn_pad` of the mapping: an fsdax namespace
//! keeps its info block and struct-page area before `data_offset`, and may be truncated
//! at the end (`pfn_pad`); a raw namespace has both zero.

use kernel::prelude::*;

/// Bytes in a sector.
pub(crate) const SECTOR_SIZE: u64 = 512;
/// log2 of [`SECTOR_SIZE`].
pub(crate) const SECTOR_SHIFT: u32 = 9;
/// Bytes in a page.
pub(crate) const PAGE_SIZE: u64 = kernel::page::PAGE_SIZE as u64;
/// [`PAGE_SIZE`] as `u32`.
pub(crate) const PAGE_SIZE_U32: u32 = kernel::page::PAGE_SIZE as u32;
/// [`PAGE_SIZE`] as `usize`, for buffers.
pub(crate) const PAGE_BYTES: usize = kernel::page::PAGE_SIZE;
/// log2 of [`PAGE_SIZE`].
pub(crate) const PAGE_SHIFT: u32 = PAGE_SIZE.trailing_zeros();

/// A small index (a sector within a page, a byte within a page) as a 64-bit quantity;
/// lossless on every kernel target, where `usize` is at most 64 bits.
pub(crate) fn widen(i: usize) -> u64 {
    u64::try_from(i).unwrap_or(u64::MAX)
}

/// Where the data lives in a namespace's mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    data_offset: u64,
    end: u64,
}

impl Geometry {
    /// `size` bytes mapped, data from `data_offset`, the last `pfn_pad` bytes unused.
    pub(crate) fn new(size: u64, data_offset: u64, pfn_pad: u64) -> Result<Self> {
        let end = size.checked_sub(pfn_pad).ok_or(EINVAL)?;
        if data_offset > end {
            return Err(EINVAL);
        }
        Ok(Self { data_offset, end })
    }

    /// Capacity of the block device in 512-byte sectors.
    pub(crate) fn capacity_sectors(&self) -> u64 {
        (self.end - self.data_offset) >> SECTOR_SHIFT
    }

    /// Byte offset in the mapping of `len` bytes at `sector`; `EIO` if out of range.
    pub(crate) fn sector_offset(&self, sector: u64, len: u64) -> Result<u64> {
        let off = sector
            .checked_mul(SECTOR_SIZE)
            .and_then(|b| b.checked_add(self.data_offset))
            .ok_or(EIO)?;
        match off.checked_add(len) {
            Some(end) if end <= self.end => Ok(off),
            _ => Err(EIO),
        }
    }

    /// Byte offset in the mapping of DAX page `pgoff`; `ERANGE` past the end.
    pub(crate) fn page_offset(&self, pgoff: u64) -> Result<u64> {
        let off = pgoff
            .checked_mul(PAGE_SIZE)
            .and_then(|b| b.checked_add(self.data_offset))
            .ok_or(ERANGE)?;
        if off >= self.end {
            return Err(ERANGE);
        }
        Ok(off)
    }

    /// Whole pages available for DAX from byte offset `off` to the usable end.
    pub(crate) fn pages_from(&self, off: u64) -> u64 {
        self.end.saturating_sub(off) >> PAGE_SHIFT
    }

    /// The sector of byte offset `off` (the inverse of [`Self::sector_offset`]).
    pub(crate) fn offset_sector(&self, off: u64) -> u64 {
        off.saturating_sub(self.data_offset) >> SECTOR_SHIFT
    }
}

#[cfg(all(CONFIG_KUNIT, rust_pmem_kunit))]
#[kunit_tests(rust_pmem)]
mod tests {
    use super::*;

    #[test]
    fn raw_namespace() -> Result {
        let g = Geometry::new(512 << 20, 0, 0)?;
        assert_eq!(g.capacity_sectors(), 1 << 20);
        assert_eq!(g.sector_offset(0, 512)?, 0);
        assert_eq!(g.sector_offset(8, 4096)?, 4096);
        // The last sector is in range, one byte more is not.
        assert_eq!(g.sector_offset((1 << 20) - 1, 512)?, (512 << 20) - 512);
        assert!(g.sector_offset((1 << 20) - 1, 513).is_err());
        assert!(g.sector_offset(1 << 20, 512).is_err());
        Ok(())
    }

    #[test]
    fn no_wrap() -> Result {
        let g = Geometry::new(1 << 30, 0, 0)?;
        assert!(g.sector_offset(u64::MAX, 512).is_err());
        assert!(g.sector_offset(u64::MAX >> SECTOR_SHIFT, 512).is_err());
        assert!(g.page_offset(u64::MAX).is_err());
        Ok(())
    }

    #[test]
    fn fsdax_layout() -> Result {
        // 2 MiB of info block and memmap, 2 MiB truncated at the end.
        let g = Geometry::new(64 << 20, 2 << 20, 2 << 20)?;
        assert_eq!(g.capacity_sectors(), (60 << 20) / SECTOR_SIZE);
        assert_eq!(g.sector_offset(0, 512)?, 2 << 20);
        assert_eq!(g.page_offset(1)?, (2 << 20) + PAGE_SIZE);
        assert_eq!(g.offset_sector((2 << 20) + 4096), 8);
        assert_eq!(g.pages_from(g.page_offset(0)?), (60 << 20) / PAGE_SIZE);
        assert!(g.page_offset((60 << 20) / PAGE_SIZE).is_err());
        Ok(())
    }

    #[test]
    fn bad_layouts() {
        assert!(Geometry::new(4096, 0, 8192).is_err());
        assert!(Geometry::new(8192, 8192 + 1, 0).is_err());
    }
}
