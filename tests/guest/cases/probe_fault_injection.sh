#!/bin/bash
# Allocation failures in probe: with pmem1's nd device unbound, bind it again and
# again, each time with the kernel's fault injection armed to fail the N-th
# allocation of the bind (fail_nth tool: /proc/thread-self/fail-nth, see
# Documentation/fault-injection/fault-injection.rst), N = 1, 2, 3, ... until a bind
# succeeds with the fault unused. Sleeping allocations count too (ignore-gfp-wait=N);
# nothing fails at random (probability 0: only fail-nth injects). Passes:
#   driver: slab and page allocations made within FI_DEPTH (12) stack frames of the
#     driver's code (stack trace filter, require-start/end = the module's text from
#     /proc/kallsyms): the driver's own allocations and those of what it calls directly;
#     every point (needs CONFIG_FAULT_INJECTION_STACKTRACE_FILTER, else skipped).
#   slab: every slab allocation of the bind (failslab; page allocations not counted).
#   page: every page allocation of the bind (fail_page_alloc; slab ones not counted).
# The bind allocates in the driver and in the driver core, sysfs, the block layer and
# DAX: a failure anywhere must end cleanly. After a failed bind: the write failed with
# an error, the device is unbound, no /dev/pmemN or /sys/block/pmemN, no rust_pmem
# debugfs directory, the module's reference count is back, and no kernel warning
# (checked every 10 binds and at the end of a pass). A bind that absorbed the failure
# must give a working device (data written before reads back). A bind that fails with
# no fault injected fails the test (EBUSY there is the driver core's "Resources present
# before probing": devres leaked by an earlier failed probe). At the end a plain bind
# works, the data reads back, new data verifies, and with kmemleak no leak report names
# the driver.
# Needs CONFIG_FAILSLAB (both of the project's kernels have it): skipped without it.
# Knobs: FI_MAX (binds per pass, default 60, 15 on the debug kernel, where a bind takes
# about 7 s under TCG; a pass with more fault points samples them evenly), FI_DEPTH (12),
# FI_VERBOSE (0; 1 or 2 make the kernel log each injected
# failure, and 2 its stack, which the runner then reports as a kernel problem).
# timeout: 2400
# dmesg: allocation failures are injected: their reports' stack dumps are expected
set -u
. "$(dirname "$0")/../lib.sh"
require_tools

DBG=/sys/kernel/debug
FS=$DBG/failslab
FP=$DBG/fail_page_alloc
[ -d $FS ] || skip "no $FS: kernel without CONFIG_FAILSLAB (kernel/config.fragment sets it)"
[ -e /proc/thread-self/fail-nth ] || skip "no /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)"
FAIL_NTH=$TOOLS_DIR/fail_nth
[ -x "$FAIL_NTH" ] || fail "$FAIL_NTH missing (make -C tests/tools OUT=$TOOLS_DIR)"

FI_MAX=${FI_MAX:-$(reps 60 15)}
FI_DEPTH=${FI_DEPTH:-12}
FI_VERBOSE=${FI_VERBOSE:-0}
DRV=$(drv_name)
NS=$(dev_ns pmem1)
DEV=$(ns_dev "$NS")
BIND=$ND_SYS/drivers/$DRV/bind
REFCNT=/sys/module/$DRV/refcnt
SEED=$(random_seed)
OFF=$((8 * MiB + 512))
LEN=$((256 * 1024 + 512))

# ------------------------------------------------------------ fault injection setup

# The settings this test changes, restored at the end.
FI_FILES=()
COMMON="probability interval times space verbose task-filter ignore-gfp-wait
	stacktrace-depth require-start require-end reject-start reject-end"
for f in $COMMON cache-filter; do
	[ -e "$FS/$f" ] && FI_FILES+=("$FS/$f")
done
for f in $COMMON ignore-gfp-highmem min-order; do
	[ -e "$FP/$f" ] && FI_FILES+=("$FP/$f")
done
declare -A FI_SAVED
for f in "${FI_FILES[@]}"; do FI_SAVED[$f]=$(cat "$f"); done

fi_set() { echo "$2" >"$1" || fail "cannot write '$2' to $1"; }

fi_restore() {
	local f
	for f in "${FI_FILES[@]}"; do echo "${FI_SAVED[$f]}" >"$f" 2>/dev/null; done
}

cleanup() {
	echo 0 >/proc/self/fail-nth 2>/dev/null
	fi_restore
	[ -n "$(ns_driver "$NS")" ] || ns_bind "$NS" >/dev/null 2>&1
}
on_exit cleanup

# driver_text: "START END" of the driver's code (its text symbols in /proc/kallsyms,
# plus a page for the size of the last function), in hex.
driver_text() {
	local a
	a=$(awk -v m="[$DRV]" '$4 == m && ($2 == "t" || $2 == "T") { print $1 }' /proc/kallsyms | sort)
	[ -n "$a" ] || return 0
	case $(echo "$a" | head -n 1) in *[!0]*) ;; *) return 0 ;; esac # addresses hidden
	printf '0x%s 0x%x\n' "$(echo "$a" | head -n 1)" $((16#$(echo "$a" | tail -n 1) + 4096))
}

# memremap_text: "START END" of mm/memremap.c's memremap_pages() and pagemap_range()
# (from the first to the text symbol after the last), in hex. Allocations made under
# them are never failed: when one fails inside __add_pages() (sparse_add_section), the
# sections added before it stay (__add_pages() stops without undoing them, and
# pagemap_range()'s error path does not remove them), so every later mapping of the
# range fails with EEXIST until a reboot, whichever driver asks. That is the memory
# hotplug core's limitation, not the driver's; the first failure also trips x86's
# WARN_ON_ONCE in add_pages().
memremap_text() {
	awk '$2 == "t" || $2 == "T" { print $1, $3 }' /proc/kallsyms | sort | awk '
		$2 == "memremap_pages" || $2 == "pagemap_range" { if (!s) s = $1; e = ""; last = 1; next }
		last && !e { e = $1 }
		END { if (s && e) printf "0x%s 0x%s\n", s, e }'
}

# fi_mode driver|slab|page: what fail-nth counts (see the header); the sleeping
# allocations included; nothing fails at random (probability 0: only fail-nth).
fi_mode() {
	local f
	for f in $FS $FP; do
		[ -d $f ] || continue
		fi_set $f/probability 0
		fi_set $f/verbose "$FI_VERBOSE"
		fi_set $f/task-filter N
		fi_set $f/ignore-gfp-wait N
		if [ -e $f/require-start ]; then
			if [ "$1" = driver ]; then
				# require-end first: the range stays valid in between.
				fi_set $f/require-end "${TEXT#* }"
				fi_set $f/require-start "${TEXT% *}"
				fi_set $f/stacktrace-depth "$FI_DEPTH"
			else
				fi_set $f/require-start "${FI_SAVED[$f/require-start]}"
				fi_set $f/require-end "${FI_SAVED[$f/require-end]}"
				fi_set $f/stacktrace-depth 32
			fi
			fi_set $f/reject-end "${REJECT#* }"
			fi_set $f/reject-start "${REJECT% *}"
		fi
	done
	# failslab: cache-filter with no cache marked: no slab allocation counts.
	# fail_page_alloc: min-order above any order: no page allocation counts.
	case $1 in
	driver | slab) fi_set $FS/cache-filter N ;;
	page) fi_set $FS/cache-filter Y ;;
	esac
	if [ -d $FP ]; then
		case $1 in
		driver | page)
			fi_set $FP/min-order 0
			fi_set $FP/ignore-gfp-highmem N
			;;
		slab) fi_set $FP/min-order 99 ;;
		esac
	fi
}

# ------------------------------------------------------------ checks

BASE_REFS=

# check_unbound WHAT: the nd device is unbound and nothing of the disk is left.
check_unbound() {
	wait_until 5 ns_unbound "$NS" ||
		fail "$1: $NS bound to '$(ns_driver "$NS")' or /dev/$DEV present: $(pmem_leftovers)"
	if [ "$DRIVER" = rust ] && [ -e "$(rust_dbg "$DEV")" ]; then
		fail "$1: debugfs directory $(rust_dbg "$DEV") left: $(ls "$(rust_dbg "$DEV")" | tr '\n' ' ')"
	fi
	# udev may hold the disk open for a moment (an open disk holds the module).
	wait_until 10 eval '[ "$(cat $REFCNT)" = "$BASE_REFS" ]' ||
		fail "$1: $REFCNT is $(cat $REFCNT), $BASE_REFS before: module reference leaked"
}

# check_dmesg WHAT: no kernel problem logged since the start. The stack dumps of the
# kernel's allocation failure reports (warn_alloc's "page allocation failure" and
# "vmalloc error", percpu's "allocation failed") are what an injected failure may
# cause: they are counted and logged, not failed (the runner does the same for this
# case, see the "# dmesg:" line above).
check_dmesg() {
	local lines bad cnt
	lines=$(dmesg_since "$MARK" | grep -v -F "$MARK_PREFIX")
	bad=$(printf '%s\n' "$lines" | dmesg_drop_alloc_traces | dmesg_bad_lines)
	if [ -z "$bad" ]; then
		cnt=$(printf '%s\n' "$lines" | grep -c -E 'page allocation failure|vmalloc error|allocation failed, size=')
		[ "$cnt" -eq "${ALLOC_REPORTS:-0}" ] ||
			log "$1: $cnt allocation failure reports with stack dumps in dmesg so far"
		ALLOC_REPORTS=$cnt
		return 0
	fi
	printf '%s\n' "$lines" | tail -n 40 | sed 's/^/    /'
	fail "$1: kernel problem in dmesg"
}

# check_bound WHAT: the device works and the data written at the start reads back.
check_bound() {
	wait_until 10 ns_bound "$NS" || fail "$1: $NS not bound or /dev/$DEV missing"
	must pmemio verify "/dev/$DEV" $OFF $LEN "$SEED" direct
	must pmemio verify "/dev/$DEV" $OFF $LEN "$SEED"
}

# ------------------------------------------------------------ the passes

# attempt MODE N: one bind with the N-th fault point armed. Sets LEFT (fail-nth
# after the write), OUTCOME (ok, or the errno name).
attempt() {
	local out
	out=$("$FAIL_NTH" "$2" "$BIND" "$NS" 2>&1)
	case $out in
	"ok "*" left="*) OUTCOME=ok ;;
	"err "*" left="*) OUTCOME=$(echo "$out" | awk '{ print $2 }') ;;
	*) fail "$1 fault $2: fail_nth: $out" ;;
	esac
	LEFT=${out##*left=}
	case $LEFT in '' | *[!0-9]*) fail "$1 fault $2: fail_nth: $out" ;; esac
}

# run_pass MODE: the fault points of a bind, one by one (or sampled, see FI_MAX).
run_pass() {
	local mode=$1 big=1000000 points step n tried=0 failed=0 absorbed=0 e k last_checked=1
	declare -A errs=()
	fi_mode "$mode"
	# Count the fault points: a bind armed beyond its last one passes them all.
	attempt "$mode" $big
	[ "$OUTCOME" = ok ] || fail "$mode: bind with no fault injected failed: $OUTCOME"
	[ "$LEFT" -gt 0 ] || fail "$mode: a bind reached $big fault points?"
	points=$((big - LEFT))
	if [ $points -eq 0 ]; then
		check_bound "$mode count"
		log "$mode: a bind of $NS passes no fault point"
		ns_unbind "$NS" || fail "$mode: unbind failed"
		check_unbound "$mode count"
		return
	fi
	check_bound "$mode count"
	ns_unbind "$NS" || fail "$mode: unbind failed"
	check_unbound "$mode count"
	step=$(((points + FI_MAX - 1) / FI_MAX))
	[ $step -ge 1 ] || step=1
	if [ $step -eq 1 ]; then
		log "$mode: a bind of $NS passes $points fault points; trying each"
	else
		log "$mode: a bind of $NS passes $points fault points; trying every ${step}th"
	fi

	n=1
	while :; do
		attempt "$mode" $n
		tried=$((tried + 1))
		if [ "$OUTCOME" = ok ]; then
			check_bound "$mode fault $n"
			if [ "$LEFT" -gt 0 ]; then
				# Past the last fault point: the pass is complete.
				log "$mode: fault $n not reached: bind passed $((n - LEFT)) fault points"
				ns_unbind "$NS" || fail "$mode: unbind at the end of the pass failed"
				check_unbound "$mode: unbind at the end of the pass"
				break
			fi
			absorbed=$((absorbed + 1))
			ns_unbind "$NS" || fail "$mode fault $n: unbind after an absorbed failure failed"
			check_unbound "$mode fault $n (unbind after absorbed failure)"
		else
			if [ "$LEFT" -ne 0 ]; then
				dmesg_since "$MARK" | grep -v -F "$MARK_PREFIX" | tail -n 80 | sed 's/^/    /'
				fail "$mode fault $n: bind failed with $OUTCOME but the fault was not injected"
			fi
			failed=$((failed + 1))
			errs[$OUTCOME]=$((${errs[$OUTCOME]:-0} + 1))
			check_unbound "$mode fault $n ($OUTCOME)"
		fi
		if [ $((tried % 10)) -eq 0 ]; then
			check_dmesg "$mode, fault points $last_checked..$n"
			last_checked=$n
		fi
		# After the counted points step by 1: the count may differ by a few.
		if [ $n -lt "$points" ] && [ $((n + step)) -le "$points" ]; then
			n=$((n + step))
		else
			n=$((n + 1))
		fi
		[ $n -le $((points + 50)) ] || fail "$mode: a bind still fails at fault point $n (counted $points)"
		[ $((tried % 25)) -ne 0 ] || log "$mode: $tried binds so far (fault point $n of $points)"
	done
	check_dmesg "$mode, fault points $last_checked..$n"
	e=""
	for k in "${!errs[@]}"; do e+=" $k:${errs[$k]}"; done
	log "$mode: $tried binds: $failed failed cleanly (${e# }), $absorbed succeeded despite the failure"
	TOTAL_FAILED=$((TOTAL_FAILED + failed))
}

# ------------------------------------------------------------ main

MARK=$(kmsg_mark probe_fault_injection)
must pmemio write "/dev/$DEV" $OFF $LEN "$SEED" direct
ns_unbind "$NS" || fail "unbind of $NS failed"
BASE_REFS=$(cat $REFCNT)
check_unbound "initial unbind"
TOTAL_FAILED=0

TEXT=
REJECT="0 0"
if [ -e $FS/require-start ]; then
	TEXT=$(driver_text)
	[ -n "$TEXT" ] || fail "no text symbols of [$DRV] in /proc/kallsyms"
	log "$DRV text ${TEXT/ /..}"
	REJECT=$(memremap_text)
	[ -n "$REJECT" ] || fail "no memremap_pages in /proc/kallsyms"
	log "allocations under memremap_pages (${REJECT/ /..}) are not failed: see memremap_text"
	run_pass driver
else
	log "no $FS/require-start (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER): no driver-only pass"
fi
run_pass slab
if [ -d $FP ]; then
	run_pass page
else
	log "no $FP (CONFIG_FAIL_PAGE_ALLOC): page allocations not tried"
fi
fi_restore

# Each pass ends unbound: a plain bind and a rebind work, the data is intact.
ns_bind "$NS" || fail "plain bind after the passes failed"
check_bound "after the passes"
ns_rebind "$NS" || fail "plain rebind failed"
check_bound "after a plain rebind"
NEW=$(random_seed)
must pmemio write "/dev/$DEV" $((OFF + 4 * MiB)) $LEN "$NEW" direct
must pmemio verify "/dev/$DEV" $((OFF + 4 * MiB)) $LEN "$NEW" direct
check_dmesg "end"
[ "$TOTAL_FAILED" -gt 0 ] || fail "no bind failed: fault injection had no effect"
log "$TOTAL_FAILED binds failed cleanly; $NS binds and its data verifies"
kmemleak_check || fail "kmemleak reports"
