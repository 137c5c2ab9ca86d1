#!/bin/bash
# MAP_SHARED_VALIDATE|MAP_SYNC is accepted on ext4 and xfs mounted -o dax
# (the driver's dax device is synchronous); stores through it without msync
# reach the media (munmap, umount, unbind/bind, mount, verify). Mounted with
# -o dax=never the same mapping fails with EOPNOTSUPP.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
on_exit cleanup_mounts

NS=$(dev_ns pmem0)

for FS in ext4 xfs; do
	MNT="$MNT_BASE/dax_map_sync_$FS"
	SEED=$(random_seed)
	dax_fs_setup $FS pmem0 "$MNT" || fail "$FS -o dax mount failed"
	must pmemio write "$MNT/probe" 0 65536 "$SEED" creat fsync
	out=$(dax_mmap probe-sync "$MNT/probe" 2>&1) || fail "$FS -o dax: MAP_SYNC refused: $out"
	log "$FS -o dax: $out"
	must dax_mmap write "$MNT/s" 0 $((2 * MiB)) "$SEED" sync nomsync
	must dax_mmap write "$MNT/s" $((2 * MiB + 4096 + 100)) 10000 "$SEED" sync nomsync
	fs_umount "$MNT" || fail "umount failed"
	ns_rebind "$NS" || fail "rebind failed"
	dax_mount pmem0 "$MNT" || fail "mount after rebind failed"
	must pmemio verify "$MNT/s" 0 $((2 * MiB)) "$SEED"
	must pmemio verify "$MNT/s" $((2 * MiB + 4096 + 100)) 10000 "$SEED"
	log "$FS: MAP_SYNC stores without msync intact after umount, rebind, mount"
	fs_umount "$MNT" || fail "umount failed"

	fs_mount pmem0 "$MNT" dax=never || fail "mount -o dax=never failed"
	! mnt_is_dax "$MNT" || fail "-o dax=never mount shows dax: $(mnt_opts "$MNT")"
	out=$(statx_dax "$MNT/probe" 2>&1)
	expect_eq "statx DAX of a file on a dax=never mount" "dax 0" "$out" || fail "file is DAX"
	must_err EOPNOTSUPP dax_mmap probe-sync "$MNT/probe"
	log "$FS -o dax=never: MAP_SYNC refused with EOPNOTSUPP"
	fs_umount "$MNT" || fail "umount failed"
done
