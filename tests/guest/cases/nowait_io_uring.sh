#!/bin/bash
# RWF_NOWAIT O_DIRECT preadv2/pwritev2 on /dev/pmem0 complete on rust_pmem, whose disk
# has BLK_FEAT_NOWAIT, and fail EOPNOTSUPP on nd_pmem, which does not set it (7.3).
# The page cache is dropped first and each request stays within one bio (at most
# 1 MiB): the block layer itself answers EAGAIN otherwise, on any device.
# Then an io_uring O_DIRECT random-read job: on rust_pmem requests are issued inline,
# so the job's context switches per I/O (fio's ctx, a getrusage of the process, which
# counts io-wq workers: they are threads of the submitting process) stay near zero;
# on nd_pmem every request is handed to an io-wq worker and they do not.
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

fio --name=nowait --filename=$DEV --direct=1 --rw=randread --bs=4k --ioengine=io_uring \
	--iodepth=16 --offset=$((256 * MiB)) --size=$((64 * MiB)) --time_based --runtime=4 \
	--output-format=json --output=/tmp/nowait_fio.json >/dev/null 2>&1 ||
	fail "fio io_uring job failed: $(tail -n 3 /tmp/nowait_fio.json 2>/dev/null)"
read -r ios ctx < <(python3 -c '
import json
d = json.load(open("/tmp/nowait_fio.json"))
print(sum(j["read"]["total_ios"] for j in d["jobs"]), sum(j.get("ctx", 0) for j in d["jobs"]))')
[ "$ios" -gt 1000 ] || fail "io_uring job did only $ios I/Os"
per=$(python3 -c "print(f'{$ctx / $ios:.4f}')")
log "io_uring qd16: $ios I/Os, $ctx context switches, $per per I/O"
if [ "$DRIVER" = c ]; then
	python3 -c "import sys; sys.exit(not $per > 0.02)" ||
		fail "nd_pmem: expected io-wq handoffs (> 0.02 context switches per I/O), got $per"
else
	python3 -c "import sys; sys.exit(not $per < 0.01)" ||
		fail "rust_pmem: expected inline issue (< 0.01 context switches per I/O), got $per"
fi
exit 0
