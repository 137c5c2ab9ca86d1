#!/bin/bash
# RWF_NOWAIT O_DIRECT preadv2/pwritev2 on /dev/pmem0 complete on rust_pmem, whose disk
# has BLK_FEAT_NOWAIT, and fail EOPNOTSUPP on nd_pmem, which does not set it (7.3).
# The page cache is dropped first and each request stays within one bio (at most
# 1 MiB): the block layer itself answers EAGAIN otherwise, on any device.
# Then an io_uring O_DIRECT random-read job, with the io_uring_queue_async_work
# tracepoint counted in a private tracefs instance: that event fires once for every
# request io_uring hands to an io-wq worker. On rust_pmem requests are issued inline
# (no handoffs); on nd_pmem the block device file has no FMODE_NOWAIT, so io_uring
# hands every request to a worker. fio's context switches per I/O are printed too,
# but only as information: a busy io-wq worker need not sleep between requests, so
# that figure depends on load and did not separate the drivers reliably.
# The count itself is checked in the same run: a short job with fio's force_async=1
# (IOSQE_ASYNC on every request) must show every request handed to a worker.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools

DEV=/dev/pmem0
SEED=$(random_seed)
OFF=$((300 * MiB))
sync
echo 3 >/proc/sys/vm/drop_caches

if [ "$DRIVER" = c ]; then
	must_err EOPNOTSUPP pmemio write $DEV $OFF 4096 "$SEED" direct rwf_nowait
	must_err EOPNOTSUPP pmemio read $DEV $OFF 4096 direct rwf_nowait
	log "nd_pmem: RWF_NOWAIT preadv2/pwritev2 fail EOPNOTSUPP (no BLK_FEAT_NOWAIT)"
else
	for len in 512 4096 65536 $MiB; do
		must pmemio write $DEV $OFF $len "$SEED" direct rwf_nowait
		must pmemio verify $DEV $OFF $len "$SEED" direct rwf_nowait
		OFF=$((OFF + 2 * MiB))
	done
	log "rust_pmem: RWF_NOWAIT O_DIRECT writes and reads of 512 B to 1 MiB complete and verify"
fi

TRACEFS=$(tracefs_dir) && [ -d "$TRACEFS/events/io_uring/io_uring_queue_async_work" ] ||
	fail "kernel without tracefs or io_uring trace events: the handoffs cannot be counted"
INST=$TRACEFS/instances/rust_pmem_nowait
rmdir $INST 2>/dev/null
mkdir $INST || fail "cannot create tracefs instance $INST"
on_exit 'echo 0 >$INST/events/io_uring/io_uring_queue_async_work/enable 2>/dev/null; rmdir $INST 2>/dev/null'
echo 64 >$INST/buffer_size_kb

# punts_of FIO-ARGS...: runs an io_uring fio job and sets IOS (its I/Os) and PUNTS (the
# requests io_uring handed to io-wq workers meanwhile) and CTX (context switches).
punts_of() {
	echo 0 >$INST/events/io_uring/io_uring_queue_async_work/enable
	echo >$INST/trace
	echo 1 >$INST/events/io_uring/io_uring_queue_async_work/enable ||
		fail "cannot enable io_uring_queue_async_work"
	fio --name=nowait --filename=$DEV --direct=1 --rw=randread --bs=4k --ioengine=io_uring \
		--offset=$((256 * MiB)) --size=$((64 * MiB)) --time_based \
		--output-format=json --output=/tmp/nowait_fio.json "$@" >/dev/null 2>&1 ||
		fail "fio io_uring job failed: $(tail -n 3 /tmp/nowait_fio.json 2>/dev/null)"
	echo 0 >$INST/events/io_uring/io_uring_queue_async_work/enable
	# Every event is either still in the ring buffer (entries) or was overwritten (overrun).
	PUNTS=$(awk '/^(entries|overrun):/ {n += $2} END {print n + 0}' $INST/per_cpu/cpu*/stats)
	read -r IOS CTX < <(python3 -c '
import json
d = json.load(open("/tmp/nowait_fio.json"))
print(sum(j["read"]["total_ios"] for j in d["jobs"]), sum(j.get("ctx", 0) for j in d["jobs"]))')
}

# The count works: with IOSQE_ASYNC on every request, every request is a handoff.
punts_of --iodepth=4 --runtime=1 --force_async=1
[ "$IOS" -gt 100 ] || fail "io_uring force_async job did only $IOS I/Os"
log "io_uring force_async=1: $IOS I/Os, $PUNTS handed to io-wq workers"
[ "$PUNTS" -ge $((IOS * 9 / 10)) ] ||
	fail "the handoff count does not work: $PUNTS of $IOS forced-async requests counted"

punts_of --iodepth=16 --runtime=4
ios=$IOS punts=$PUNTS ctx=$CTX
[ "$ios" -gt 1000 ] || fail "io_uring job did only $ios I/Os"
log "io_uring qd16: $ios I/Os, $punts handed to io-wq workers, $ctx context switches" \
	"($(python3 -c "print(f'{$ctx / $ios:.4f}')") per I/O)"
if [ "$DRIVER" = c ]; then
	# Every request of the job is punted; allow for fio's ramp-down.
	[ "$punts" -ge $((ios * 9 / 10)) ] ||
		fail "nd_pmem: expected every request handed to io-wq, got $punts of $ios"
else
	# Inline issue: no request needs a worker. A handful may (a request that meets a
	# full tag space or poison); one in a thousand is already a regression.
	[ "$punts" -le $((ios / 1000)) ] ||
		fail "rust_pmem: expected inline issue, but $punts of $ios requests went to io-wq"
fi
exit 0
