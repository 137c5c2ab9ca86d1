#!/bin/bash
# A write beside a sector being cleared is not undone by the clear.
#
# A write over a recorded bad sector makes rust_pmem's clear engine rewrite the whole
# 4 KiB page: it reads the page's other sectors back, clears, and stores them with the
# new data. A plain write to another sector of that page that completes between the
# read-back and the store would be undone by the store (its old bytes put back): the
# engine must hold such writers off until its store is done, so that their write lands
# after it. The rmw_race tool races the two on one page, ROUNDS times: each round
# writes the page's "before" data, records one sector bad through
# /sys/block/DEV/badblocks, and thread A writes over the bad sector while thread B
# writes another sector of the page, issued DELAY_US/3 after A. Both writes must
# succeed; then the bad sector must read A's data, B's sector B's data (B's write had
# completed), the other six sectors their "before" data, and the record must be gone.
#
# The unguarded window is only as wide as the engine's read-back to store. On
# rust_pmem's test build (RUST_PMEM_TEST=1) debugfs rewrite_delay_us makes the engine
# sleep between the two (DELAY_US: 2 ms, 5 ms on the debug kernel) and B is issued in
# that sleep, so the old engine loses B's write in nearly every round; the case then
# also requires that every write over the bad sector took the pause, that B's write was
# issued while A's was under way in at least a quarter of the rounds, and that each
# round went through the engine once (the cleared_* counters). Without the knob
# (a build without RUST_PMEM_TEST) the rounds run without the pause. nd_pmem never
# writes outside a bio's range and has no such race: the rounds run there without a
# pause and must pass too.
#
# Two devices: /dev/pmem0 (the raw e820 namespace, data at offset 0; bad sector 1, B's
# sector 6) and /dev/pmem1 after namespace1.0 is made an fsdax namespace (ndctl
# create-namespace -f -e namespace1.0 -m fsdax: the disk, still pmem1, is served through
# a pfn device whose data starts past its info block and struct pages, so mapping
# offsets and disk offsets differ; bad sector 6, B's sector 1). namespace1.0 is made
# raw again (ndctl create-namespace -f -e namespace1.0 -m raw, which also zeroes the
# pfn info block) at the end and, if the case stops early, by the exit handler, so the
# runner finds both namespaces raw and bindable. The page is the one in the middle of
# each device (away from the first and last MiB, which udev reads).
# ROUNDS: 1000 per device, 200 on the debug kernel (lib.sh's reps), or RMW_ROUNDS.
# PMEM=nvdimm: skipped (QEMU's NFIT cannot clear poison).
# rust_pmem: test build (plants poison through its debugfs; on a kernel where the
# production build is tested, this case loads the test build)
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0 pmem1
[ -x "$TOOLS_DIR/rmw_race" ] || fail "$TOOLS_DIR/rmw_race missing (make -C tests/tools OUT=$TOOLS_DIR)"
command -v ndctl >/dev/null || fail "ndctl not installed"

ROUNDS=${RMW_ROUNDS:-$(reps 1000 200)}
DELAY_US=${RMW_DELAY_US:-$(reps 2000 5000)}
NS1=$(dev_ns pmem1)
[[ $NS1 == namespace* ]] || fail "pmem1 is served by $NS1, expected a raw namespace"

delay_file() { echo "$(rust_dbg "$1")/rewrite_delay_us"; }

rmw_cleanup() {
	local d
	for d in "${PMEM_DEVS[@]}"; do
		[ -e "$(delay_file "$d")" ] && echo 0 >"$(delay_file "$d")" 2>/dev/null
	done
	poison_cleanup
	memmap_restore
}
on_exit rmw_cleanup

# cleared DEV: rust_pmem's pages cleared on DEV, all backends.
cleared() {
	local n c sum=0
	for n in cleared_legacy cleared_dsm cleared_movdir64b; do
		c=$(counter "$1" "$n")
		[ "$c" = missing ] || sum=$((sum + c))
	done
	echo $sum
}

# out_stat OUT NAME: the value of NAME=N on rmw_race's "ok" line in OUT.
out_stat() { sed -n "s/^ok .* $2=\([0-9]*\).*/\1/p" <<<"$1"; }

# race DEV WHAT BAD OTHER: rmw_race's rounds on the middle page of DEV.
race() {
	local dev=$1 what=$2 bad=$3 other=$4 d=0 page out rc c0 n f
	f=$(delay_file "$dev")
	if [ "$DRIVER" = rust ]; then
		if [ -e "$f" ]; then
			must sysfs_write "$f" "$DELAY_US"
			expect_eq "$f" "$DELAY_US" "$(cat "$f")" || fail "$what: rewrite_delay_us did not take $DELAY_US"
			d=$DELAY_US
		else
			log "$what: no $f (rust_pmem built without RUST_PMEM_TEST=1): rounds without the pause"
		fi
		c0=$(cleared "$dev")
	fi
	page=$(($(dev_sectors "$dev") / 2 / 8 * 8))
	log "-- $what: $ROUNDS rounds on /dev/$dev, page at sector $page, pause ${d} us"
	out=$("$TOOLS_DIR/rmw_race" "/dev/$dev" "$page" "$bad" "$other" "$ROUNDS" "$d" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	case $rc in
	0) ;;
	2) fail "$what: a write beside the sector being cleared was lost or data went wrong (see above)" ;;
	*) fail "$what: rmw_race exited $rc" ;;
	esac
	[ -e "$f" ] && must sysfs_write "$f" 0
	if [ "$d" -gt 0 ]; then
		n=$(out_stat "$out" paused)
		[ "${n:-0}" -eq "$ROUNDS" ] ||
			fail "$what: only ${n:-0} of $ROUNDS writes over the bad sector took the ${d} us pause"
		n=$(out_stat "$out" overlap)
		[ $((${n:-0} * 4)) -ge "$ROUNDS" ] ||
			fail "$what: B's write was issued during A's in only ${n:-0} of $ROUNDS rounds: the race was not run"
	fi
	if [ "$DRIVER" = rust ]; then
		expect_eq "pages cleared on $dev" $((c0 + ROUNDS)) "$(cleared "$dev")" ||
			fail "$what: the writes over the bad sector did not each go through the clear engine once"
	fi
	expect_bb "$dev" none || fail "$what: records left"
	log "$what: $ROUNDS rounds, no write lost"
}

race pmem0 "raw pmem0" 1 6

log "-- making $NS1 fsdax"
memmap_fsdax "$NS1" || fail "making $NS1 fsdax failed"
[ "$DRIVER" = rust ] && require_rust_debugfs pmem1

race pmem1 "fsdax pmem1" 6 1

log "-- making $NS1 raw again"
memmap_raw "$NS1" || fail "restoring $NS1 to raw failed"
log "$NS1 raw: /dev/pmem1 $(dev_size pmem1) bytes, driver $(ns_driver "$NS1")"
