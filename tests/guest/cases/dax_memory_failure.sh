#!/bin/bash
# memory_failure on a mapped DAX page: madvise(MADV_HWPOISON) (CAP_SYS_ADMIN)
# on the mapped second page of a written file, on ext4 -o dax (no DAX holder
# operations: the generic handler) and on xfs -o dax made with
# -m rmapbt=1,reflink=0 (xfs_dax_notify_failure; kprobes on it and on
# dax_holder_notify_failure show the path; the case fails without them). The mapping process gets
# SIGBUS with si_code BUS_MCEERR_AR (it is the process that asked: the kernel
# sends AR to current) at the page's address; madvise returns 0; no oops.
# MADV_HWPOISON is a software-simulated failure (MF_SW_SIMULATED): the media is
# good, so neither driver records it: badblocks stay empty, the next load of the
# page maps it again and the whole file reads back; rust_pmem counts it in
# simulated_failures (one more) and not in ranges_recorded.
# rust_pmem's test build (has_latent) then raises a hardware-reported failure on
# the same page, rewritten, through debugfs hw_memory_failure (the kernel's
# memory_failure(pfn, 0)): the driver forwards it to the filesystem as well
# (dax_holder_notify_failure, seen by a kprobe) and records the page (its 8
# sectors, from FIEMAP) in /sys/block/pmem0/badblocks, ranges_recorded one more,
# simulated_failures unchanged; a load of it from a new mapping gets SIGBUS
# BUS_MCEERR_AR at the loaded address and read(2) fails with EIO; the rest of the
# file reads. nd_pmem and rust_pmem's production build have no hw_memory_failure:
# that part is skipped there (the case ends skipped after the rest passed).
# Restore after each part: umount, record the page through sysfs if it is not,
# write zeroes over it through the block device. The clear also takes the HWPoison
# flag (memory_failure sets it for either kind of failure) off the struct page on
# both drivers (pmem.c's pmem_mkpage_present, rust_pmem's clear engine), so later
# mounts and mappings of the page work; the namespace is not unbound (an unbind with
# xfs rmapbt=1 mounted hangs in nd_pmem). After the clear, the page maps and reads
# zeroes on a new mount.
# rust_pmem: test build (plants poison through its debugfs; on a kernel where the
# production build is tested, this case loads the test build)
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0
rust() { [ "$DRIVER" = rust ]; }

HW=0
if rust; then
	[ "$(counter pmem0 simulated_failures)" != missing ] ||
		fail "no simulated_failures counter in $(rust_dbg pmem0)/counters: $(counters_line pmem0)"
	if has_latent pmem0; then
		[ -e "$(rust_dbg pmem0)/hw_memory_failure" ] ||
			fail "test build without $(rust_dbg pmem0)/hw_memory_failure: $(ls "$(rust_dbg pmem0)" | tr '\n' ' ')"
		HW=1
	fi
fi

hwc() { awk '/^HardwareCorrupted:/ { print $2 " " $3 }' /proc/meminfo; }

# restore_page WHAT: with the file system mounted at MNT and page 1 of F (sectors
# S..S+7) recorded: umount, write zeroes over the page through the block device (the
# record and the HWPoison flag go), mount again; the page maps and reads zeroes, the
# rest of F is intact.
restore_page() {
	local out
	fs_umount "$MNT" || fail "$1: umount failed"
	zero_sectors pmem0 "$S" 8 || fail "$1: writing zeroes over the page failed"
	expect_bb pmem0 none || fail "$1: write over the page did not clear the record"
	dax_mount pmem0 "$MNT" || fail "$1: mount after the clear failed"
	out=$(poison mmap-read "$F" $((4096 + 100)))
	[ "$out" = "ok byte=0x00" ] || fail "$1: mapped load of the cleared page: $out"
	must pmemio zero "$F" 4096 4096
	must pmemio verify "$F" 0 4096 "$SEED"
	must pmemio verify "$F" 8192 $((65536 - 8192)) "$SEED"
	log "$1: after the clear the page maps and reads zeroes"
}

# kp_start: kprobes on dax_holder_notify_failure and xfs_dax_notify_failure (the case
# fails without them).
kp_start() {
	kprobe_count_start rpt_holder dax_holder_notify_failure &&
		kprobe_count_start rpt_xfs_nf xfs_dax_notify_failure ||
		fail "no kprobes on the notify_failure path: it cannot be observed"
}

# kp_check WHAT: the driver's memory_failure reached dax_holder_notify_failure, and
# xfs_dax_notify_failure on xfs only.
kp_check() {
	local holder xfs_nf
	holder=$(kprobe_count rpt_holder) xfs_nf=$(kprobe_count rpt_xfs_nf)
	kprobe_count_stop rpt_holder
	kprobe_count_stop rpt_xfs_nf
	log "$1: calls of dax_holder_notify_failure $holder, xfs_dax_notify_failure $xfs_nf"
	[ "$holder" -ge 1 ] || fail "$1: the driver's memory_failure did not reach dax_holder_notify_failure"
	if [ "$FS" = xfs ]; then
		[ "$xfs_nf" -ge 1 ] || fail "$1: xfs rmapbt=1: xfs_dax_notify_failure not called"
	else
		[ "$xfs_nf" = 0 ] || fail "$1: ext4: xfs_dax_notify_failure called"
	fi
}

for FS in ext4 xfs; do
	MNT="$MNT_BASE/dax_memory_failure_$FS"
	F="$MNT/f"
	SEED=$(random_seed)
	log "-- $FS"
	dax_fs_setup $FS pmem0 "$MNT" rmapbt=1,reflink=0 || fail "$FS -o dax mount failed"
	must pmemio write "$F" 0 65536 "$SEED" creat fsync
	S=$(file_sector "$F" 4096) || fail "no sector for $F offset 4096"
	[ $((S % 8)) = 0 ] || fail "page of $F at sector $S: not page aligned"
	sector_reads pmem0 "$S" 8 "$SEED" 4096 || fail "FIEMAP sector does not hold the file's data"
	if rust; then
		rr0=$(counter pmem0 ranges_recorded)
		sf0=$(counter pmem0 simulated_failures)
	fi
	h0=$(hwc)

	# ---- simulated: MADV_HWPOISON
	kp_start
	out=$(poison hwpoison "$F" $((4096 + 100)))
	log "$FS: madvise(MADV_HWPOISON) on the mapped page (sectors $S..$((S + 7))): $out"
	kp_check "$FS MADV_HWPOISON"
	log "$FS: HardwareCorrupted $h0 -> $(hwc); $(dmesg | grep -E 'Memory failure|Injecting memory failure' | tail -n 2 | tr '\n' ' ')"
	case $out in
	"madvise=ok signal=sigbus code=BUS_MCEERR_AR addr=page lsb="*) ;;
	*) fail "$FS: expected madvise=ok and SIGBUS BUS_MCEERR_AR at the page address, got '$out'" ;;
	esac
	then=${out##* then=}
	expect_bb pmem0 none || fail "$FS: a simulated failure (MADV_HWPOISON) was recorded"
	if rust; then
		expect_counter pmem0 ranges_recorded "$rr0" || fail "$FS: a simulated failure counted as a recorded range"
		expect_counter pmem0 simulated_failures $((sf0 + 1)) || fail "$FS: the simulated failure was not counted"
	fi
	case $then in
	"ok byte="*) ;;
	*) fail "$FS: a load of the page after the simulated failure: expected it to map again, got '$then'" ;;
	esac
	must pmemio verify "$F" 0 65536 "$SEED"
	must dax_mmap verify "$F" 0 65536 "$SEED"
	expect_bb pmem0 none || fail "$FS: reading the file recorded something"
	log "$FS: nothing recorded; the page maps again and the whole file reads back"
	bb_add pmem0 "$S" 8 # so that the clear below reaches the drivers' clear
	restore_page "$FS (simulated)"

	# ---- hardware-reported: hw_memory_failure (rust_pmem's test build)
	if [ $HW = 1 ]; then
		must pmemio write "$F" 4096 4096 "$SEED"
		s=$(file_sector "$F" 4096) || fail "no sector for $F offset 4096"
		[ "$s" = "$S" ] || fail "$FS: page 1 of $F moved from sector $S to $s when rewritten"
		out=$(poison mmap-read "$F" $((4096 + 100)))
		[[ $out == "ok byte="* ]] || fail "$FS: mapped load of the rewritten page: $out"
		rr0=$(counter pmem0 ranges_recorded)
		sf0=$(counter pmem0 simulated_failures)
		kp_start
		out=$(sysfs_write "$(rust_dbg pmem0)/hw_memory_failure" "$S 8" 2>&1)
		log "$FS: hw_memory_failure on the page (sectors $S..$((S + 7))): $out"
		kp_check "$FS hw_memory_failure"
		expect_bb pmem0 "$S 8" || fail "$FS: rust_pmem did not record the hardware-reported failure"
		expect_counter pmem0 ranges_recorded $((rr0 + 1)) || fail "$FS: recorded range not counted"
		expect_counter pmem0 simulated_failures "$sf0" || fail "$FS: a hardware-reported failure counted as simulated"
		out=$(poison mmap-read "$F" $((4096 + 100)))
		case $out in
		"sigbus code=BUS_MCEERR_AR addr=load"*) ;;
		*) fail "$FS: a load of the recorded page from a new mapping: expected SIGBUS BUS_MCEERR_AR, got '$out'" ;;
		esac
		must_err EIO pmemio read "$F" 4096 4096
		must pmemio verify "$F" 0 4096 "$SEED"
		must pmemio verify "$F" 8192 $((65536 - 8192)) "$SEED"
		log "$FS: page recorded ($S 8); it faults with SIGBUS and read(2) fails with EIO until rewritten"
		restore_page "$FS (hardware-reported)"
	fi
	fs_umount "$MNT" || fail "$FS: umount failed"
done
rust || skip "beyond nd_pmem: recording a hardware-reported memory_failure (hw_memory_failure is rust_pmem's test build; the MADV_HWPOISON part passed on ext4 and xfs)"
[ $HW = 1 ] || skip "rust_pmem built without RUST_PMEM_TEST=1: no hw_memory_failure (the MADV_HWPOISON part passed on ext4 and xfs)"
