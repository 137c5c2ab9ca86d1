#!/bin/bash
# Data written to both devices (start, middle, last bytes; O_DIRECT and
# buffered) survives an unbind/bind of the namespaces and an rmmod/load of
# the driver. Flushes observed (lib.sh's flush_watch): the writes reach the
# region's flush once per device (the fsync'd piece), the O_DIRECT ones not at
# all, and every unbind (also by rmmod) flushes its region once.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
on_exit flush_watch_stop

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

# Nothing of either device may be dirty in the page cache when counting starts.
for d in "${PMEM_DEVS[@]}"; do must pmemio write "/dev/$d" 0 0 "$SEED" fsync; done
flush_watch_start "${PMEM_DEVS[@]}"
write_all
flush_watch_take
expect_eq "region flushes (preflush fua) of the writes" "${#PMEM_DEVS[@]} 0" "$FLUSH_SEEN" ||
	fail "one fsync per device, no flush for O_DIRECT writes"
verify_all "before rebind"

flush_watch_start
for d in "${PMEM_DEVS[@]}"; do
	ns_rebind "$(dev_ns "$d")" || fail "rebind of $(dev_ns "$d") failed"
done
flush_watch_take
expect_eq "region flushes (preflush fua) of the unbinds" "${#PMEM_DEVS[@]} 0" "$FLUSH_SEEN" ||
	fail "each unbind must flush its region once"
verify_all "after unbind/bind"

flush_watch_start
drv_reload || fail "rmmod/load failed"
flush_watch_take
expect_eq "region flushes (preflush fua) of rmmod" "${#PMEM_DEVS[@]} 0" "$FLUSH_SEEN" ||
	fail "each device's removal must flush its region once"
flush_watch_stop
verify_all "after rmmod/load"
