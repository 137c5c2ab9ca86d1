#!/bin/bash
# fio ioengine=mmap randwrite + verify=crc32c, two jobs with a file each, on
# ext4 and xfs mounted -o dax; the files are DAX.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
on_exit cleanup_mounts
command -v fio >/dev/null || fail "fio not installed"

JOB_SIZE=$((16 * MiB))
for FS in ext4 xfs; do
	MNT="$MNT_BASE/dax_fio_$FS"
	dax_fs_setup $FS pmem0 "$MNT" || fail "$FS -o dax mount failed"
	log "fio mmap on $FS -o dax:"
	fio_check $JOB_SIZE --name=mmap --directory="$MNT" --ioengine=mmap \
		--rw=randwrite --bs=4k --numjobs=2 --size=$JOB_SIZE \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 ||
		fail "fio mmap on $FS failed"
	n=0
	for f in "$MNT"/mmap.*; do
		[ -f "$f" ] || continue
		file_is_dax "$f" || fail "$f: no STATX_ATTR_DAX"
		n=$((n + 1))
	done
	expect_eq "number of fio files" 2 $n || fail "fio files missing"
	fs_umount "$MNT" || fail "umount failed"
done
