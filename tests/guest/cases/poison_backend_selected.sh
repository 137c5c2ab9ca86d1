#!/bin/bash
# rust_pmem's clear backend on the memmap (e820) bus, which has no bus
# commands: "legacy" (or "movdir64b" where the CPU has MOVDIR64B, which TCG's
# -cpu max has not), for both devices. A write over a sysfs-recorded range
# clears it through that backend: its counter goes up by one per page, the
# other backends' counters and failed_clears do not move.
set -u
. "$(dirname "$0")/../lib.sh"
[ "$DRIVER" = rust ] || skip "beyond nd_pmem: rust_pmem's debugfs backend and counters"
poison_test_setup pmem0 pmem1

if grep -qw movdir64b /proc/cpuinfo; then
	WANT=movdir64b CNT=cleared_movdir64b
else
	WANT=legacy CNT=cleared_legacy
fi
for d in pmem0 pmem1; do
	expect_eq "$(rust_dbg $d)/backend" "$WANT" "$(cat "$(rust_dbg $d)/backend")" ||
		fail "$d: wrong clear backend on the memmap bus"
done
log "backend: $WANT on pmem0 and pmem1"

SEED=$(random_seed)
for d in pmem0 pmem1; do
	BASE=$((4 * MiB / SECTOR_SIZE))
	write_sectors $d $BASE 32 "$SEED" || fail "$d: writing the data failed"
	c0=$(counters_line $d)
	n0=$(counter $d $CNT)
	bb_add $d $((BASE + 9)) 2
	bb_add $d $((BASE + 16)) 8
	write_sectors $d $((BASE + 8)) 16 "$SEED" || fail "$d: write over the bad ranges"
	expect_bb $d none || fail "$d: write did not clear the ranges"
	sector_reads $d $BASE 32 "$SEED" || fail "$d: data after the clear"
	expect_eq "$d counters after clearing two pages" \
		"$(sed "s/\b$CNT $n0\b/$CNT $((n0 + 2))/" <<<"$c0")" "$(counters_line $d)" ||
		fail "$d: expected only $CNT to go up, by 2"
	log "$d: cleared 2 pages through $WANT: $(counters_line $d)"
done
