#!/bin/bash
# Files written through DAX mappings (mmap + msync) on ext4 and xfs survive
# umount, rmmod/load of the driver and mount.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
on_exit cleanup_mounts

FILES=("a 0 $((MiB))" "b 4097 $((3 * 4096))" "c $((2 * MiB)) $((4 * MiB))")

for FS in ext4 xfs; do
	MNT="$MNT_BASE/dax_persist_$FS"
	SEED=$(random_seed)
	dax_fs_setup $FS pmem0 "$MNT" || fail "$FS -o dax mount failed"
	for f in "${FILES[@]}"; do
		read -r f off len <<<"$f"
		must dax_mmap write "$MNT/$f" "$off" "$len" "$SEED"
		file_is_dax "$MNT/$f" || fail "$MNT/$f: no STATX_ATTR_DAX"
	done
	fs_umount "$MNT" || fail "umount failed"
	drv_reload || fail "rmmod/load failed"
	dax_mount pmem0 "$MNT" || fail "mount after reload failed"
	for f in "${FILES[@]}"; do
		read -r f off len <<<"$f"
		must pmemio verify "$MNT/$f" "$off" "$len" "$SEED"
		must dax_mmap verify "$MNT/$f" "$off" "$len" "$SEED"
	done
	log "$FS: mapped writes intact after umount, rmmod/load, mount"
	fs_umount "$MNT" || fail "umount failed"
done
