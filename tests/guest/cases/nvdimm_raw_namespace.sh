#!/bin/bash
# A raw namespace (ndctl create-namespace -m raw, 384 MiB in region0) has no struct
# pages: the driver under test binds the namespace itself and serves block I/O
# (O_DIRECT and buffered, verified) but no DAX, as nd_pmem does: queue/dax=0,
# ext4 mount -o dax fails ("DAX unsupported by block device"), xfs mount -o dax
# mounts with dax=never (xfs turns DAX off), files are not DAX, MAP_SYNC is refused.
# rust_pmem says "DISK: raw namespace without struct pages" once per bind (nd_pmem
# says nothing).
# timeout: 600
set -u
. "$(dirname "$0")/../lib.sh"
nv_test_start
require_tools

# raw_lines DISK MARK: rust_pmem's raw-namespace lines for DISK since MARK.
raw_lines() { dmesg_since "$2" | grep -c -F "$1: raw namespace without struct pages"; }

MARK=$(kmsg_mark raw_create)
NS=$(nv_create region0 raw 384M) || fail "ndctl create-namespace -m raw failed"
expect_eq "claim of $NS" "$NS" "$(nv_claim "$NS")" || fail "raw namespace is claimed"
expect_eq "driver of $NS" "$(drv_name)" "$(ns_driver "$NS")" || fail "raw namespace not bound"
DEV=$(ls "$ND_SYS/devices/$NS/block" 2>/dev/null | head -n 1)
[ -n "$DEV" ] && wait_until 10 dev_present "$DEV" || fail "$NS: no block device"
expect_eq "/sys/block/$DEV/queue/dax" 0 "$(cat "/sys/block/$DEV/queue/dax")" || fail "raw disk claims DAX"
log "$NS -> /dev/$DEV ($(dev_size "$DEV") bytes), driver $(ns_driver "$NS")"
if [ "$DRIVER" = rust ]; then
	expect_eq "raw-namespace lines for $DEV after create" 1 "$(raw_lines "$DEV" "$MARK")" || fail "message count"
fi

SEED=$(random_seed)
must pmemio write "/dev/$DEV" $((MiB + 4096)) $((4 * MiB)) "$SEED" direct
must pmemio write "/dev/$DEV" $((8 * MiB + 512)) $((MiB + 1024)) "$SEED" fsync
echo 3 >/proc/sys/vm/drop_caches
must pmemio verify "/dev/$DEV" $((MiB + 4096)) $((4 * MiB)) "$SEED"
must pmemio verify "/dev/$DEV" $((8 * MiB + 512)) $((MiB + 1024)) "$SEED" direct
log "block I/O (O_DIRECT and buffered) verified"

MNT="$MNT_BASE/nv_raw"
fs_mkfs ext4 "$DEV" || fail "mkfs.ext4 failed"
mkdir -p "$MNT"
MARK=$(kmsg_mark ext4_dax)
out=$(mount -o dax "/dev/$DEV" "$MNT" 2>&1) && fail "ext4 mount -o dax of raw /dev/$DEV succeeded: $(mnt_opts "$MNT")"
dmesg_since "$MARK" | grep -q "EXT4-fs ($DEV): DAX unsupported by block device" ||
	fail "no 'DAX unsupported by block device' from ext4: $(dmesg_since "$MARK" | tail -n 3)"
log "ext4 -o dax refused: DAX unsupported by block device"

fs_mkfs xfs "$DEV" || fail "mkfs.xfs failed"
MARK=$(kmsg_mark xfs_dax)
fs_mount "$DEV" "$MNT" dax || fail "xfs mount -o dax of raw /dev/$DEV failed"
mnt_opts "$MNT" | tr ',' '\n' | grep -qx 'dax=never' || fail "xfs -o dax on raw: expected dax=never, got $(mnt_opts "$MNT")"
dmesg_since "$MARK" | grep -q "XFS ($DEV): DAX unsupported by block device. Turning off DAX." ||
	fail "no 'Turning off DAX' from xfs: $(dmesg_since "$MARK" | tail -n 3)"
must pmemio write "$MNT/f" 0 $((MiB + 512)) "$SEED" creat fsync
expect_eq "statx DAX of $MNT/f" "dax 0" "$(statx_dax "$MNT/f" 2>&1)" || fail "file on raw disk is DAX"
must_err EOPNOTSUPP dax_mmap probe-sync "$MNT/f"
fs_umount "$MNT" || fail "umount failed"
fs_mount "$DEV" "$MNT" dax || fail "xfs remount failed"
must pmemio verify "$MNT/f" 0 $((MiB + 512)) "$SEED"
fs_umount "$MNT" || fail "umount failed"
log "xfs -o dax on raw: dax=never, file not DAX, MAP_SYNC refused, data intact after remount"

SEED=$(random_seed)
must pmemio write "/dev/$DEV" $((MiB + 4096)) $((4 * MiB)) "$SEED" direct
MARK=$(kmsg_mark raw_rebind)
ns_rebind "$NS" || fail "rebind of $NS failed"
must pmemio verify "/dev/$DEV" $((MiB + 4096)) $((4 * MiB)) "$SEED" direct
log "data intact after unbind/bind"
if [ "$DRIVER" = rust ]; then
	expect_eq "raw-namespace lines for $DEV after rebind" 1 "$(raw_lines "$DEV" "$MARK")" || fail "message count"
	log "rust_pmem: one 'raw namespace without struct pages' line per bind"
fi
nv_destroy "$NS" || fail "destroy-namespace $NS failed"
NS=
