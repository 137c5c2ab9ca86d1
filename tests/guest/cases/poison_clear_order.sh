#!/bin/bash
# The clear engine's order against hardware-like poison (rust_pmem's test build):
# a read that runs into planted poison takes an emulated machine check, which,
# as the kernel's MCE handling does, marks the page HWPoison and takes it out of
# the direct map (a store through it there would fault: an oops, which fails
# the case); and the test build's platform clear on memmap leaves junk (0x5a)
# in what it clears. Each of the three writers that clear poison then writes
# over a page hit by such a machine check, and must succeed, leave no kernel
# problem, and leave exactly the data written (so the clear came before the
# store, and the store after the page was reachable again):
# (a) a block write of one sector of the page; the page's other sectors, read
#     back by the engine from a page out of the direct map, keep their data;
#     before the write they read back too (only the bad sector fails);
# (b) dax_operations.recovery_write: ext4 -o dax, a 4 KiB pwrite(2) over a file
#     page whose sector took the machine check; then a DAX load (mmap) of the
#     page reads the new data (it is present again);
# (c) dax_operations.zero_page_range: xfs -o dax truncate-up over a written
#     post-EOF page that took the machine check (the recipe of
#     dax_zero_range_clears); the page reads zeroes.
# nd_pmem has no planted poison: the case is rust_pmem's (skip on nd_pmem).
# rust_pmem: test build (plants poison through its debugfs; on a kernel where the
# production build is tested, this case loads the test build)
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0
[ "$DRIVER" = rust ] || skip "planted poison (machine checks under emulation) is rust_pmem's test build"
has_latent pmem0 || fail "rust_pmem built without RUST_PMEM_TEST=1: no inject_poison"

# hit DEV SECTOR: plant poison on SECTOR and read it: EIO, recorded, counted.
hit() {
	local mc0
	mc0=$(counter "$1" machine_checks)
	latent_inject "$1" "$2" 1
	sector_eio "$1" "$2" 1 || fail "read of poisoned sector $2 did not fail"
	expect_counter "$1" machine_checks $((mc0 + 1)) || fail "machine check on sector $2 not counted"
	[[ "$(bb_show "$1")" == *"$2 1"* ]] || fail "sector $2 not recorded: $(bb_show "$1")"
}

log "-- (a) block write over a page that took a machine check"
SEED=$(random_seed)
NEW=$(random_seed)
BASE=$((28 * MiB / SECTOR_SIZE))
P=$((BASE + 8))
write_sectors pmem0 $BASE 24 "$SEED" || fail "writing the data failed"
cl0=$(counter pmem0 cleared_legacy)
hit pmem0 $((P + 3))
sector_reads pmem0 $P 3 "$SEED" || fail "(a) good sectors before the bad one, after the machine check"
sector_reads pmem0 $((P + 4)) 4 "$SEED" || fail "(a) good sectors after the bad one, after the machine check"
expect_bb pmem0 "$((P + 3)) 1" || fail "(a) reading good sectors of the page recorded more"
write_sectors pmem0 $((P + 3)) 1 "$NEW" || fail "(a) write over the bad sector"
expect_bb pmem0 none || fail "(a) record not cleared"
expect_counter pmem0 cleared_legacy $((cl0 + 1)) || fail "(a) clear not counted"
sector_reads pmem0 $P 3 "$SEED" || fail "(a) sectors 0-2 after the clear (junk: the store came before the clear?)"
sector_reads pmem0 $((P + 3)) 1 "$NEW" || fail "(a) the written sector"
sector_reads pmem0 $((P + 4)) 4 "$SEED" || fail "(a) sectors 4-7 after the clear"
sector_reads pmem0 $BASE 8 "$SEED" || fail "(a) page before"
sector_reads pmem0 $((BASE + 16)) 8 "$SEED" || fail "(a) page after"
log "(a) block write: the page's good sectors read before and after, the new one reads back"

log "-- (b) recovery_write over a DAX file page that took a machine check"
MNT="$MNT_BASE/poison_clear_order"
F="$MNT/f"
PG=4096
dax_fs_setup ext4 pmem0 "$MNT" || fail "ext4 -o dax mount failed"
must pmemio write "$F" 0 65536 "$SEED" creat fsync
S=$(file_sector "$F" $PG) || fail "no sector for $F offset $PG"
[ $((S % 8)) = 0 ] || fail "page of $F at sector $S: not page aligned"
rw0=$(counter pmem0 recovery_writes)
hit pmem0 $((S + 2))
must_err EIO pmemio read "$F" $PG 4096
must pmemio write "$F" $PG 4096 "$NEW"
expect_bb pmem0 none || fail "(b) recovery write did not clear the record"
expect_counter pmem0 recovery_writes $((rw0 + 1)) || fail "(b) the pwrite did not go through recovery_write"
must pmemio verify "$F" $PG 4096 "$NEW"
must dax_mmap verify "$F" $PG 4096 "$NEW"
must pmemio verify "$F" 0 $PG "$SEED"
must pmemio verify "$F" $((PG + 4096)) $((65536 - PG - 4096)) "$SEED"
fs_umount "$MNT" || fail "umount failed"
log "(b) recovery write: succeeded, record gone, new data reads back through read(2) and a DAX mapping"

log "-- (c) zero_page_range over a post-EOF page that took a machine check"
dax_fs_setup xfs pmem0 "$MNT" reflink=0 || fail "xfs -o dax mount failed"
touch "$F"
out=$(xfs_io -c "extsize 64k" -c extsize "$F" 2>&1) || fail "xfs_io extsize: $out"
[[ $out == *"[65536]"* ]] || fail "extent size hint not set: $out"
must pmemio write "$F" 0 4096 "$SEED" fsync
must pmemio write "$F" 4096 4096 "$SEED" fsync
PG=$((4 * 4096))
S=$(file_sector "$F" $PG) || fail "no block past EOF at $PG (see dax_zero_range_clears)"
[ $((S % 8)) = 0 ] || fail "post-EOF page at sector $S: not page aligned"
write_sectors pmem0 "$S" 8 "$(random_seed)" || fail "writing a pattern to the post-EOF page"
cl0=$(counter pmem0 cleared_legacy)
hit pmem0 $((S + 5))
out=$(xfs_io -c "truncate 65536" "$F" 2>&1) || fail "truncate up: $out"
expect_bb pmem0 none || fail "(c) zero_page_range did not clear the record"
expect_counter pmem0 cleared_legacy $((cl0 + 1)) || fail "(c) zero_page_range clear not counted"
must pmemio zero /dev/pmem0 $((S * SECTOR_SIZE)) 4096 direct
must pmemio verify "$F" 0 8192 "$SEED"
must pmemio zero "$F" 8192 $((65536 - 8192))
must dax_mmap verify "$F" 0 8192 "$SEED"
fs_umount "$MNT" || fail "umount failed"
log "(c) zero_page_range: succeeded, record gone, the page reads zeroes"
