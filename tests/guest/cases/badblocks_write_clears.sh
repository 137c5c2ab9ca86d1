#!/bin/bash
# An O_DIRECT write that covers a sysfs-recorded bad range succeeds, the range
# leaves /sys/block/pmem0/badblocks and the sectors read back the written data,
# for a whole bad page, a bad range inside a page written exactly, and a write
# of two pages that covers a bad range with margins. The data around is kept.
# On rust_pmem each rewritten page is counted in cleared_legacy (one per page,
# through the clear engine) and nothing in failed_clears.
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0

SEED=$(random_seed)
NEW=$(random_seed)
BASE=$((12 * MiB / SECTOR_SIZE)) # 16 pages
P1=$((BASE + 8))                 # page 1: wholly bad
R3=$((BASE + 3 * 8 + 2))         # page 3: sectors 2..3 bad
R5=$((BASE + 5 * 8 + 1))         # page 5: sectors 1..3 bad, written with pages 4-5

write_sectors pmem0 $BASE 128 "$SEED" || fail "writing the data failed"
if [ "$DRIVER" = rust ]; then
	cl0=$(counter pmem0 cleared_legacy)
	fc0=$(counter pmem0 failed_clears)
	other0="$(counter pmem0 cleared_dsm) $(counter pmem0 cleared_movdir64b)"
fi

bb_add pmem0 $P1 8
bb_add pmem0 $R3 2
bb_add pmem0 $R5 3
expect_bb pmem0 "$P1 8,$R3 2,$R5 3" || fail "sysfs writes not recorded"
for r in "$P1 8" "$R3 2" "$R5 3"; do
	# shellcheck disable=SC2086
	sector_eio pmem0 $r || fail "bad range $r reads"
done

write_sectors pmem0 $P1 8 "$NEW" || fail "whole-page write over a bad page"
expect_bb pmem0 "$R3 2,$R5 3" || fail "bad page still recorded after the write"
sector_reads pmem0 $P1 8 "$NEW" || fail "rewritten page"
log "whole-page write cleared $P1 8"

write_sectors pmem0 $R3 2 "$NEW" || fail "1 KiB write exactly over a bad range"
expect_bb pmem0 "$R5 3" || fail "range $R3 2 still recorded after the write"
sector_reads pmem0 $R3 2 "$NEW" || fail "rewritten sectors"
sector_reads pmem0 $((BASE + 24)) 2 "$SEED" || fail "sectors before in the page"
sector_reads pmem0 $((R3 + 2)) 4 "$SEED" || fail "sectors after in the page"
log "sub-page write cleared $R3 2, the rest of the page kept"

write_sectors pmem0 $((BASE + 32)) 16 "$NEW" || fail "two-page write over a bad range"
expect_bb pmem0 none || fail "range $R5 3 still recorded after the write"
sector_reads pmem0 $((BASE + 32)) 16 "$NEW" || fail "rewritten pages"
log "two-page write cleared $R5 3"

sector_reads pmem0 $BASE 8 "$SEED" || fail "page 0"
sector_reads pmem0 $((BASE + 16)) 8 "$SEED" || fail "page 2"
sector_reads pmem0 $((BASE + 48)) 80 "$SEED" || fail "pages 6-15"

if [ "$DRIVER" = rust ]; then
	expect_counter pmem0 cleared_legacy $((cl0 + 3)) || fail "cleared_legacy: expected one per cleared page"
	expect_counter pmem0 failed_clears "$fc0" || fail "failed clears counted"
	expect_eq "cleared_dsm cleared_movdir64b" "$other0" \
		"$(counter pmem0 cleared_dsm) $(counter pmem0 cleared_movdir64b)" || fail "another backend counted"
	log "counters: $(counters_line pmem0)"
fi
