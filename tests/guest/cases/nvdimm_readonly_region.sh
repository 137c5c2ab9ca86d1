#!/bin/bash
# region0 set read_only (sysfs) with a raw namespace (128 MiB) on it: as with
# nd_pmem, the driver marks the disk read-only at once (/sys/block/DISK/ro = 1, also
# pmem0 of the same region) and keeps it so across unbind/bind; writes fail with EPERM
# (O_DIRECT and buffered), mount -w of an ext4 on it fails, mount -o ro and reads
# work and the data is unchanged. read_only=0 makes the disk writable again.
# timeout: 600
set -u
. "$(dirname "$0")/../lib.sh"
nv_test_start
require_tools

R=$(ns_region "$(dev_ns pmem0)") # the region of pmem0 (region0)
MNT="$MNT_BASE/nv_ro"
cleanup() {
	cleanup_mounts
	region_set_ro $R 0
	nv_test_cleanup
}
on_exit cleanup

disk_ro_is() { [ "$(cat "/sys/block/$1/ro")" = "$2" ]; }
# expect_ro VALUE WHEN: DISK and pmem0 (both on R) have ro=VALUE.
expect_ro() {
	local d
	for d in "$DISK" pmem0; do
		wait_until 5 disk_ro_is "$d" "$1" ||
			fail "/sys/block/$d/ro = $(cat "/sys/block/$d/ro"), expected $1 $2"
	done
}
# sums: sha256 of the first 64 MiB of DISK, read with O_DIRECT.
sums() { dd if="/dev/$DISK" bs=1M count=64 iflag=direct status=none | sha256sum; }

NS=$(nv_create $R raw 128M) || fail "ndctl create-namespace -m raw failed"
expect_eq "driver of $NS" "$(drv_name)" "$(ns_driver "$NS")" || fail "namespace not bound"
DISK=$(ls "$ND_SYS/devices/$NS/block" | head -n 1)
wait_until 10 dev_present "$DISK" || fail "no /dev/$DISK"
SEED=$(random_seed)
must pmemio write "/dev/$DISK" $((MiB)) $((4 * MiB)) "$SEED" direct
fs_mkfs ext4 "$DISK" || fail "mkfs.ext4 failed"
fs_mount "$DISK" "$MNT" rw || fail "mount failed"
must pmemio write "$MNT/f" 0 $((MiB + 512)) "$SEED" creat fsync
fs_umount "$MNT" || fail "umount failed"
must pmemio write "/dev/$DISK" $((100 * MiB)) $((4 * MiB)) "$SEED" direct
BEFORE=$(sums)

region_set_ro $R 1 || fail "cannot set $R read_only"
expect_ro 1 "after $R read_only=1"
for pass in "" "after unbind/bind"; do
	must_err EPERM pmemio write "/dev/$DISK" $((100 * MiB)) 4096 1 direct
	must_err EPERM pmemio write "/dev/$DISK" $((100 * MiB)) 4096 1 fsync
	must pmemio verify "/dev/$DISK" $((100 * MiB)) $((4 * MiB)) "$SEED" direct
	must pmemio verify "/dev/$DISK" $((100 * MiB)) $((4 * MiB)) "$SEED"
	mkdir -p "$MNT"
	out=$(mount -w "/dev/$DISK" "$MNT" 2>&1) && fail "mount -w of read-only /dev/$DISK succeeded $pass"
	fs_mount "$DISK" "$MNT" ro || fail "mount -o ro failed $pass"
	must pmemio verify "$MNT/f" 0 $((MiB + 512)) "$SEED"
	fs_umount "$MNT" || fail "umount failed"
	expect_eq "sha256 of /dev/$DISK $pass" "$BEFORE" "$(sums)" || fail "read-only disk changed"
	log "read-only ${pass:-at once}: writes EPERM, mount -w refused, reads and mount -o ro work, data unchanged"
	[ -n "$pass" ] && break
	ns_rebind "$NS" || fail "rebind of $NS failed"
	expect_ro 1 "after unbind/bind"
done

region_set_ro $R 0 || fail "cannot clear $R read_only"
expect_ro 0 "after $R read_only=0"
SEED2=$(random_seed)
must pmemio write "/dev/$DISK" $((100 * MiB)) $((4 * MiB)) "$SEED2" direct
must pmemio verify "/dev/$DISK" $((100 * MiB)) $((4 * MiB)) "$SEED2"
fs_mount "$DISK" "$MNT" rw || fail "mount rw after read_only=0 failed"
must pmemio write "$MNT/g" 0 4096 "$SEED2" creat fsync
fs_umount "$MNT" || fail "umount failed"
log "read_only=0: writable again"
nv_destroy "$NS" || fail "destroy-namespace $NS failed"
NS=
