#!/bin/bash
# On ext4 and xfs mounted -o dax: a pattern stored through a MAP_SHARED
# mapping (msync, munmap) reads back with read(2) and through a new mapping;
# again after umount/mount; again after umount, unbind/bind of the
# namespace, mount.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
on_exit cleanup_mounts

NS=$(dev_ns pmem0)
# "FILE OFF LEN": page-sized, unaligned, and 2 MiB-aligned 4 MiB (PMD faults).
FILES=("a 0 4096" "b 12345 50000" "c $((2 * MiB)) $((4 * MiB))")

check_files() {
	local f off len
	for f in "${FILES[@]}"; do
		read -r f off len <<<"$f"
		must pmemio verify "$MNT/$f" "$off" "$len" "$SEED"
		must dax_mmap verify "$MNT/$f" "$off" "$len" "$SEED"
		[ "$off" = 0 ] || must pmemio zero "$MNT/$f" 0 "$off"
		file_is_dax "$MNT/$f" || fail "$MNT/$f: no STATX_ATTR_DAX"
	done
	log "$FS: mapped writes read back $1"
}

for FS in ext4 xfs; do
	MNT="$MNT_BASE/dax_mmap_$FS"
	SEED=$(random_seed)
	dax_fs_setup $FS pmem0 "$MNT" || fail "$FS -o dax mount failed"
	for f in "${FILES[@]}"; do
		read -r f off len <<<"$f"
		must dax_mmap write "$MNT/$f" "$off" "$len" "$SEED"
	done
	check_files "at once"
	dax_remount pmem0 "$MNT" || fail "remount failed"
	check_files "after umount/mount"
	fs_umount "$MNT" || fail "umount failed"
	ns_rebind "$NS" || fail "rebind failed"
	dax_mount pmem0 "$MNT" || fail "mount after rebind failed"
	check_files "after unbind/bind"
	fs_umount "$MNT" || fail "umount failed"
done
