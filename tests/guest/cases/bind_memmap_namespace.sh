#!/bin/bash
# The two namespaces (memmap: the e820 ones; nvdimm: the pfn devices of the fsdax
# namespaces) are bound to the driver, their block devices have the size the nd
# device reports (512 MiB on memmap; on fsdax less the data offset) and the queue
# limits and features are those of nd_pmem.
set -u
. "$(dirname "$0")/../lib.sh"

# queue attribute -> nd_pmem's value on a memmap (e820) namespace
declare -A QUEUE=(
	[logical_block_size]=512
	[physical_block_size]=4096
	[rotational]=0
	[nomerges]=0
	[dax]=1
	[write_cache]="write back"
	[fua]=0
	[iostats]=0
	[max_hw_sectors_kb]=2147483647
)
ok=1

nss=$(ns_list)
expect_eq "number of namespaces" 2 "$(echo "$nss" | wc -l)" || ok=0
for ns in $nss; do
	dev=$(ns_dev "$ns")
	expect_eq "driver of $ns" "$(drv_name)" "$(ns_driver "$ns")" || ok=0
	[ -b "/dev/$dev" ] || { log "/dev/$dev is not a block device"; ok=0; continue; }
	expect_eq "namespace of $dev" "$ns" "$(dev_ns "$dev")" || ok=0
	want=$(cat "$ND_SYS/devices/$ns/size")
	[ "$PMEM" = nvdimm ] || expect_eq "size of $ns" $((512 * MiB)) "$want" || ok=0
	expect_eq "size of /dev/$dev" "$want" "$(dev_size "$dev")" || ok=0
	expect_eq "/sys/block/$dev/size" $((want / 512)) "$(cat "/sys/block/$dev/size")" || ok=0
	expect_eq "/sys/block/$dev/ro" 0 "$(cat "/sys/block/$dev/ro")" || ok=0
	for a in "${!QUEUE[@]}"; do
		expect_eq "/sys/block/$dev/queue/$a" "${QUEUE[$a]}" \
			"$(cat "/sys/block/$dev/queue/$a" 2>&1)" || ok=0
	done
	[ -f "/sys/block/$dev/dax/write_cache" ] ||
		{ log "/sys/block/$dev/dax/write_cache missing"; ok=0; }
	log "$ns -> /dev/$dev, $(dev_size "$dev") bytes, driver $(ns_driver "$ns")"
done
for d in "${PMEM_DEVS[@]}"; do
	echo "$nss" | grep -qx "$(dev_ns "$d")" || { log "$d has no namespace"; ok=0; }
done
[ $ok = 1 ] || fail "namespace or queue attributes differ from nd_pmem's"
