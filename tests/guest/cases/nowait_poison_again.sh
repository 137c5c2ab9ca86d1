#!/bin/bash
# A RWF_NOWAIT O_DIRECT write over known poison returns EAGAIN and changes nothing
# (data, the badblocks record, the clear counters); the same write without
# RWF_NOWAIT then does what that bus allows.
# rust_pmem ends every REQ_NOWAIT write that overlaps a recorded bad range with
# BLK_STS_AGAIN before touching anything, whatever the clear backend: a clearing
# write takes the device's bounce-page mutex, and may call the bus's clear command
# (nfit_test's DSM sleeps) or make a page present again, all of which may sleep.
# - memmap (e820, backend legacy/movdir64b): the clear itself is a CPU store that
#   does not sleep, but the mutex can, so NOWAIT gets EAGAIN here too; the blocking
#   write clears (one page counted) and writes. A NOWAIT write next to the range,
#   not overlapping it, completes inline.
# - QEMU's NFIT (backend none): NOWAIT gets EAGAIN; the blocking write fails EIO and
#   the record stays (a rebind drops the sysfs-made record afterwards).
# - nd_pmem: no BLK_FEAT_NOWAIT in 7.3, so RWF_NOWAIT is EOPNOTSUPP whatever the
#   poison; the test states that and checks nothing changed.
# The nfit_test bus (a DSM clear that sleeps) is not in this suite's VMs.
set -u
. "$(dirname "$0")/../lib.sh"
require_poison_tools

SEED=$(random_seed)
NEW=$(random_seed)
BASE=$((20 * MiB / SECTOR_SIZE)) # 4 pages from here
BAD=$((BASE + 8 + 3))            # sectors 3..4 of page 1
OFF=$(((BASE + 8) * SECTOR_SIZE))

if [ "$PMEM" = nvdimm ]; then
	NS=$(dev_ns pmem0)
	on_exit 'ns_rebind "$NS" >/dev/null'
	[ -z "$(bb_list pmem0)" ] || ns_rebind "$NS" || fail "cannot drop old records"
else
	[ "$DRIVER" = c ] || require_rust_debugfs pmem0
	on_exit poison_cleanup
	poison_start pmem0
fi
sync
echo 3 >/proc/sys/vm/drop_caches

write_sectors pmem0 $BASE 32 "$SEED" || fail "writing the data failed"
require_counters pmem0
[ "$DRIVER" = rust ] && c0=$(counters_line pmem0)
bb_add pmem0 $BAD 2

if [ "$DRIVER" = c ]; then
	must_err EOPNOTSUPP pmemio write /dev/pmem0 $OFF 4096 "$NEW" direct rwf_nowait
	expect_bb pmem0 "$BAD 2" || fail "the record changed"
	sector_reads pmem0 $BASE 11 "$SEED" || fail "data before the range changed"
	sector_reads pmem0 $((BAD + 2)) 19 "$SEED" || fail "data after the range changed"
	log "nd_pmem: RWF_NOWAIT is EOPNOTSUPP (no BLK_FEAT_NOWAIT), nothing changed"
	[ "$PMEM" = nvdimm ] && exit 0
	write_sectors pmem0 $((BASE + 8)) 8 "$NEW" || fail "the blocking write over the range"
	expect_bb pmem0 none || fail "the blocking write did not clear the range"
	sector_reads pmem0 $((BASE + 8)) 8 "$NEW" || fail "data of the blocking write"
	log "nd_pmem: the blocking write clears and writes"
	exit 0
fi

# One page over the range, a 1 KiB write exactly over it, and 1 MiB (one bio) that
# covers it: each is refused whole, before anything changes.
for w in "$OFF 4096" "$((BAD * SECTOR_SIZE)) 1024" "$((BASE * SECTOR_SIZE)) $MiB"; do
	# shellcheck disable=SC2086
	must_err EAGAIN pmemio write /dev/pmem0 $w "$NEW" direct rwf_nowait
done
expect_bb pmem0 "$BAD 2" || fail "the record changed after NOWAIT writes"
sector_reads pmem0 $BASE 11 "$SEED" || fail "data before the range changed"
sector_reads pmem0 $((BAD + 2)) 19 "$SEED" || fail "data after the range changed"
expect_eq "counters after NOWAIT writes" "$c0" "$(counters_line pmem0)" ||
	fail "a NOWAIT write over poison counted something"
log "RWF_NOWAIT writes over the range: EAGAIN, nothing changed"

# Next to the range, not over it: inline, as any NOWAIT write.
must pmemio write /dev/pmem0 $((BASE * SECTOR_SIZE)) 4096 "$NEW" direct rwf_nowait
sector_reads pmem0 $BASE 8 "$NEW" || fail "NOWAIT write beside the range"
expect_bb pmem0 "$BAD 2" || fail "a write beside the range changed the record"

if [ "$PMEM" = nvdimm ]; then
	out=$(pmemio write /dev/pmem0 $OFF 4096 "$NEW" direct 2>&1)
	case $out in "err EIO "*) ;; *) fail "blocking write over the range: expected EIO, got '$out'" ;; esac
	expect_bb pmem0 "$BAD 2" || fail "the record changed"
	sector_reads pmem0 $((BASE + 8)) 3 "$SEED" || fail "data before the range changed"
	log "backend none: the blocking write fails EIO, the record stays"
	exit 0
fi
cl0=$(counter pmem0 "cleared_$(cat "$(rust_dbg pmem0)/backend")")
write_sectors pmem0 $((BASE + 8)) 8 "$NEW" || fail "the blocking write over the range"
expect_bb pmem0 none || fail "the blocking write did not clear the range"
sector_reads pmem0 $((BASE + 8)) 8 "$NEW" || fail "data of the blocking write"
sector_reads pmem0 $((BASE + 16)) 16 "$SEED" || fail "data after the written page"
expect_counter pmem0 "cleared_$(cat "$(rust_dbg pmem0)/backend")" $((cl0 + 1)) ||
	fail "expected one cleared page"
log "the same write without RWF_NOWAIT clears and writes: $(counters_line pmem0)"
