#!/bin/bash
# Synchronous writes and flushes: fsync, fdatasync, O_SYNC, O_DSYNC (buffered and
# O_DIRECT), pwritev2 with RWF_DSYNC/RWF_SYNC, an fsync with nothing dirty (an empty
# flush). Each must reach the region's flush exactly as the block layer asks: one
# REQ_PREFLUSH per fsync (blkdev_fsync), a REQ_FUA write for each O_DIRECT write with
# O_DSYNC semantics (block/fops.c), nothing for plain writes (see lib.sh's flush_watch:
# a kprobe on nvdimm_flush; rust_pmem's counters must agree; on virtio-pmem each must
# also be a request to the host). BLKFLSBUF and sync(1) complete. The data reads back
# after an unbind/bind of the namespace.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
on_exit flush_watch_stop

DEV=/dev/pmem0
NS=$(dev_ns pmem0)
SEED=$(random_seed)
BASE=$((200 * MiB))
# write options ("plain": none) -> "P F": region flushes without a bio (REQ_PREFLUSH) and with one
# (REQ_FUA). A 16.5 KiB O_DIRECT write is one bio.
MODES=(
	"fsync" "fdatasync" "sync" "dsync" "rwf_dsync" "rwf_sync"
	"direct fsync" "direct fdatasync" "direct sync" "direct dsync"
	"direct rwf_dsync" "direct rwf_sync" "direct sync rwf_dsync"
	"plain" "plain direct"
)
declare -A WANT=(
	[fsync]="1 0" [fdatasync]="1 0" [sync]="1 0" [dsync]="1 0" [rwf_dsync]="1 0"
	[rwf_sync]="1 0" ["direct fsync"]="1 0" ["direct fdatasync"]="1 0"
	["direct sync"]="1 1" ["direct dsync"]="1 1" ["direct rwf_dsync"]="1 1"
	["direct rwf_sync"]="1 1" ["direct sync rwf_dsync"]="1 1"
	[plain]="0 0" ["plain direct"]="0 0"
)
LEN=$((16 * 1024 + 512))

# Nothing of pmem0 may be dirty in the page cache when counting starts.
must pmemio write $DEV 0 0 "$SEED" fsync
flush_watch_start pmem0
i=0
for m in "${MODES[@]}"; do
	off=$((BASE + i * MiB + 512))
	# shellcheck disable=SC2086
	out=$(pmemio write $DEV $off $LEN "$SEED" ${m#plain} 2>&1) ||
		fail "write with '$m' at $off: $out"
	flush_watch_take
	log "write with '$m': $out; flushes (preflush fua): $FLUSH_SEEN"
	expect_eq "flushes of a write with '$m'" "${WANT[$m]}" "$FLUSH_SEEN" ||
		fail "the write with '$m' did not reach the region's flush as it must"
	i=$((i + 1))
done

# An fsync with nothing to write still sends a flush to the driver.
must pmemio write $DEV $BASE 4096 "$SEED" direct
must pmemio write $DEV $BASE 0 "$SEED" fsync
must pmemio write $DEV $BASE 0 "$SEED" direct fdatasync
flush_watch_take
expect_eq "flushes of two empty fsyncs after a plain O_DIRECT write" "2 0" "$FLUSH_SEEN" ||
	fail "an fsync with nothing dirty must still flush"
out=$(blockdev --flushbufs $DEV 2>&1) || fail "blockdev --flushbufs: $out"
sync || fail "sync failed"
flush_watch_take
log "BLKFLSBUF and sync(1): flushes $FLUSH_SEEN"
flush_watch_stop

ns_rebind "$NS" || fail "rebind of $NS failed"
echo 3 >/proc/sys/vm/drop_caches
must pmemio verify $DEV $BASE 4096 "$SEED" direct
i=0
for m in "${MODES[@]}"; do
	must pmemio verify $DEV $((BASE + i * MiB + 512)) $LEN "$SEED" direct
	i=$((i + 1))
done
log "${#MODES[@]} writes verified after rebind"
