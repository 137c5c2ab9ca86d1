#!/bin/bash
# A REQ_NOWAIT write that asks for a flush (O_DIRECT pwritev2 with RWF_NOWAIT|RWF_DSYNC:
# a REQ_FUA bio) must never sleep. On virtio-pmem the region's flush is a request to the
# host that sleeps, so rust_pmem ends such a bio with EAGAIN before anything changes
# (data, flushes: lib.sh's flush_watch); plain RWF_NOWAIT writes stay inline, and the
# same write without RWF_NOWAIT writes and reaches the host's flush. On a synchronous
# region (memmap, nvdimm) the flush never sleeps and the NOWAIT FUA write completes
# inline, with one FUA flush. nd_pmem has no BLK_FEAT_NOWAIT: EOPNOTSUPP everywhere.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
on_exit flush_watch_stop

DEV=/dev/pmem0
SEED=$(random_seed)
NEW=$(random_seed)
OFF=$((320 * MiB))
LEN=$((64 * 1024))

must pmemio write $DEV $OFF $LEN "$SEED" direct fsync
flush_watch_start pmem0
if [ "$DRIVER" = c ]; then
	must_err EOPNOTSUPP pmemio write $DEV $OFF $LEN "$NEW" direct rwf_nowait rwf_dsync
	must pmemio verify $DEV $OFF $LEN "$SEED" direct
	flush_watch_take
	expect_eq "flushes of a refused NOWAIT write" "0 0" "$FLUSH_SEEN" || fail "a refused write flushed"
	log "nd_pmem: RWF_NOWAIT|RWF_DSYNC is EOPNOTSUPP (no BLK_FEAT_NOWAIT), nothing changed"
elif [ "$PMEM" = virtio ]; then
	must_err EAGAIN pmemio write $DEV $OFF $LEN "$NEW" direct rwf_nowait rwf_dsync
	flush_watch_take
	expect_eq "flushes of a NOWAIT FUA write on virtio-pmem" "0 0" "$FLUSH_SEEN" ||
		fail "the refused NOWAIT write reached the flush"
	must pmemio verify $DEV $OFF $LEN "$SEED" direct
	log "virtio-pmem: RWF_NOWAIT|RWF_DSYNC write: EAGAIN, data and flushes unchanged"
	must pmemio write $DEV $OFF $LEN "$NEW" direct rwf_nowait
	must pmemio verify $DEV $OFF $LEN "$NEW" direct
	flush_watch_take
	expect_eq "flushes of a plain NOWAIT write" "0 0" "$FLUSH_SEEN" || fail "a plain write flushed"
	log "virtio-pmem: a plain RWF_NOWAIT write completes inline"
	must pmemio write $DEV $OFF $LEN "$SEED" direct rwf_dsync
	must pmemio verify $DEV $OFF $LEN "$SEED" direct
	flush_watch_take
	expect_eq "flushes of a blocking RWF_DSYNC write" "1 1" "$FLUSH_SEEN" ||
		fail "the blocking RWF_DSYNC write must send one FUA and one preflush to the host"
	log "virtio-pmem: without RWF_NOWAIT the write completes, FUA and fsync reach the host"
else
	must pmemio write $DEV $OFF $LEN "$NEW" direct rwf_nowait rwf_dsync
	must pmemio verify $DEV $OFF $LEN "$NEW" direct
	flush_watch_take
	expect_eq "flushes of a NOWAIT RWF_DSYNC write" "1 1" "$FLUSH_SEEN" ||
		fail "the NOWAIT RWF_DSYNC write must send one FUA and one preflush"
	log "$PMEM: the region's flush never sleeps: RWF_NOWAIT|RWF_DSYNC completes inline, one FUA"
fi
