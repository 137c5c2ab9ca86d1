#!/bin/bash
# A devdax namespace (ndctl create-namespace -m devdax, 128 MiB in region0) is not
# the driver's: its dax device is bound by dax_pmem and /dev/daxX.Y by device_dax,
# neither the namespace nor the claim is bound to the driver under test and there is
# no block device. A MAP_SHARED mapping of /dev/daxX.Y (2 MiB aligned) stores a
# pattern that reads back in a new mapping and after disable/enable-namespace.
# timeout: 600
set -u
. "$(dirname "$0")/../lib.sh"
nv_test_start

NS=$(nv_create region0 devdax 128M) || fail "ndctl create-namespace -m devdax failed"
CLAIM=$(nv_claim "$NS")
[[ $CLAIM == dax* ]] || fail "$NS: expected a dax claim, got '$CLAIM'"
CHR=$(ls "$ND_SYS/devices/$CLAIM" | grep -m1 '^dax[0-9]')
[ -n "$CHR" ] && wait_until 10 test -c "/dev/$CHR" || fail "$CLAIM: no /dev/daxX.Y"
expect_eq "driver of $CLAIM" dax_pmem "$(ns_driver "$CLAIM")" || fail "dax claim not bound by dax_pmem"
expect_eq "driver of $CHR" device_dax "$(basename "$(readlink "/sys/bus/dax/devices/$CHR/driver")")" ||
	fail "/dev/$CHR not bound by device_dax"
expect_eq "driver of $NS" "" "$(ns_driver "$NS")" || fail "claimed namespace is bound"
for d in "$NS" "$CLAIM"; do
	[ -z "$(ls "$ND_SYS/devices/$d/block" 2>/dev/null)" ] || fail "$d has a block device"
	[ "$(ns_driver "$d")" != "$(drv_name)" ] || fail "$d bound to $(drv_name)"
done
log "$NS -> $CLAIM (dax_pmem) -> /dev/$CHR (device_dax), $(cat "/sys/bus/dax/devices/$CHR/size") bytes"

SEED=$(random_seed) SEED2=$(random_seed)
must devdax_io write "/dev/$CHR" 0 $((2 * MiB)) "$SEED"
must devdax_io write "/dev/$CHR" $((64 * MiB)) $((4 * MiB)) "$SEED2"
must devdax_io verify "/dev/$CHR" 0 $((2 * MiB)) "$SEED"
must devdax_io verify "/dev/$CHR" $((64 * MiB)) $((4 * MiB)) "$SEED2"
log "pattern stored and read back through mmap of /dev/$CHR"

nv_ndctl disable-namespace "$NS" >/dev/null || fail "disable-namespace failed"
[ ! -e "/dev/$CHR" ] || fail "/dev/$CHR still there after disable-namespace"
nv_ndctl enable-namespace "$NS" >/dev/null || fail "enable-namespace failed"
wait_until 10 test -c "/dev/$CHR" || fail "/dev/$CHR missing after enable-namespace"
expect_eq "driver of $NS after enable" "" "$(ns_driver "$NS")" || fail "namespace bound after enable"
must devdax_io verify "/dev/$CHR" 0 $((2 * MiB)) "$SEED"
must devdax_io verify "/dev/$CHR" $((64 * MiB)) $((4 * MiB)) "$SEED2"
log "data intact after disable/enable-namespace"

nv_destroy "$NS" || fail "destroy-namespace $NS failed"
NS=
