#!/bin/bash
# Synchronous writes and flushes complete without error: fsync, fdatasync,
# O_SYNC, O_DSYNC (buffered and O_DIRECT, the latter sends FUA), pwritev2 with
# RWF_DSYNC/RWF_SYNC, an fsync with nothing dirty (an empty flush), BLKFLSBUF
# and sync(1). The data reads back after an unbind/bind of the namespace.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools

DEV=/dev/pmem0
NS=$(dev_ns pmem0)
SEED=$(random_seed)
BASE=$((200 * MiB))
MODES=(
	"fsync" "fdatasync" "sync" "dsync" "rwf_dsync" "rwf_sync"
	"direct fsync" "direct fdatasync" "direct sync" "direct dsync"
	"direct rwf_dsync" "direct rwf_sync" "direct sync rwf_dsync"
)
LEN=$((16 * 1024 + 512))

i=0
for m in "${MODES[@]}"; do
	off=$((BASE + i * MiB + 512))
	# shellcheck disable=SC2086
	out=$(pmemio write $DEV $off $LEN "$SEED" $m 2>&1) ||
		fail "write with '$m' at $off: $out"
	log "write with '$m': $out"
	i=$((i + 1))
done

# An fsync with nothing to write still sends a flush to the driver.
must pmemio write $DEV $BASE 4096 "$SEED" direct
must pmemio write $DEV $BASE 0 "$SEED" fsync
must pmemio write $DEV $BASE 0 "$SEED" direct fdatasync
out=$(blockdev --flushbufs $DEV 2>&1) || fail "blockdev --flushbufs: $out"
sync || fail "sync failed"

ns_rebind "$NS" || fail "rebind of $NS failed"
echo 3 >/proc/sys/vm/drop_caches
must pmemio verify $DEV $BASE 4096 "$SEED" direct
i=0
for m in "${MODES[@]}"; do
	must pmemio verify $DEV $((BASE + i * MiB + 512)) $LEN "$SEED" direct
	i=$((i + 1))
done
log "${#MODES[@]} synchronous writes verified after rebind"
