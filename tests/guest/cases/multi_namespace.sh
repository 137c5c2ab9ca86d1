#!/bin/bash
# Two namespaces on two different regions served at once: on memmap pmem0 and pmem1
# (the two e820 namespaces), on nvdimm a new raw namespace (192 MiB) in the free
# space of the NFIT regions of pmem0 and pmem1, both bound to the driver under test. fio
# randwrite with verify=crc32c runs on both at the same time (two jobs per disk)
# and passes; a pattern written to each disk outside fio's range beforehand is
# intact afterwards (no I/O went to the wrong disk).
# timeout: 600
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
command -v fio >/dev/null || fail "fio not installed"

NSS=()
cleanup() {
	local n
	for n in "${NSS[@]}"; do nv_destroy "$n"; done
}
on_exit cleanup

DISKS=()
if [ "$PMEM" = nvdimm ]; then
	# The regions of the runner's pmem0 and pmem1 (region0, region1).
	REGIONS=("$(ns_region "$(dev_ns pmem0)")" "$(ns_region "$(dev_ns pmem1)")")
	for r in "${REGIONS[@]}"; do
		ns=$(nv_create "$r" raw 192M) || fail "create-namespace -m raw on $r failed"
		NSS+=("$ns")
		expect_eq "driver of $ns" "$(drv_name)" "$(ns_driver "$ns")" || fail "$ns not bound"
		d=$(ls "$ND_SYS/devices/$ns/block" | head -n 1)
		wait_until 10 dev_present "$d" || fail "no /dev/$d"
		DISKS+=("$d")
	done
else
	DISKS=(pmem0 pmem1)
fi
R0=$(ns_region "$(dev_ns "${DISKS[0]}")") R1=$(ns_region "$(dev_ns "${DISKS[1]}")")
[ "$R0" != "$R1" ] || fail "${DISKS[*]} are both on $R0"
for d in "${DISKS[@]}"; do
	expect_eq "driver of $d" "$(drv_name)" "$(ns_driver "$(dev_ns "$d")")" || fail "$d not ours"
done
log "disks: ${DISKS[0]} ($R0), ${DISKS[1]} ($R1), driver $(drv_name)"

JOB=$((48 * MiB)) OFF=$((16 * MiB))
declare -A SEEDS
for d in "${DISKS[@]}"; do
	SEEDS[$d]=$(random_seed)
	must pmemio write "/dev/$d" $((OFF + 2 * JOB)) $((8 * MiB)) "${SEEDS[$d]}" direct
done
args=()
for d in "${DISKS[@]}"; do
	args+=(--name="$d" --filename="/dev/$d" --ioengine=libaio --direct=1 --rw=randwrite
		--bs=4k --iodepth=16 --numjobs=2 --size=$JOB --offset=$OFF --offset_increment=$JOB
		--verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0)
done
fio_check $JOB "${args[@]}" || fail "concurrent fio on ${DISKS[*]} failed"
for d in "${DISKS[@]}"; do
	must pmemio verify "/dev/$d" $((OFF + 2 * JOB)) $((8 * MiB)) "${SEEDS[$d]}" direct
done
log "concurrent fio verify passed on both disks; data outside fio's ranges intact"
for n in "${NSS[@]}"; do nv_destroy "$n" || fail "destroy-namespace $n failed"; done
NSS=()
