#!/bin/bash
# A software-simulated memory failure (MF_SW_SIMULATED: madvise(MADV_HWPOISON))
# on DAX pages leaves the media good, so the driver must not record it: it only
# forwards it to the filesystem (dax_holder_notify_failure), as nd_pmem does.
#
# On xfs -o dax made with -m rmapbt=1,reflink=1 (rmapbt: xfs_dax_notify_failure
# finds every owner of a failed block, both files of a reflinked block; a kprobe
# shows that path where tracefs allows), file a (16 pages, written) and
# b = cp --reflink=always a (FIEMAP shows the same sectors): MADV_HWPOISON on
# page 1 of a mapping of a (the process gets SIGBUS BUS_MCEERR_AR at the page's
# address, madvise returns 0, the page maps again afterwards), then a 2-page
# MADV_HWPOISON over pages 1 and 2 of a new mapping of b, not touched before
# (madvise's get_user_pages faults them in): SIGBUS BUS_MCEERR_AR at page 1,
# madvise returns 0 (a recorded page 1 made the fault fail: madvise returned
# EFAULT), the page maps again. On ext4 -o dax (no reflink: the generic handler)
# the same with one file for both steps.
# After each step /sys/block/pmem0/badblocks stays empty; rust_pmem's counter
# simulated_failures goes up and ranges_recorded does not. Both files read back
# whole through read(2) and a new mapping (dax_mmap verify). After umount every
# page of the file reads back through /dev/pmem0 (O_DIRECT, compared with the
# pattern, and buffered with dd), and the kernel log has no "I/O error" line
# (recorded failures made udev's and dd's reads log "Buffer I/O error").
# Then (rust_pmem's test build: has_latent) a hardware-reported failure, through
# debugfs hw_memory_failure (memory_failure(pfn, 0) on the page of a new, written
# and once mapped file h): the page's 8 sectors are recorded in badblocks,
# ranges_recorded goes up by one, simulated_failures does not move.
# Restore: umount; the pages the simulated failures hit (1 and 2) are recorded
# through sysfs and, with h's recorded page, overwritten with zeroes through the
# block device: the clear takes the kernel's HWPoison flag off their struct pages
# (memory_failure set it, MADV_HWPOISON too; nd_pmem's pmem_mkpage_present,
# rust_pmem's clear engine), so later cases map them as usual. After the clear the
# pages map and read zeroes on a new mount. (The hwpoison unpoison-pfn interface is
# no way back here: the kernel refuses it for the rest of the boot once any
# hardware-reported failure was seen, which hw_memory_failure and the earlier
# dax_memory_failure raise.)
# nd_pmem: all of the MADV_HWPOISON part; hw_memory_failure is rust_pmem's test
# build, so the case ends skipped there after the rest passed.
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

LEN=65536
NPG=$((LEN / 4096))
OFF=$((4096 + 100)) # a byte of page 1, the page of the first failure

# page_sectors FILE: the disk sector of every page of FILE's first LEN bytes.
page_sectors() {
	local i s out=
	for ((i = 0; i < NPG; i++)); do
		s=$(file_sector "$1" $((i * 4096))) || return 1
		[ $((s % 8)) = 0 ] || { log "page $i of $1 at sector $s: not page aligned" >&2; return 1; }
		out+="$s "
	done
	echo $out
}

# no_records WHEN: badblocks of pmem0 empty, rust_pmem's ranges_recorded unchanged.
no_records() {
	expect_bb pmem0 none || fail "$1: a simulated failure was recorded in badblocks"
	if rust; then
		expect_counter pmem0 ranges_recorded "$RR0" || fail "$1: ranges_recorded moved"
	fi
}

# sim_went_up WHEN: rust_pmem's simulated_failures went up since the last look.
sim_went_up() {
	local now
	rust || return 0
	now=$(counter pmem0 simulated_failures)
	[ "$now" -gt "$SF" ] || fail "$1: simulated_failures $SF -> $now, expected it to go up"
	log "$1: simulated_failures $SF -> $now"
	SF=$now
}

# expect_ar WHAT OUT: the poison tool's line says madvise returned 0, the process got
# SIGBUS BUS_MCEERR_AR at the address of the (first) page, and the page mapped again.
expect_ar() {
	case $2 in
	"madvise=ok signal=sigbus code=BUS_MCEERR_AR addr=page lsb="*" then=ok byte="*) ;;
	*) fail "$1: expected madvise=ok, SIGBUS BUS_MCEERR_AR at the page's address and the page mapping again, got '$2'" ;;
	esac
}

for FS in ext4 xfs; do
	MNT="$MNT_BASE/memory_failure_simulated_$FS"
	SEED=$(random_seed)
	log "-- $FS"
	MARK=$(kmsg_mark "memory_failure_simulated $FS")
	if [ $FS = xfs ]; then
		dax_fs_setup xfs pmem0 "$MNT" rmapbt=1,reflink=1 || fail "xfs -m rmapbt=1,reflink=1 -o dax mount failed"
	else
		dax_fs_setup ext4 pmem0 "$MNT" || fail "ext4 -o dax mount failed"
	fi
	A="$MNT/a"
	B=$A # the file of the second, 2-page failure
	must pmemio write "$A" 0 $LEN "$SEED" creat fsync
	read -r -a SECT <<<"$(page_sectors "$A")"
	[ ${#SECT[@]} = $NPG ] || fail "$FS: no sectors for the pages of $A"
	if [ $FS = xfs ]; then
		B="$MNT/b"
		out=$(cp --reflink=always "$A" "$B" 2>&1) || fail "xfs: cp --reflink=always $A $B: $out"
		file_is_dax "$B" || fail "$B: no STATX_ATTR_DAX"
		sb=$(page_sectors "$B") || fail "xfs: no sectors for the pages of $B"
		[ "$sb" = "${SECT[*]}" ] || fail "xfs: $B does not share the blocks of $A: '$sb' vs '${SECT[*]}'"
		log "xfs: b is a reflink copy of a: both at sectors ${SECT[*]}"
	fi
	S1=${SECT[1]} S2=${SECT[2]}
	sector_reads pmem0 "$S1" 8 "$SEED" 4096 || fail "$FS: FIEMAP sector does not hold the file's data"
	RR0= SF=
	if rust; then
		RR0=$(counter pmem0 ranges_recorded)
		SF=$(counter pmem0 simulated_failures)
	fi
	expect_bb pmem0 none || fail "$FS: badblocks before the failures"
	KP=
	[ $FS = xfs ] && kprobe_count_start rpt_xfs_nf xfs_dax_notify_failure && KP=1

	out=$(poison hwpoison "$A" $OFF)
	log "$FS: MADV_HWPOISON on page 1 of a (sectors $S1..$((S1 + 7))): $out"
	expect_ar "$FS: MADV_HWPOISON on page 1 of a" "$out"
	no_records "$FS: after MADV_HWPOISON on page 1 of a"
	sim_went_up "$FS: MADV_HWPOISON on page 1 of a"

	out=$(poison hwpoison-range "$B" $OFF 2)
	log "$FS: MADV_HWPOISON over pages 1-2 of $(basename "$B") (sectors $S1.., $S2..): $out"
	expect_ar "$FS: MADV_HWPOISON over pages 1-2 of $(basename "$B")" "$out"
	no_records "$FS: after MADV_HWPOISON over pages 1-2"
	sim_went_up "$FS: MADV_HWPOISON over pages 1-2"
	if [ -n "$KP" ]; then
		n=$(kprobe_count rpt_xfs_nf)
		kprobe_count_stop rpt_xfs_nf
		log "xfs: calls of xfs_dax_notify_failure: $n"
		[ "$n" -ge 3 ] || fail "xfs rmapbt=1: expected xfs_dax_notify_failure for each of the 3 failed pages, saw $n"
	fi

	for f in $(printf '%s\n' "$A" "$B" | sort -u); do
		must pmemio verify "$f" 0 $LEN "$SEED"
		must dax_mmap verify "$f" 0 $LEN "$SEED"
	done
	no_records "$FS: after reading the files"
	log "$FS: the files read back whole through read(2) and new mappings; nothing recorded"

	fs_umount "$MNT" || fail "$FS: umount failed"
	udev_settle
	for ((i = 0; i < NPG; i++)); do
		sector_reads pmem0 "${SECT[i]}" 8 "$SEED" $((i * 4096)) ||
			fail "$FS: page $i of the file through /dev/pmem0 after umount"
		out=$(dd if=/dev/pmem0 of=/dev/null bs=4096 skip=$((SECT[i] / 8)) count=1 status=none 2>&1) ||
			fail "$FS: buffered read of page $i of the file (sector ${SECT[i]}) through /dev/pmem0: $out"
	done
	udev_settle
	no_records "$FS: after umount"
	ioerr=$(dmesg_since "$MARK" | grep -F 'I/O error')
	[ -z "$ioerr" ] || fail "$FS: kernel log: $ioerr"
	log "$FS: after umount the file's $NPG pages read back through /dev/pmem0; no I/O error in the kernel log"

	H= SH=
	if [ $HW = 1 ]; then
		dax_mount pmem0 "$MNT" || fail "$FS: mount for the hardware-reported failure failed"
		H="$MNT/h"
		SEED2=$(random_seed)
		must pmemio write "$H" 0 $LEN "$SEED2" creat fsync
		SH=$(file_sector "$H" 4096) || fail "$FS: no sector for $H offset 4096"
		[ $((SH % 8)) = 0 ] || fail "$FS: page of $H at sector $SH: not page aligned"
		sector_reads pmem0 "$SH" 8 "$SEED2" 4096 || fail "$FS: FIEMAP sector does not hold h's data"
		# Mapped once, so that the page has its owner for the kernel's handlers.
		out=$(poison mmap-read "$H" $OFF)
		[[ $out == "ok byte="* ]] || fail "$FS: mapped load of h before the failure: $out"
		RR0=$(counter pmem0 ranges_recorded)
		SF=$(counter pmem0 simulated_failures)
		out=$(sysfs_write "$(rust_dbg pmem0)/hw_memory_failure" "$SH 8" 2>&1)
		log "$FS: hw_memory_failure on page 1 of h (sectors $SH..$((SH + 7))): $out"
		expect_bb pmem0 "$SH 8" || fail "$FS: the hardware-reported failure was not recorded"
		expect_counter pmem0 ranges_recorded $((RR0 + 1)) || fail "$FS: the recorded range was not counted"
		expect_counter pmem0 simulated_failures "$SF" || fail "$FS: a hardware-reported failure counted as simulated"
		log "$FS: hardware-reported failure recorded ($SH 8), ranges_recorded $RR0 -> $((RR0 + 1))"
		fs_umount "$MNT" || fail "$FS: umount failed"
	fi

	# Restore: the pages the simulated failures hit are recorded through sysfs, so
	# that the writes below reach the drivers' clear, which drops the HWPoison flag.
	bb_add pmem0 "$S1" 8
	bb_add pmem0 "$S2" 8
	for s in "$S1" "$S2" $SH; do
		zero_sectors pmem0 "$s" 8 || fail "$FS: writing zeroes over sectors $s+8 failed"
	done
	expect_bb pmem0 none || fail "$FS: writes over the pages did not clear the records"
	dax_mount pmem0 "$MNT" || fail "$FS: mount after the clear failed"
	for f in $(printf '%s\n' "$A" "$B" $H | sort -u); do
		out=$(poison mmap-read "$f" $OFF)
		[ "$out" = "ok byte=0x00" ] || fail "$FS: mapped load of page 1 of $f after the clear: $out"
	done
	out=$(poison mmap-read "$B" $((2 * 4096 + 100)))
	[ "$out" = "ok byte=0x00" ] || fail "$FS: mapped load of page 2 of $B after the clear: $out"
	must pmemio zero "$A" 4096 8192
	must pmemio verify "$A" 0 4096 "$SEED"
	must pmemio verify "$A" 12288 $((LEN - 12288)) "$SEED"
	log "$FS: after the clear the pages map and read zeroes, the rest of the file is intact"
	fs_umount "$MNT" || fail "$FS: umount failed"
done
rust || skip "beyond nd_pmem: hw_memory_failure is rust_pmem's test build (the MADV_HWPOISON part passed on ext4 and xfs)"
[ $HW = 1 ] || skip "rust_pmem built without RUST_PMEM_TEST=1: no hw_memory_failure (the MADV_HWPOISON part passed on ext4 and xfs)"
