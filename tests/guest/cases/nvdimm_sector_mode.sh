#!/bin/bash
# A sector-mode namespace (ndctl create-namespace -m sector, 128 MiB in region0): its
# btt device is bound to the driver under test (which hands the disk to the btt
# driver, as nd_pmem does), the namespace itself stays unbound, and /dev/pmemX.Ys
# serves verified I/O (O_DIRECT and buffered) that survives an unbind/bind of the btt
# device through the driver's sysfs files and ndctl disable-namespace/enable-namespace.
# timeout: 600
set -u
. "$(dirname "$0")/../lib.sh"
nv_test_start
require_tools

btt_bound() { [ "$(ns_driver "$BTT")" = "$(drv_name)" ] && dev_present "$DISK"; }
btt_unbound() { [ -z "$(ns_driver "$BTT")" ] && dev_absent "$DISK"; }
# check_data WHEN: both pieces read back, with and without O_DIRECT.
check_data() {
	echo 3 >/proc/sys/vm/drop_caches
	must pmemio verify "/dev/$DISK" 0 $((2 * MiB)) "$SEED"
	must pmemio verify "/dev/$DISK" 0 $((2 * MiB)) "$SEED" direct
	must pmemio verify "/dev/$DISK" $((40 * MiB + 8192)) $((3 * MiB)) "$SEED2"
	must pmemio verify "/dev/$DISK" $((40 * MiB + 8192)) $((3 * MiB)) "$SEED2" direct
	log "data intact $1"
}

NS=$(nv_create region0 sector 128M) || fail "ndctl create-namespace -m sector failed"
BTT=$(nv_claim "$NS")
[[ $BTT == btt* ]] || fail "$NS: expected a btt claim, got '$BTT'"
expect_eq "driver of $BTT" "$(drv_name)" "$(ns_driver "$BTT")" || fail "btt device not bound to the driver"
expect_eq "driver of $NS" "" "$(ns_driver "$NS")" || fail "claimed namespace is bound itself"
DISK=$(ls "$ND_SYS/devices/$BTT/block" 2>/dev/null | head -n 1)
[[ $DISK == pmem*s ]] || fail "$BTT: expected a pmemX.Ys disk, got '$DISK'"
wait_until 10 dev_present "$DISK" || fail "/dev/$DISK missing"
log "$NS -> $BTT ($(ns_driver "$BTT")) -> /dev/$DISK, $(dev_size "$DISK") bytes, sector $(blockdev --getss "/dev/$DISK")"

SEED=$(random_seed) SEED2=$(random_seed)
must pmemio write "/dev/$DISK" 0 $((2 * MiB)) "$SEED" direct
must pmemio write "/dev/$DISK" $((40 * MiB + 8192)) $((3 * MiB)) "$SEED2" fsync
check_data "after writing"

echo "$BTT" >"$ND_SYS/drivers/$(drv_name)/unbind" || fail "unbind $BTT failed"
wait_until "$POLL_TIMEOUT" btt_unbound || fail "$BTT still bound or /dev/$DISK present after unbind"
echo "$BTT" >"$ND_SYS/drivers/$(drv_name)/bind" || fail "bind $BTT failed"
wait_until "$POLL_TIMEOUT" btt_bound || fail "$BTT not bound or /dev/$DISK missing after bind"
check_data "after unbind/bind of $BTT"

nv_ndctl disable-namespace "$NS" >/dev/null || fail "disable-namespace failed"
btt_unbound || fail "$BTT still bound or /dev/$DISK present after disable-namespace"
nv_ndctl enable-namespace "$NS" >/dev/null || fail "enable-namespace failed"
wait_until "$POLL_TIMEOUT" btt_bound || fail "$BTT not bound to $(drv_name) or /dev/$DISK missing after enable-namespace"
check_data "after disable/enable-namespace"

nv_destroy "$NS" || fail "destroy-namespace $NS failed"
NS=
