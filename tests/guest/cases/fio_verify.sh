#!/bin/bash
# fio randwrite + verify=crc32c with O_DIRECT on /dev/pmem0: bs 4k and 128k,
# ioengines libaio and io_uring, two jobs on disjoint ranges.
set -u
. "$(dirname "$0")/../lib.sh"

command -v fio >/dev/null || fail "fio not installed"
JOB_SIZE=$((16 * MiB))

for engine in libaio io_uring; do
	for bs in 4k 128k; do
		log "fio $engine bs=$bs:"
		fio_check $JOB_SIZE --name="$engine-$bs" --filename=/dev/pmem0 \
			--ioengine="$engine" --direct=1 --rw=randwrite --bs="$bs" \
			--iodepth=16 --numjobs=2 --size=$JOB_SIZE --offset=$((32 * MiB)) \
			--offset_increment=$JOB_SIZE --verify=crc32c --do_verify=1 \
			--verify_fatal=1 --randrepeat=0 ||
			fail "fio $engine bs=$bs failed"
	done
done
