#!/bin/bash
# Zeroing clears poison.
# (a) BLKZEROOUT (pmem has no write-zeroes: the block layer writes the zero
#     page) over a recorded bad page, and over a recorded sub-page range
#     exactly: the records are gone, the ranges read zeroes, the data around
#     is kept (rust_pmem: one cleared_legacy per page).
# (b) dax_operations.zero_page_range: xfs -o dax (reflink=0), a file with a
#     64 KiB extent-size hint. A DAX write past EOF allocates up to the hint
#     boundary (xfs_iomap_eof_align_last_fsb), zeroed and written; the first
#     close trims post-EOF blocks, later ones keep them (XFS_EOFBLOCKS_RELEASED).
#     So: write page 0 (close trims), append page 1 (allocates pages 1..15,
#     kept), put a pattern on post-EOF page 4 through the block device, record
#     it bad, truncate up to 64 KiB: xfs_zero_range -> dax_zero_range finds the
#     written post-EOF pages and zeroes each whole page with
#     dax_zero_page_range, which reaches the driver's zero_page_range. The
#     record is gone, the page reads zeroes. A kprobe on dax_zero_page_range
#     shows the call for that page (no kprobes: the case fails).
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0
rust() { [ "$DRIVER" = rust ]; }

log "-- (a) BLKZEROOUT"
SEED=$(random_seed)
BASE=$((24 * MiB / SECTOR_SIZE)) # 8 pages
P1=$((BASE + 8))
R3=$((BASE + 24 + 2))
write_sectors pmem0 $BASE 64 "$SEED" || fail "writing the data failed"
rust && cl0=$(counter pmem0 cleared_legacy)
bb_add pmem0 $((P1 + 1)) 5
bb_add pmem0 $R3 2
sector_eio pmem0 $P1 8 || fail "bad page reads"
must pmemio zeroout /dev/pmem0 $((P1 * SECTOR_SIZE)) 4096
expect_bb pmem0 "$R3 2" || fail "BLKZEROOUT of the page did not clear its record"
must pmemio zero /dev/pmem0 $((P1 * SECTOR_SIZE)) 4096 direct
must pmemio zeroout /dev/pmem0 $((R3 * SECTOR_SIZE)) 1024
expect_bb pmem0 none || fail "BLKZEROOUT of the sub-page range did not clear it"
must pmemio zero /dev/pmem0 $((R3 * SECTOR_SIZE)) 1024 direct
sector_reads pmem0 $BASE 8 "$SEED" || fail "page 0"
sector_reads pmem0 $((BASE + 16)) 10 "$SEED" || fail "page 2 and the start of page 3"
sector_reads pmem0 $((R3 + 2)) $((BASE + 64 - R3 - 2)) "$SEED" || fail "rest of page 3 and pages 4-7"
if rust; then
	expect_counter pmem0 cleared_legacy $((cl0 + 2)) || fail "BLKZEROOUT clears not counted"
fi
log "(a) BLKZEROOUT cleared a bad page and a bad sub-page range; zeroes read, neighbours kept"

log "-- (b) xfs truncate-up over a written post-EOF page"
MNT="$MNT_BASE/dax_zero_range_clears"
F="$MNT/f"
dax_fs_setup xfs pmem0 "$MNT" reflink=0 || fail "xfs -o dax mount failed"
touch "$F"
out=$(xfs_io -c "extsize 64k" -c extsize "$F" 2>&1) || fail "xfs_io extsize: $out"
[[ $out == *"[65536]"* ]] || fail "extent size hint not set: $out"
must pmemio write "$F" 0 4096 "$SEED" fsync
must pmemio write "$F" 4096 4096 "$SEED" fsync
log "extents of $F (size 8 KiB): $(xfs_io -c 'fiemap -v 0 128k' "$F" | tail -n +3 | tr -s ' ' | tr '\n' ';')"
PG=$((4 * 4096))
S=$(file_sector "$F" $PG) ||
	fail "no block past EOF at $PG: xfs did not keep the extent-size-aligned post-EOF blocks, zero_page_range cannot be reached this way"
[ $((S % 8)) = 0 ] || fail "post-EOF page at sector $S: not page aligned"
Z=$(random_seed)
write_sectors pmem0 "$S" 8 "$Z" || fail "writing a pattern to the post-EOF page"
bb_add pmem0 "$S" 8
rust && cl0=$(counter pmem0 cleared_legacy)
kprobe_count_start rpt_zero_page dax_zero_page_range 'pgoff=%si:u64' ||
	fail "no kprobe on dax_zero_page_range: the zeroing path cannot be observed"
out=$(xfs_io -c "truncate 65536" "$F" 2>&1) || fail "truncate up: $out"
hits=$(grep -c " rpt_zero_page:.* pgoff=$((S / 8))\$" "$KPROBE_TRACEFS/trace")
log "dax_zero_page_range calls: $(kprobe_count rpt_zero_page), for pgoff $((S / 8)): $hits"
kprobe_count_stop rpt_zero_page
[ "$hits" -ge 1 ] || fail "truncate-up did not call dax_zero_page_range for the bad page"
expect_bb pmem0 none || fail "zero_page_range did not clear the record"
must pmemio zero /dev/pmem0 $((S * SECTOR_SIZE)) 4096 direct
must pmemio verify "$F" 0 8192 "$SEED"
must pmemio zero "$F" 8192 $((65536 - 8192))
if rust; then
	expect_counter pmem0 cleared_legacy $((cl0 + 1)) || fail "zero_page_range clear not counted"
fi
log "(b) truncate-up zeroed the written post-EOF bad page through zero_page_range: record gone, zeroes"
fs_umount "$MNT" || fail "umount failed"
