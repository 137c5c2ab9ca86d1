#!/bin/bash
# Data written to both devices (start, middle, last bytes; O_DIRECT and
# buffered) survives an unbind/bind of the namespaces and an rmmod/load of
# the driver.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools

SIZE=$(dev_size pmem0) # 512 MiB on memmap, less on fsdax (pmem1 is as large)
SEED=$(random_seed)
# "OFF LEN OPTS": OPTS are the write options; reads use O_DIRECT and buffered.
PIECES=(
	"0 $((64 * 1024)) direct"
	"$((256 * MiB + 512)) $((MiB - 512)) direct"
	"$((300 * MiB + 1536)) $((5 * 4096 + 1024)) fsync"
	"$((SIZE - 8192)) 8192 direct"
)

write_all() {
	local d p off len opts
	for d in "${PMEM_DEVS[@]}"; do
		for p in "${PIECES[@]}"; do
			read -r off len opts <<<"$p"
			# shellcheck disable=SC2086
			must pmemio write "/dev/$d" "$off" "$len" "$SEED" $opts
		done
	done
}

verify_all() {
	local d p off len opts
	echo 3 >/proc/sys/vm/drop_caches
	for d in "${PMEM_DEVS[@]}"; do
		for p in "${PIECES[@]}"; do
			read -r off len opts <<<"$p"
			must pmemio verify "/dev/$d" "$off" "$len" "$SEED" direct
			must pmemio verify "/dev/$d" "$off" "$len" "$SEED"
		done
	done
	log "data intact $1"
}

write_all
verify_all "before rebind"

for d in "${PMEM_DEVS[@]}"; do
	ns_rebind "$(dev_ns "$d")" || fail "rebind of $(dev_ns "$d") failed"
done
verify_all "after unbind/bind"

drv_reload || fail "rmmod/load failed"
verify_all "after rmmod/load"
