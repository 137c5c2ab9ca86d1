#!/bin/bash
# ext4 -o dax, a written file; its second page (FIEMAP: sectors S..S+7) recorded
# bad through sysfs, umount/mount.
# Whole page: read(2) of it fails with EIO; pwrite(2) of the whole 4 KiB page
# succeeds (dax_iomap_iter retries in DAX_RECOVERY_WRITE mode and calls the
# driver's recovery_write), the record is gone and the page reads the new data.
# Sub-page (one sector, S+2, recorded bad): a 512-byte pwrite of sector S+3.
# nd_pmem refuses sub-page recovery writes (EFAULT, record kept): skipped
# there as beyond nd_pmem. rust_pmem's clear engine rewrites the page: the
# write succeeds, S+3 holds the new data, S+0,1,4..7 keep theirs (read through
# the block device), S+2 cannot be read back so it stays recorded and keeps
# failing (and the file page with it); then a 512-byte pwrite of S+2 clears it
# and the whole page reads back. recovery_writes and cleared_legacy count both.
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0

MNT="$MNT_BASE/dax_recovery_write"
F="$MNT/f"
SEED=$(random_seed)
NEW=$(random_seed)
THIRD=$(random_seed)
PG=4096 # file offset of the page under test
rust() { [ "$DRIVER" = rust ]; }
recov() { if rust; then echo "$(counter pmem0 recovery_writes) $(counter pmem0 cleared_legacy)"; fi; }

dax_fs_setup ext4 pmem0 "$MNT" || fail "ext4 -o dax mount failed"
must pmemio write "$F" 0 65536 "$SEED" creat fsync
S=$(file_sector "$F" $PG) || fail "no sector for $F offset $PG"
[ $((S % 8)) = 0 ] || fail "page of $F at sector $S: not page aligned"
sector_reads pmem0 "$S" 8 "$SEED" $PG || fail "FIEMAP sector does not hold the file's data"
log "$F page at $PG is sectors $S..$((S + 7))"

log "-- whole-page recovery write"
bb_add pmem0 "$S" 8
dax_remount pmem0 "$MNT" || fail "remount failed"
must_err EIO pmemio read "$F" $PG 4096
must_err EIO pmemio read "$F" $((PG + 1024)) 512
c0=$(recov)
kprobe_count_start rpt_recovery dax_recovery_write ||
	fail "no kprobe on dax_recovery_write: the recovery path cannot be observed"
must pmemio write "$F" $PG 4096 "$NEW"
n=$(kprobe_count rpt_recovery)
kprobe_count_stop rpt_recovery
log "dax_recovery_write calls during the whole-page pwrite: $n"
[ "$n" -ge 1 ] || fail "the whole-page pwrite did not go through dax_recovery_write"
expect_bb pmem0 none || fail "whole-page pwrite did not clear the record"
must pmemio verify "$F" $PG 4096 "$NEW"
must pmemio verify "$F" 0 $PG "$SEED"
must pmemio verify "$F" $((PG + 4096)) $((65536 - PG - 4096)) "$SEED"
must dax_mmap verify "$F" $PG 4096 "$NEW"
if rust; then
	read -r rw cl <<<"$c0"
	expect_eq "recovery_writes cleared_legacy" "$((rw + 1)) $((cl + 1))" "$(recov)" ||
		fail "the whole-page pwrite did not go through recovery_write and the clear engine"
fi
log "whole-page pwrite over the bad page: succeeded, record gone, new data reads back"

log "-- sub-page recovery write"
bb_add pmem0 $((S + 2)) 1
must_err EIO pmemio read "$F" $PG 4096
c0=$(recov)
out=$(pmemio write "$F" $((PG + 3 * 512)) 512 "$THIRD" 2>&1)
log "512-byte pwrite of sector 3 of the page (sector 2 bad): $out"
if ! rust; then
	case $out in
	"err EFAULT "*) ;;
	*) fail "nd_pmem: expected EFAULT (sub-page recovery write refused), got '$out'" ;;
	esac
	expect_bb pmem0 "$((S + 2)) 1" || fail "nd_pmem: refused write changed the record"
	must pmemio write "$F" $PG 4096 "$NEW"
	expect_bb pmem0 none || fail "whole-page pwrite did not clear the record"
	skip "beyond nd_pmem: sub-page DAX recovery write (nd_pmem: EFAULT); whole-page part passed"
fi
[ "$out" = "ok 512" ] || fail "sub-page pwrite over a page with a bad sector: $out"
expect_bb pmem0 "$((S + 2)) 1" ||
	fail "the uncovered bad sector must stay recorded (it could not be read back)"
read -r rw cl <<<"$c0"
expect_eq "recovery_writes cleared_legacy" "$((rw + 1)) $((cl + 1))" "$(recov)" ||
	fail "the sub-page pwrite did not go through recovery_write and the clear engine"
sector_reads pmem0 $((S + 3)) 1 "$THIRD" $((PG + 3 * 512)) || fail "written sector"
sector_reads pmem0 "$S" 2 "$NEW" $PG || fail "sectors 0-1 lost their data"
sector_reads pmem0 $((S + 4)) 4 "$NEW" $((PG + 4 * 512)) || fail "sectors 4-7 lost their data"
sector_eio pmem0 $((S + 2)) 1 || fail "bad sector 2"
must_err EIO pmemio read "$F" $PG 4096
log "sub-page pwrite: new data in sector 3, sectors 0-1 and 4-7 kept, sector 2 still recorded"

c0=$(recov)
must pmemio write "$F" $((PG + 2 * 512)) 512 "$THIRD"
expect_bb pmem0 none || fail "512-byte pwrite over the bad sector did not clear it"
must pmemio verify "$F" $PG 1024 "$NEW"
must pmemio verify "$F" $((PG + 1024)) 1024 "$THIRD"
must pmemio verify "$F" $((PG + 2048)) 2048 "$NEW"
must pmemio verify "$F" 0 $PG "$SEED"
must pmemio verify "$F" $((PG + 4096)) $((65536 - PG - 4096)) "$SEED"
read -r rw cl <<<"$c0"
expect_eq "recovery_writes cleared_legacy" "$((rw + 1)) $((cl + 1))" "$(recov)" ||
	fail "the pwrite over the bad sector did not go through recovery_write"
log "512-byte pwrite over the bad sector: cleared; the page reads new, third and old data"
fs_umount "$MNT" || fail "umount failed"
