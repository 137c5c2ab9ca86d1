#!/bin/bash
# memory_failure on pmem0's DAX pages while pmem0's namespace is unbound: the
# driver's dev_pagemap memory_failure may run while remove tears the device down
# (the kernel holds the dev_pagemap, not the driver's data, across the call), and
# remove must wait for it instead of freeing what it uses. Cycles (4, debug kernel 2):
#   mount ext4 -o dax of pmem0 (made once; file f of 16 written pages) and check f;
#   in the background, helper processes one after another map one page of f (page
#   n % 16) and madvise(MADV_HWPOISON) it without touching it first (madvise's
#   get_user_pages faults it in; the failure's kill unmaps it again), 10 a second at
#   most; once two of them got SIGBUS BUS_MCEERR_AR (the path is live), a second
#   task writes the pfns of f's pages to hwpoison-inject's corrupt-pfn (module
#   hwpoison_inject; without it this task is left out and the log says so), 20 a
#   second at most: memory_failure(pfn, MF_SW_SIMULATED) with no mapping involved,
#   which reaches the driver for as long as the pages exist, so also after the file
#   system is shut down and during the whole remove;
#   after 0-0.2 s the namespace is unbound (ext4 gets "shut down", as in
#   dax_unbind_while_mounted), both tasks go on 0.3 s more and are stopped; umount,
#   bind. The helpers' results are only counted (after the unbind they fail with
#   EIO, EFAULT, ENXIO: expected); each cycle's kernel log must have no bad line
#   (BUG, KASAN, WARNING...: the debug kernel has KASAN), checked at once so that a
#   report cannot be pushed out of the ring buffer by the failures' own lines.
# After the cycles: bound, f reads back whole through read(2) and a mapping, a
# 2-page MADV_HWPOISON over pages 1-2 of f gets SIGBUS BUS_MCEERR_AR with madvise 0,
# badblocks unchanged (rust_pmem: simulated_failures up, ranges_recorded not); umount
# and a last rebind, which gives the namespace new struct pages (no HWPoison flag
# left for later cases); a piece written through /dev/pmem0 reads back.
# Both drivers: with the file system mounted, nd_pmem's memory_failure reaches a dax
# device that the mount keeps allocated (dax_holder_notify_failure then fails with
# ENXIO), and its device data lives until the dev_pagemap is gone, so the case is
# meaningful there as the reference. Beyond either driver: 7.3 frees the struct pages
# under a DAX mapping that outlives an unbind (ND_PMEM_FACTS: "unbind with a file
# mapped: oops"). The helpers keep that window as small as a program can: one page,
# never touched but by madvise, whose failure unmaps it; a page mapped by a helper's
# fault just before the unbind and not yet unmapped when the struct pages go is that
# kernel limitation, not the driver's. Runs on memmap and on nvdimm (nothing is
# cleared: the rebind restores the pages).
# timeout: 300
set -u
. "$(dirname "$0")/../lib.sh"
require_poison_tools
rust() { [ "$DRIVER" = rust ]; }
rust && require_rust_debugfs pmem0

CYCLES=${MF_UNBIND_CYCLES:-$(reps 4 2)}
NS=$(dev_ns pmem0)
MNT="$MNT_BASE/memory_failure_unbind"
F="$MNT/f"
LEN=65536
NPG=$((LEN / 4096))
SEED=$(random_seed)
WORK=$(mktemp -d /tmp/memory_failure_unbind.XXXXXX)
STOP=$WORK/stop
HITS_TIMEOUT=$((60 * ${TIMEOUT_SCALE:-1}))
MAX_HELPERS=40 # per cycle: each failure logs 3 kernel lines
MAX_PFN_WRITES=40
CORRUPT=/sys/kernel/debug/hwpoison/corrupt-pfn
INJECT_LOADED=
LOOPS=()
DONE=

cleanup() {
	local p
	touch "$STOP"
	for p in "${LOOPS[@]}"; do kill_tree "${p##*:}"; done
	wait
	cleanup_mounts
	# A new bind gives the namespace new struct pages: no HWPoison flag stays.
	if [ -z "$(ns_driver "$NS")" ]; then
		ns_bind "$NS" || log "cleanup: bind of $NS failed"
	elif [ -z "$DONE" ]; then
		ns_rebind "$NS" || log "cleanup: rebind of $NS failed"
	fi
	[ -n "$INJECT_LOADED" ] && rmmod hwpoison_inject 2>/dev/null
	rm -rf "$WORK"
}
on_exit cleanup

if [ ! -e "$CORRUPT" ]; then
	if modprobe hwpoison_inject 2>/dev/null && [ -e "$CORRUPT" ]; then
		INJECT_LOADED=1
	fi
fi
[ -e "$CORRUPT" ] || CORRUPT=
[ -n "$CORRUPT" ] || log "no $CORRUPT (module hwpoison_inject): MADV_HWPOISON helpers only"

# madvise_loop OUT: helper processes until STOP, one result line each into OUT.
madvise_loop() {
	local n=0
	while [ ! -e "$STOP" ] && [ $n -lt $MAX_HELPERS ]; do
		poison hwpoison-range "$F" $((n % NPG * 4096 + 100)) 1 >>"$1" 2>&1
		n=$((n + 1))
		sleep 0.1
	done
}

# pfn_loop OUT: corrupt-pfn writes of f's pages until STOP, one result line each.
pfn_loop() {
	local n=0
	while [ ! -e "$STOP" ] && [ $n -lt $MAX_PFN_WRITES ]; do
		sysfs_write "$CORRUPT" "${PFNS[n % NPG]}" >>"$1" 2>&1
		n=$((n + 1))
		sleep 0.05
	done
}

# start_loop NAME FUNC ARGS...: run FUNC in the background; it leaves $WORK/done.NAME
# when it ends.
start_loop() {
	local name=$1
	shift
	rm -f "$WORK/done.$name"
	( "$@"; touch "$WORK/done.$name" ) &
	LOOPS+=("$name:$!")
}

# hits FILE: helper lines in FILE that report SIGBUS BUS_MCEERR_AR with madvise 0.
hits() {
	local n
	n=$(grep -c '^madvise=ok signal=sigbus code=BUS_MCEERR_AR' "$1" 2>/dev/null)
	echo "${n:-0}"
}
hits_ge() { [ "$(hits "$1")" -ge "$2" ]; }

# tally FILE: the result lines of FILE, counted by kind, on one line.
tally() {
	sed -E 's/^(madvise=[A-Za-z]+ signal=(none|sigbus code=[A-Z_]+)).*/\1/; s/^(err E[A-Z]+).*/\1/; s/^ok [0-9]+$/ok/' "$1" |
		sort | uniq -c | sed -E 's/^ *([0-9]+) (.*)/\2: \1/' | paste -sd ';' | sed 's/;/; /g'
}

# descendants PID: the processes below PID.
descendants() {
	local c
	for c in $(children "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# stop_loops WHAT: stop the background tasks; fail if one does not end within 60 s
# (a helper hung in the kernel).
stop_loops() {
	local l name pid c
	touch "$STOP"
	for l in "${LOOPS[@]}"; do
		name=${l%%:*} pid=${l##*:}
		if ! wait_until 60 test -e "$WORK/done.$name"; then
			for c in $(descendants "$pid"); do
				log "$name: $(tr '\0' ' ' </proc/"$c"/cmdline 2>/dev/null); stack:"
				sed 's/^/    /' /proc/"$c"/stack 2>/dev/null
			done
			fail "$1: $name did not end within 60 s of the stop"
		fi
		wait "$pid" 2>/dev/null
	done
	LOOPS=()
}

dax_fs_setup ext4 pmem0 "$MNT" || fail "ext4 -o dax mount failed"
must pmemio write "$F" 0 $LEN "$SEED" creat fsync
file_is_dax "$F" || fail "$F: no STATX_ATTR_DAX"
PFNS=()
for ((i = 0; i < NPG; i++)); do
	p=$(poison pfn "$F" $((i * 4096))) || fail "pfn of page $i of $F: $p"
	PFNS+=("$p")
done
log "pfns of f's pages: ${PFNS[*]}"
if [ -n "$CORRUPT" ]; then
	# One injection before the cycles: it reaches the driver (rust_pmem counts it).
	rust && sf0=$(counter pmem0 simulated_failures)
	out=$(sysfs_write "$CORRUPT" "${PFNS[0]}" 2>&1)
	log "corrupt-pfn ${PFNS[0]} (page 0 of f): $out"
	if rust; then
		[ "$(counter pmem0 simulated_failures)" -gt "$sf0" ] ||
			fail "corrupt-pfn of a page of f did not reach rust_pmem's memory_failure (simulated_failures $sf0)"
	fi
fi
fs_umount "$MNT" || fail "umount failed"

for ((c = 1; c <= CYCLES; c++)); do
	dax_mount pmem0 "$MNT" || fail "cycle $c: mount failed"
	must pmemio verify "$F" 0 $LEN "$SEED"
	cmark=$(kmsg_mark "memory_failure_unbind cycle $c")
	rm -f "$STOP"
	start_loop madvise madvise_loop "$WORK/madv.$c"
	wait_until "$HITS_TIMEOUT" hits_ge "$WORK/madv.$c" 2 ||
		fail "cycle $c: fewer than 2 MADV_HWPOISON helpers got SIGBUS BUS_MCEERR_AR in $HITS_TIMEOUT s: $(tail -n 3 "$WORK/madv.$c" 2>/dev/null | tr '\n' ' ')"
	if [ -n "$CORRUPT" ]; then
		start_loop pfn pfn_loop "$WORK/pfn.$c"
	fi
	sleep 0.$((RANDOM % 3))
	ns_unbind "$NS" || fail "cycle $c: unbind of $NS during the failures failed"
	sleep 0.3
	stop_loops "cycle $c"
	fs_umount "$MNT" || fail "cycle $c: umount after the unbind failed"
	ns_bind "$NS" || fail "cycle $c: bind of $NS failed"
	bad=$(dmesg_since "$cmark" | dmesg_bad_lines)
	if [ -n "$bad" ]; then
		dmesg_since "$cmark" | grep -v -F "$MARK_PREFIX" | tail -n 80 | sed 's/^/    /'
		fail "cycle $c: kernel problem during the failures and the unbind"
	fi
	log "cycle $c: helpers: $(tally "$WORK/madv.$c")${CORRUPT:+; corrupt-pfn writes: $(tally "$WORK/pfn.$c" 2>/dev/null)}"
done

dax_mount pmem0 "$MNT" || fail "mount after the cycles failed"
must pmemio verify "$F" 0 $LEN "$SEED"
must dax_mmap verify "$F" 0 $LEN "$SEED"
bb0=$(bb_show pmem0)
if rust; then
	rr0=$(counter pmem0 ranges_recorded)
	sf0=$(counter pmem0 simulated_failures)
fi
out=$(poison hwpoison-range "$F" $((4096 + 100)) 2)
log "after the cycles: MADV_HWPOISON over pages 1-2 of f: $out"
case $out in
"madvise=ok signal=sigbus code=BUS_MCEERR_AR addr=page lsb="*" then=ok byte="*) ;;
*) fail "after the cycles: expected madvise=ok, SIGBUS BUS_MCEERR_AR at page 1 and the page mapping again, got '$out'" ;;
esac
expect_bb pmem0 "$bb0" || fail "after the cycles: a simulated failure changed badblocks"
if rust; then
	expect_counter pmem0 ranges_recorded "$rr0" || fail "after the cycles: a simulated failure counted as recorded"
	[ "$(counter pmem0 simulated_failures)" -gt "$sf0" ] ||
		fail "after the cycles: simulated_failures $sf0 -> $(counter pmem0 simulated_failures), expected it to go up"
fi
must pmemio verify "$F" 0 $LEN "$SEED"
fs_umount "$MNT" || fail "umount failed"
ns_rebind "$NS" || fail "the last rebind of $NS failed"
must pmemio write /dev/pmem0 $((64 * MiB + 512)) $((4096 + 512)) "$SEED" direct
must pmemio verify /dev/pmem0 $((64 * MiB + 512)) $((4096 + 512)) "$SEED" direct
DONE=1
log "$CYCLES cycles of memory failures during unbind: no kernel problem; pmem0 bound, f intact, the device works"
