#!/bin/bash
# memory_failure on a mapped DAX page: madvise(MADV_HWPOISON) (CAP_SYS_ADMIN)
# on the mapped second page of a written file, on ext4 -o dax (no DAX holder
# operations: the generic handler) and on xfs -o dax made with
# -m rmapbt=1,reflink=0 (xfs_dax_notify_failure; kprobes on it and on
# dax_holder_notify_failure show the path where tracefs allows). The mapping process gets
# SIGBUS with si_code BUS_MCEERR_AR (it is the process that asked: the kernel
# sends AR to current) at the page's address; madvise returns 0; no oops.
# rust_pmem also records the page (its 8 sectors, from FIEMAP) in
# /sys/block/pmem0/badblocks, so a later load of it gets SIGBUS again and
# read(2) fails with EIO; nd_pmem records nothing and the page maps again
# (that part is skipped there as beyond nd_pmem).
# Restore: umount, record the page through sysfs if it is not, write zeroes
# over it through the block device. The clear also takes the HWPoison flag off
# the struct page on both drivers (pmem.c's pmem_mkpage_present, rust_pmem's
# rpmem_poison_cleared), so later mounts and mappings of the page work; the
# namespace is not unbound (an unbind with xfs rmapbt=1 mounted hangs in
# nd_pmem). After the clear, the page maps and reads zeroes on a new mount.
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0
rust() { [ "$DRIVER" = rust ]; }

hwc() { awk '/^HardwareCorrupted:/ { print $2 " " $3 }' /proc/meminfo; }

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
	rust && rr0=$(counter pmem0 ranges_recorded)
	h0=$(hwc)
	# The driver's dev_pagemap memory_failure forwards to the DAX holder (xfs).
	KP=
	kprobe_count_start rpt_holder dax_holder_notify_failure &&
		kprobe_count_start rpt_xfs_nf xfs_dax_notify_failure && KP=1

	out=$(poison hwpoison "$F" $((4096 + 100)))
	log "$FS: madvise(MADV_HWPOISON) on the mapped page (sectors $S..$((S + 7))): $out"
	if [ -n "$KP" ]; then
		holder=$(kprobe_count rpt_holder) xfs_nf=$(kprobe_count rpt_xfs_nf)
		kprobe_count_stop rpt_holder
		kprobe_count_stop rpt_xfs_nf
		log "$FS: calls of dax_holder_notify_failure $holder, xfs_dax_notify_failure $xfs_nf"
		[ "$holder" -ge 1 ] || fail "$FS: the driver's memory_failure did not reach dax_holder_notify_failure"
		if [ $FS = xfs ]; then
			[ "$xfs_nf" -ge 1 ] || fail "xfs rmapbt=1: xfs_dax_notify_failure not called"
		else
			[ "$xfs_nf" = 0 ] || fail "ext4: xfs_dax_notify_failure called"
		fi
	else
		log "(no kprobes: the memory_failure path is judged by the signal alone)"
	fi
	log "$FS: HardwareCorrupted $h0 -> $(hwc); $(dmesg | grep -E 'Memory failure|Injecting memory failure' | tail -n 2 | tr '\n' ' ')"
	case $out in
	"madvise=ok signal=sigbus code=BUS_MCEERR_AR addr=page lsb="*) ;;
	*) fail "$FS: expected madvise=ok and SIGBUS BUS_MCEERR_AR at the page address, got '$out'" ;;
	esac
	then=${out##* then=}
	if rust; then
		expect_bb pmem0 "$S 8" || fail "$FS: rust_pmem did not record the failed page"
		expect_counter pmem0 ranges_recorded $((rr0 + 1)) || fail "$FS: recorded range not counted"
		case $then in
		"sigbus code=BUS_MCEERR_AR addr=load"*) ;;
		*) fail "$FS: a load of the recorded page after the failure: expected SIGBUS, got '$then'" ;;
		esac
		must_err EIO pmemio read "$F" 4096 4096
		must pmemio verify "$F" 0 4096 "$SEED"
		must pmemio verify "$F" 8192 $((65536 - 8192)) "$SEED"
		log "$FS: page recorded ($S 8); it faults with SIGBUS and read(2) fails with EIO until rewritten"
	else
		expect_bb pmem0 none || fail "$FS: nd_pmem recorded something"
		log "$FS: nd_pmem: nothing recorded, the next load: $then"
		bb_add pmem0 "$S" 8 # so that the clear below reaches pmem_clear_poison
	fi

	fs_umount "$MNT" || fail "$FS: umount failed"
	zero_sectors pmem0 "$S" 8 || fail "$FS: writing zeroes over the page failed"
	expect_bb pmem0 none || fail "$FS: write over the page did not clear the record"
	dax_mount pmem0 "$MNT" || fail "$FS: mount after the clear failed"
	out=$(poison mmap-read "$F" 4096)
	[ "$out" = "ok byte=0x00" ] || fail "$FS: mapped load of the cleared page: $out"
	must pmemio zero "$F" 4096 4096
	must pmemio verify "$F" 0 4096 "$SEED"
	must pmemio verify "$F" 8192 $((65536 - 8192)) "$SEED"
	log "$FS: after the clear the page maps and reads zeroes"
	fs_umount "$MNT" || fail "$FS: umount failed"
done
rust || skip "beyond nd_pmem: recording a memory_failure page in badblocks (SIGBUS BUS_MCEERR_AR part passed on ext4 and xfs)"
