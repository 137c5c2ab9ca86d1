#!/bin/bash
# Unload and load the driver 20 times (4 on the debug kernel: lib.sh's reps). After
# each unload no pmem device may be left (/dev/pmem*, /sys/block/pmem*) and no
# namespace bound; after each load both namespaces must be bound with their devices
# present and data written before the first unload must still read back.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools

CYCLES=${LOAD_UNLOAD_CYCLES:-$(reps 20 4)}
SEED=$(random_seed)
OFF=$((3 * MiB + 512))
LEN=$((64 * 1024 + 512))

for d in "${PMEM_DEVS[@]}"; do
	must pmemio write "/dev/$d" $OFF $LEN "$SEED" direct
done

for i in $(seq 1 "$CYCLES"); do
	drv_unload || fail "cycle $i: unload failed"
	no_pmem_devices || fail "cycle $i: left after rmmod: $(pmem_leftovers)"
	[ ! -e "$ND_SYS/drivers/$(drv_name)" ] ||
		fail "cycle $i: $ND_SYS/drivers/$(drv_name) still present after rmmod"
	for ns in $(ns_list); do
		[ -z "$(ns_driver "$ns")" ] || fail "cycle $i: $ns bound to $(ns_driver "$ns") after rmmod"
	done

	drv_load || fail "cycle $i: load failed"
	wait_pmem_devices || fail "cycle $i: devices missing after load"
	for ns in $(ns_list); do
		ns_bound "$ns" || fail "cycle $i: $ns not bound to $(drv_name) (driver '$(ns_driver "$ns")')"
	done
	for d in "${PMEM_DEVS[@]}"; do
		must pmemio verify "/dev/$d" $OFF $LEN "$SEED" direct
	done
done
log "$CYCLES unload/load cycles, devices and data fine each time"
