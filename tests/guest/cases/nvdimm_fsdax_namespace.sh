#!/bin/bash
# A new fsdax namespace (ndctl create-namespace -m fsdax, 384 MiB in the free part of
# region0) is served through its pfn device by the driver under test, like nd_pmem:
# /dev/pmemX.Y has queue/dax=1; ext4 (-b 4096) and xfs (reflink=0) mount with -o dax
# (dax=always), files are STATX_ATTR_DAX, MAP_SYNC mappings are accepted, and data
# written with write(2) and with MAP_SYNC stores (no msync) reads back after umount,
# ndctl disable-namespace/enable-namespace and mount. The namespace is destroyed.
# timeout: 600
set -u
. "$(dirname "$0")/../lib.sh"
nv_test_start
require_tools

# xfs needs more than 300 MB.
NS=$(nv_create region0 fsdax 384M) || fail "ndctl create-namespace -m fsdax failed"
CLAIM=$(nv_claim "$NS")
[[ $CLAIM == pfn* ]] || fail "$NS: expected a pfn claim, got '$CLAIM'"
expect_eq "driver of $CLAIM" "$(drv_name)" "$(ns_driver "$CLAIM")" || fail "pfn device not bound"
DEV=$(ls "$ND_SYS/devices/$CLAIM/block" 2>/dev/null | head -n 1)
[ -n "$DEV" ] && wait_until 10 dev_present "$DEV" || fail "$CLAIM: no block device"
expect_eq "/sys/block/$DEV/queue/dax" 1 "$(cat "/sys/block/$DEV/queue/dax")" || fail "no DAX"
log "$NS -> $CLAIM -> /dev/$DEV ($(dev_size "$DEV") bytes), driver $(ns_driver "$CLAIM")"

for FS in ext4 xfs; do
	MNT="$MNT_BASE/nv_fsdax_$FS"
	SEED=$(random_seed)
	dax_fs_setup $FS "$DEV" "$MNT" || fail "$FS -o dax on /dev/$DEV failed"
	must pmemio write "$MNT/a" 0 $((3 * MiB + 512)) "$SEED" creat fsync
	out=$(dax_mmap probe-sync "$MNT/a" 2>&1) || fail "$FS: MAP_SYNC refused: $out"
	must dax_mmap write "$MNT/s" 4096 $((2 * MiB + 100)) "$SEED" sync nomsync
	file_is_dax "$MNT/a" && file_is_dax "$MNT/s" || fail "$FS: files are not DAX"
	dax_remount "$DEV" "$MNT" || fail "$FS: remount failed"
	must pmemio verify "$MNT/a" 0 $((3 * MiB + 512)) "$SEED"
	must dax_mmap verify "$MNT/s" 4096 $((2 * MiB + 100)) "$SEED"
	fs_umount "$MNT" || fail "umount failed"
	nv_ndctl disable-namespace "$NS" >/dev/null || fail "disable-namespace $NS failed"
	dev_absent "$DEV" || fail "/dev/$DEV still there after disable-namespace"
	nv_ndctl enable-namespace "$NS" >/dev/null || fail "enable-namespace $NS failed"
	expect_eq "driver of $CLAIM after enable" "$(drv_name)" "$(ns_driver "$CLAIM")" || fail "not rebound"
	wait_until 10 dev_present "$DEV" || fail "/dev/$DEV missing after enable-namespace"
	dax_mount "$DEV" "$MNT" || fail "$FS: mount after enable-namespace failed"
	must pmemio verify "$MNT/a" 0 $((3 * MiB + 512)) "$SEED"
	must pmemio verify "$MNT/s" 4096 $((2 * MiB + 100)) "$SEED"
	file_is_dax "$MNT/s" || fail "$FS: file not DAX after enable-namespace"
	log "$FS -o dax ($(mnt_opts "$MNT")): write(2) and MAP_SYNC data intact after remount and disable/enable-namespace"
	fs_umount "$MNT" || fail "umount failed"
done
nv_destroy "$NS" || fail "destroy-namespace $NS failed"
NS=
