#!/bin/bash
# In-guest test runner of rust_pmem: bash tests/guest/run.sh [NAMES...]
#
# Sets up the pmem (PMEM=memmap: the e820 namespaces; PMEM=nvdimm: an fsdax
# namespace on each of two NFIT regions; PMEM=virtio: the raw namespaces of two
# virtio-pmem devices) and the driver (DRIVER=rust|c), runs each
# tests/guest/cases/NAME.sh in its own bash with a timeout and prints KTAP.
# A case exits 0 (pass), 4 (skip; reason on its last "SKIP:" line) or
# anything else (fail). Before each case the driver is loaded and both
# namespaces bound; after it, new kernel log lines are checked for warnings.
# Results are named PMEM/NAME. The last line is "N passed, N failed, N skipped";
# exit 1 if any failed.
#
# Without NAMES every case runs, "kunit" first (rust_pmem's KUnit suite as
# seen in dmesg at the first load; a skip with DRIVER=c). With NAMES only
# those run; name "kunit" to get it.
# Knobs: TEST_TIMEOUT (s per case, default 300; a case may say "# timeout: N";
# both times TIMEOUT_SCALE, which vm.sh sets to 4 on the debug kernel),
# CASES_DIR (default: the cases beside this runner), and lib.sh's DRIVER, RUST_PMEM_KO,
# TOOLS_DIR, MNT_BASE.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

# The runner, its cases, the tools and the module run from a copy in the guest's /tmp
# (a tmpfs), not from /src (the host's checkout over 9p), so that editing the checkout
# while a suite runs cannot change the scripts under it (bash reads a script as it goes).
if [ -z "${RUST_PMEM_STAGED:-}" ]; then
	STAGE=$(mktemp -d /tmp/rust_pmem_stage.XXXXXX)
	cp -r "$HERE" "$STAGE/guest"
	cp -r "$TOOLS_DIR" "$STAGE/tools"
	if [ -f "$RUST_PMEM_KO" ]; then
		cp "$RUST_PMEM_KO" "$STAGE/rust_pmem.ko"
		export RUST_PMEM_KO=$STAGE/rust_pmem.ko
	fi
	if [ -f "${RUST_PMEM_TEST_KO:-}" ]; then
		mkdir "$STAGE/test"
		cp "$RUST_PMEM_TEST_KO" "$STAGE/test/rust_pmem.ko"
		export RUST_PMEM_TEST_KO=$STAGE/test/rust_pmem.ko
	fi
	export RUST_PMEM_STAGED=1 TOOLS_DIR=$STAGE/tools
	exec bash "$STAGE/guest/run.sh" "$@"
fi
CASES=${CASES_DIR:-$HERE/cases}
# Two builds of rust_pmem (the stock kernel's run: RUST_PMEM_TEST_KO set): the production
# build for every case but those marked "# rust_pmem: test build", which get the test
# build; the runner reloads the driver when a case needs the other one.
PROD_KO=$RUST_PMEM_KO

TEST_TIMEOUT=${TEST_TIMEOUT:-300}
LOGDIR=$(mktemp -d /tmp/rust_pmem_tests.XXXXXX)

# Cases in the order they run; other cases/*.sh files follow, sorted.
ORDER=(kunit load_unload bind_memmap_namespace io_roundtrip io_persist_across_rebind
	io_sync_flush fio_verify io_bad_input rebind_cycles ext4_dax_mount xfs_dax_mount
	dax_mmap_roundtrip dax_map_sync dax_fio_mmap dax_write_cache_sysfs
	dax_unbind_while_mounted dax_persist_across_rebind
	badblocks_read_eio badblocks_write_clears latent_poison_read subpage_write_keeps_good_data
	dax_mmap_sigbus dax_recovery_write dax_zero_range_clears dax_memory_failure
	poison_rmw_race poison_clear_order lost_sector_survives_rebind poison_fsdax_offset
	memory_failure_simulated memory_failure_unbind
	poison_bad_input poison_backend_selected nowait_io_uring nowait_async_flush)

all_tests() {
	local t f
	for t in "${ORDER[@]}"; do echo "$t"; done
	for f in "$CASES"/*.sh; do
		t=$(basename "$f" .sh)
		[[ " ${ORDER[*]} " == *" $t "* ]] || echo "$t"
	done
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

PASSED=0 FAILED=0 SKIPPED=0 NUM=0

# result ok|fail|skip NAME [REASON]
result() {
	NUM=$((NUM + 1))
	# Every result is named after the kind of pmem it ran on: memmap/NAME, nvdimm/NAME.
	case $1 in
	ok) PASSED=$((PASSED + 1)); echo "ok $NUM $PMEM/$2" ;;
	skip) SKIPPED=$((SKIPPED + 1)); echo "ok $NUM $PMEM/$2 # SKIP ${3:-}" ;;
	*) FAILED=$((FAILED + 1)); echo "not ok $NUM $PMEM/$2${3:+ # $3}" ;;
	esac
}

# ---------------------------------------------------------------- setup

# setup: the pmem (memmap: nd_e820's namespaces; nvdimm: the NFIT regions, and
# nv_layout's fsdax namespaces once the driver is loaded), the driver (loaded by
# us, so that its KUnit output is seen), both pmem devices. Sets SETUP_MARK;
# prints problems.
setup() {
	local out n
	drv_name >/dev/null || return 1
	case $PMEM in
	memmap)
		if [ "$(ns_list | wc -l)" -lt 2 ]; then
			out=$(modprobe nd_e820 2>&1) || { log "modprobe nd_e820: $out"; return 1; }
		fi
		wait_until "$POLL_TIMEOUT" eval '[ "$(ns_list | wc -l)" -ge 2 ]' ||
			{ log "expected 2 namespaces, found: $(ns_list | tr '\n' ' ')"; return 1; }
		;;
	virtio)
		# virtio_pmem binds the virtio-pmem-pci devices (udev loads it); each brings
		# its own nvdimm bus with one asynchronous region and one raw namespace.
		if [ "$(ns_list | wc -l)" -lt 2 ]; then
			out=$(modprobe virtio_pmem 2>&1) || { log "modprobe virtio_pmem: $out"; return 1; }
		fi
		wait_until "$POLL_TIMEOUT" eval '[ "$(ns_list | wc -l)" -ge 2 ]' ||
			{ log "expected 2 virtio-pmem namespaces, found: $(ns_list | tr '\n' ' ')"; return 1; }
		;;
	nvdimm)
		wait_until "$POLL_TIMEOUT" eval '[ "$(nv_regions | wc -l)" -ge 2 ]' ||
			{ log "expected 2 NFIT regions, found: $(nv_regions | tr '\n' ' ')"; return 1; }
		;;
	*) log "unknown PMEM=$PMEM"; return 1 ;;
	esac
	if drv_loaded; then
		log "$(drv_name) already loaded: reloading it"
		drv_unload || return 1
	fi
	SETUP_MARK=$(kmsg_mark setup)
	drv_load || return 1
	# On NFIT the namespaces are made now, with the driver loaded: ndctl enables
	# them by writing to every nd driver's bind file, and one of them must take them.
	[ "$PMEM" = nvdimm ] && { nv_layout || return 1; }
	log "namespaces: $(ns_list | tr '\n' ' ')"
	wait_pmem_devices || return 1
	for n in $(ns_list); do log "$n -> $(ns_dev "$n") ($(ns_driver "$n"))"; done
}

# kunit_test: the result of rust_pmem's KUnit suite from its first load.
kunit_test() {
	local lines res
	if [ "$DRIVER" != rust ]; then
		result skip kunit "kunit tests are rust_pmem's own"
		return
	fi
	if [ "$(kernel_option KUNIT)" = n ]; then
		result skip kunit "CONFIG_KUNIT is not set in $(uname -r)"
		return
	fi
	lines=$(dmesg_since "$SETUP_MARK")
	# The suite's block: from "# Subtest: rust_pmem" to its result line.
	printf '%s\n' "$lines" | awk '
		/# Subtest: rust_pmem$/ { on = 1 }
		on { print }
		on && /^[ \t]*(not )?ok [0-9]+ rust_pmem([ \t]|$)/ { exit }' >"$LOGDIR/kunit"
	diag "$(cat "$LOGDIR/kunit")"
	res=$(grep -E '^[ \t]*(not )?ok [0-9]+ rust_pmem([ \t]|$)' "$LOGDIR/kunit" | tail -n 1)
	if [ -z "$res" ]; then
		printf '%s\n' "$lines" | grep -i kunit | sed 's/^/# /'
		result fail kunit "no KUnit result for suite rust_pmem in dmesg"
	elif [[ $res =~ ^[[:space:]]*not\ ok ]]; then
		result fail kunit
	elif [[ $res =~ \#[[:space:]]*SKIP ]]; then
		result skip kunit "${res##*SKIP}"
	else
		result ok kunit
	fi
}

# ---------------------------------------------------------------- per test

# prepare: the state every case starts from. Prints what it had to repair.
prepare() {
	local d r ns
	cleanup_mounts
	if [ "$DRIVER" = rust ] && [ "${LOADED_KO:-$RUST_PMEM_KO}" != "$RUST_PMEM_KO" ] && drv_loaded; then
		log "loading $RUST_PMEM_KO instead of $LOADED_KO"
		drv_unload || return 1
	fi
	LOADED_KO=$RUST_PMEM_KO
	for r in $(ls "$ND_SYS/devices" | grep '^region'); do
		if [ "$(region_ro "$r" 2>/dev/null)" = 1 ]; then
			log "restoring $r read_only=0"
			region_set_ro "$r" 0
		fi
	done
	for d in "${PMEM_DEVS[@]}"; do
		dev_present "$d" && [ "$(blockdev --getro "/dev/$d")" = 1 ] && blockdev --setrw "/dev/$d"
	done
	drv_load || return 1
	for ns in $(ns_list); do
		d=$(ns_driver "$ns")
		if [ -z "$d" ]; then
			log "binding $ns"
			ns_bind "$ns" || return 1
		elif [ "$d" != "$(drv_name)" ]; then
			# The case would test the other driver (nd_pmem in a rust run, or the reverse).
			log "$ns is bound to $d, not to the driver under test, $(drv_name)"
			return 1
		fi
	done
	wait_pmem_devices
}

# case_timeout NAME: "# timeout: N" in the case file, else TEST_TIMEOUT.
case_timeout() {
	local t
	t=$(sed -n 's/^# timeout: *\([0-9]\+\).*/\1/p' "$CASES/$1.sh" | head -n 1)
	echo $((${t:-$TEST_TIMEOUT} * ${TIMEOUT_SCALE:-1}))
}

run_case() {
	local name=$1 log="$LOGDIR/$1.log" rc bad reason mark t0

	if [ ! -f "$CASES/$name.sh" ]; then
		result fail "$name" "no such test"
		return
	fi
	mark=$LAST_MARK
	export RUST_PMEM_KO=$PROD_KO
	if [ -n "${RUST_PMEM_TEST_KO:-}" ] && grep -q '^# rust_pmem: test build' "$CASES/$name.sh"; then
		RUST_PMEM_KO=$RUST_PMEM_TEST_KO
	fi
	if ! prepare >"$log.prep" 2>&1; then
		diag "$(cat "$log.prep")"
		result fail "$name" "could not load the driver and bind both namespaces to it"
		LAST_MARK=$(kmsg_mark "after $name")
		return
	fi
	[ -s "$log.prep" ] && diag "$(cat "$log.prep")"
	echo "$MARK_PREFIX start $name" >/dev/kmsg

	t0=$(date +%s)
	timeout -k 10 "$(case_timeout "$name")" bash "$CASES/$name.sh" </dev/null 2>&1 |
		tee "$log" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	diag "$name: exit $rc after $(($(date +%s) - t0)) s"

	echo "$MARK_PREFIX end $name rc=$rc" >/dev/kmsg
	if grep -q '^# dmesg: allocation failures' "$CASES/$name.sh"; then
		bad=$(dmesg_since "$mark" | dmesg_drop_alloc_traces | dmesg_bad_lines)
	else
		bad=$(dmesg_since "$mark" | dmesg_bad_lines)
	fi
	LAST_MARK=$(kmsg_mark "after $name")
	if [ -n "$bad" ]; then
		diag "kernel log problems during $name:" "$(dmesg_since "$mark" | grep -v -F "$MARK_PREFIX" | tail -n 60)"
		result fail "$name" "kernel warning in dmesg"
		return
	fi
	case $rc in
	0) result ok "$name" ;;
	4)
		reason=$(grep '^SKIP:' "$log" | tail -n 1)
		reason=${reason#SKIP:}
		result skip "$name" "${reason# }"
		;;
	124 | 137) result fail "$name" "timed out" ;;
	*) result fail "$name" ;;
	esac
}

# ---------------------------------------------------------------- main

if [ $# -gt 0 ]; then
	TESTS=("$@")
else
	mapfile -t TESTS < <(all_tests)
fi

echo "KTAP version 1"
# debugfs: the driver's files, kmemleak, fault injection.
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
PLAN=${#TESTS[@]}
# kmemleak (debug kernel): its thread scans all of the guest's memory every 10 minutes,
# slow under TCG; a leaked object stays unreferenced, so the explicit scans
# (rebind_cycles, probe_fault_injection, and kmemleak_scan, last) find it all the same.
if [ -w /sys/kernel/debug/kmemleak ]; then
	PLAN=$((PLAN + 1)) # kmemleak_scan, last
	echo scan=off >/sys/kernel/debug/kmemleak
fi
echo "1..$PLAN"
diag "DRIVER=$DRIVER PMEM=$PMEM driver=$(drv_name 2>&1) kernel=$(uname -r) tools=$TOOLS_DIR"

if ! setup >"$LOGDIR/setup" 2>&1; then
	diag "setup failed:" "$(cat "$LOGDIR/setup")" "$(dmesg | tail -n 30)"
	for t in "${TESTS[@]}"; do result fail "$t" "setup failed"; done
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	exit 1
fi
diag "$(cat "$LOGDIR/setup")"
LAST_MARK=$SETUP_MARK

for t in "${TESTS[@]}"; do
	if [ "$t" = kunit ]; then
		kunit_test
	else
		run_case "$t"
	fi
done

# Where the kernel has kmemleak (the debug kernel): unload the driver, scan, and
# fail on any report that names the driver's code, or on a kernel problem logged
# since the last case (the unload). Not a result without kmemleak.
if [ -w /sys/kernel/debug/kmemleak ]; then
	drv_unload >"$LOGDIR/kmemleak" 2>&1
	# An object is reported only after it stayed unreferenced over two scans.
	for _ in 1 2 3; do echo scan >/sys/kernel/debug/kmemleak; sleep 5; done
	if ! kmemleak_check >>"$LOGDIR/kmemleak" 2>&1; then
		diag "$(cat "$LOGDIR/kmemleak")"
		result fail kmemleak_scan "kmemleak reports name $(drv_name)"
	elif [ -n "$(dmesg_since "$LAST_MARK" | dmesg_bad_lines)" ]; then
		diag "$(cat "$LOGDIR/kmemleak")" "$(dmesg_since "$LAST_MARK" | tail -n 60)"
		result fail kmemleak_scan "kernel warning in dmesg during the final unload"
	else
		diag "$(cat "$LOGDIR/kmemleak")"
		result ok kmemleak_scan
	fi
fi

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
