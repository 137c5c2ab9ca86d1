#!/bin/bash
# rust_pmem's clear backend on the memmap (e820) bus, which has no bus
# commands: "legacy" (or "movdir64b" where the CPU has MOVDIR64B, which TCG's
# -cpu max has not), for both devices. A write over a sysfs-recorded range
# clears it through that backend: its counter goes up by one per page, the
# other backends' counters and failed_clears do not move.
# On QEMU's NFIT bus (PMEM=nvdimm), which has no clear-error command: backend
# "none"; a write over a recorded range fails with EIO before anything changes
# (data and record kept, failed_clears +1, nothing else counted); a rebind
# reads the bus's poison list again, which does not hold the sysfs-made record.
set -u
. "$(dirname "$0")/../lib.sh"
[ "$DRIVER" = rust ] || skip "beyond nd_pmem: rust_pmem's debugfs backend and counters"

if [ "$PMEM" = nvdimm ]; then
	require_poison_tools
	require_rust_debugfs pmem0
	NS=$(dev_ns pmem0)
	on_exit 'ns_rebind "$NS" >/dev/null'
	expect_eq "$(rust_dbg pmem0)/backend" none "$(cat "$(rust_dbg pmem0)/backend")" ||
		fail "wrong clear backend on QEMU's NFIT bus (it has no clear-error command)"
	SEED=$(random_seed)
	NEW=$(random_seed)
	BASE=$((4 * MiB / SECTOR_SIZE))
	write_sectors pmem0 $BASE 32 "$SEED" || fail "writing the data failed"
	c0=$(counters_line pmem0)
	n0=$(counter pmem0 failed_clears)
	bb_add pmem0 $((BASE + 9)) 2
	out=$(pmemio write /dev/pmem0 $(((BASE + 8) * SECTOR_SIZE)) 4096 "$NEW" direct 2>&1)
	case $out in "err EIO "*) ;; *) fail "write over the bad range: expected EIO, got '$out'" ;; esac
	expect_bb pmem0 "$((BASE + 9)) 2" || fail "the record changed"
	sector_reads pmem0 $BASE 9 "$SEED" || fail "data before the range changed"
	sector_reads pmem0 $((BASE + 11)) 21 "$SEED" || fail "data after the range changed"
	expect_eq "counters after a refused clear" \
		"$(sed "s/\bfailed_clears $n0\b/failed_clears $((n0 + 1))/" <<<"$c0")" "$(counters_line pmem0)" ||
		fail "expected only failed_clears to go up, by 1"
	log "backend none: write refused with EIO, nothing changed: $(counters_line pmem0)"
	ns_rebind "$NS" || fail "rebind failed"
	expect_bb pmem0 none || fail "the sysfs record survived a rebind"
	sector_reads pmem0 $((BASE + 9)) 2 "$SEED" || fail "old data of the range after the rebind"
	exit 0
fi
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
