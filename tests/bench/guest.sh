#!/bin/bash
# In the guest: nd_pmem and rust_pmem, each bound to one of two memmap namespaces, run
# the same fio jobs back to back, ROUNDS rounds (order alternating), then the copy
# ceiling is measured. Writes JSON lines to $OUT.
# Env: ROUNDS (5), RUNTIME (20 s per job), OUT, RUST_PMEM_KO, BENCH_DIR (built helpers),
# JOBS_ONLY (job,job,... a subset), PROFILE (one job under perf instead of the rounds).
set -euo pipefail
ROUNDS=${ROUNDS:-5} RUNTIME=${RUNTIME:-20}
OUT=${OUT:-/src/build/bench/raw.jsonl}
BENCH_DIR=${BENCH_DIR:-/src/build/bench}
mkdir -p "$(dirname "$OUT")"
[ -n "${PROFILE:-}" ] || : >"$OUT"
log() { echo "# [$(cut -d' ' -f1 /proc/uptime)s] $*"; }

modprobe nd_e820
for i in $(seq 100); do [ "$(ls -d /sys/bus/nd/devices/namespace*.0 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done

unload_all() {
	rmmod rust_pmem 2>/dev/null || true
	rmmod nd_pmem 2>/dev/null || true
}
# Both drivers stay loaded, each bound to one of the two namespaces: bind_pair C_NS RUST_NS
# gives nd_pmem the first and rust_pmem the second (e.g. namespace0.0 namespace1.0), and
# sets CDEV and RDEV to their block devices. Rounds swap the pair, so neither driver keeps
# one region.
load_both() {
	unload_all
	modprobe nd_pmem
	modprobe -a $(modinfo -F depends "$RUST_PMEM_KO" | tr ',' ' ')
	insmod "$RUST_PMEM_KO"
}
bind_pair() {
	local d n
	for d in nd_pmem rust_pmem; do
		for n in namespace0.0 namespace1.0; do
			[ -e "/sys/bus/nd/drivers/$d/$n" ] && echo "$n" >"/sys/bus/nd/drivers/$d/unbind"
		done
	done
	echo "$1" >/sys/bus/nd/drivers/nd_pmem/bind
	echo "$2" >/sys/bus/nd/drivers/rust_pmem/bind
	CDEV=/dev/$(ls "/sys/bus/nd/devices/$1/block")
	RDEV=/dev/$(ls "/sys/bus/nd/devices/$2/block")
	for i in $(seq 200); do [ -b "$CDEV" ] && [ -b "$RDEV" ] && return; sleep 0.1; done
	echo "no block devices for $1 (nd_pmem) and $2 (rust_pmem)" >&2
	exit 1
}
dev_of() { if [ "$1" = c ]; then echo "$CDEV"; else echo "$RDEV"; fi; }
# pair_order: sets `order` to the two drivers for the next job of round $rnd, the first
# of the two alternating from job to job (counter i) and from round to round.
pair_order() {
	if [ $(((rnd + i) % 2)) = 1 ]; then order=(c rust); else order=(rust c); fi
	i=$((i + 1))
}

# name: fio arguments (block jobs on /dev/pmem0, direct I/O)
declare -A JOBS=(
	[randread_4k_psync_1j]="--rw=randread --bs=4k --ioengine=psync --numjobs=1"
	[randread_4k_psync_2j]="--rw=randread --bs=4k --ioengine=psync --numjobs=2"
	[randwrite_4k_psync_1j]="--rw=randwrite --bs=4k --ioengine=psync --numjobs=1"
	[randwrite_4k_psync_2j]="--rw=randwrite --bs=4k --ioengine=psync --numjobs=2"
	[randread_4k_iouring_qd16]="--rw=randread --bs=4k --ioengine=io_uring --iodepth=16 --numjobs=1"
	[randread_4k_iouring_qd16_2j]="--rw=randread --bs=4k --ioengine=io_uring --iodepth=16 --numjobs=2"
	[randread_4k_iouring_qd64]="--rw=randread --bs=4k --ioengine=io_uring --iodepth=64 --numjobs=1"
	[randread_4k_iouring_qd64_2j]="--rw=randread --bs=4k --ioengine=io_uring --iodepth=64 --numjobs=2"
	[randwrite_4k_iouring_qd16]="--rw=randwrite --bs=4k --ioengine=io_uring --iodepth=16 --numjobs=1"
	[randwrite_4k_iouring_qd16_2j]="--rw=randwrite --bs=4k --ioengine=io_uring --iodepth=16 --numjobs=2"
	[randwrite_4k_iouring_qd64]="--rw=randwrite --bs=4k --ioengine=io_uring --iodepth=64 --numjobs=1"
	[randwrite_4k_iouring_qd64_2j]="--rw=randwrite --bs=4k --ioengine=io_uring --iodepth=64 --numjobs=2"
	[seqread_128k_2j]="--rw=read --bs=128k --ioengine=psync --numjobs=2"
	[seqwrite_128k_2j]="--rw=write --bs=128k --ioengine=psync --numjobs=2"
)
ORDER=(randread_4k_psync_1j randread_4k_psync_2j randwrite_4k_psync_1j randwrite_4k_psync_2j
	randread_4k_iouring_qd16 randread_4k_iouring_qd16_2j randread_4k_iouring_qd64
	randread_4k_iouring_qd64_2j randwrite_4k_iouring_qd16 randwrite_4k_iouring_qd16_2j
	randwrite_4k_iouring_qd64 randwrite_4k_iouring_qd64_2j seqread_128k_2j seqwrite_128k_2j)
# JOBS=name,name... runs a subset (e.g. for a quick look).
[ -n "${JOBS_ONLY:-}" ] && IFS=, read -ra ORDER <<<"$JOBS_ONLY"

record() { # driver round job fio-json-file rusage-json-file
	python3 - "$@" >>"$OUT" <<'PY'
import json, sys
drv, rnd, job, path, rpath = sys.argv[1:6]
d = json.load(open(path))
ru = json.load(open(rpath))
iops = sum(j["read"]["iops"] + j["write"]["iops"] for j in d["jobs"])
bw = sum(j["read"]["bw_bytes"] + j["write"]["bw_bytes"] for j in d["jobs"]) / 1e6
# fio's ctx is the job thread's own context switches (fio asks for RUSAGE_THREAD): the
# submitter's, not its io-wq workers'.
ctx = sum(j.get("ctx", 0) for j in d["jobs"])
ios = sum(j["read"]["total_ios"] + j["write"]["total_ios"] for j in d["jobs"])
# The whole fio run's processes with all their threads, io-wq workers included (see
# run_fio): CPU time as % of one CPU over the run's wall time, and context switches
# per I/O (the ramp's switches counted, its I/Os not: an overestimate alike for both).
pcpu = (ru["utime"] + ru["stime"]) / ru["wall"] * 100
pctx = ru["nvcsw"] + ru["nivcsw"]
print(json.dumps({"driver": drv, "round": int(rnd), "job": job, "iops": iops, "mbps": bw,
                  "ctx": ctx, "ctx_per_io": ctx / ios if ios else None,
                  "proc_cpu": pcpu, "proc_ctx_per_io": pctx / ios if ios else None}))
PY
}

# fio under a small wrapper that takes the resource usage of all its children (fio's job
# processes and their threads, io-wq workers included: they are threads of the process
# that submits) from getrusage(RUSAGE_CHILDREN) around the run, into /tmp/fio.rusage.
run_fio() { # driver round job args...
	local drv=$1 rnd=$2 job=$3
	shift 3
	python3 -c '
import json, resource, subprocess, sys, time
r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
rc = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL).returncode
r1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
json.dump({"wall": t1 - t0, "utime": r1.ru_utime - r0.ru_utime, "stime": r1.ru_stime - r0.ru_stime,
           "nvcsw": r1.ru_nvcsw - r0.ru_nvcsw, "nivcsw": r1.ru_nivcsw - r0.ru_nivcsw},
          open(sys.argv[1], "w"))
sys.exit(rc)' /tmp/fio.rusage \
		fio --name="$job" --time_based --runtime="$RUNTIME" --ramp_time=2 --group_reporting \
		--output-format=json --output=/tmp/fio.json "$@"
	record "$drv" "$rnd" "$job" /tmp/fio.json /tmp/fio.rusage
	log "$drv round $rnd $job: $(tail -n1 "$OUT")"
}

# PROFILE=JOB: instead of the rounds, run JOB once per driver under perf (cpu-clock
# sampling, all CPUs) and print where the time goes.
if [ -n "${PROFILE:-}" ]; then
	load_both
	bind_pair namespace0.0 namespace1.0
	report() { perf report -i "/tmp/perf.$drv" --kallsyms=/proc/kallsyms --stdio "$@" 2>/dev/null; }
	for drv in c rust; do
		# shellcheck disable=SC2086
		perf record -q -a -g -e cpu-clock -F 4000 -o "/tmp/perf.$drv" -- \
			fio --name="$PROFILE" --time_based --runtime="$RUNTIME" --group_reporting \
			--filename="$(dev_of $drv)" --direct=1 --size=256M --offset_increment=256M \
			${JOBS[$PROFILE]} --output-format=terse >/dev/null
		echo "## $drv ($(dev_of $drv)): $PROFILE, flat profile (self time)"
		report --no-children --sort dso,sym -g none \
			--percent-limit 0.7 | grep -v '^#' | grep -v '^$' | head -40
		echo "## $drv: the driver's functions and the data path (self time, then with callees)"
		report --no-children --sort dso,sym -g none \
			--percent-limit 0.02 | grep -E 'pmem|copy_mc|memcpy|flushcache' | head -20
		report --children --sort sym -g none \
			--percent-limit 0.02 | grep -E 'pmem|submit_bio|blkdev_direct|copy_mc' | head -20
	done
	unload_all
	echo "bench: done"
	exit 0
fi

# Rounds: both drivers loaded, each job run back to back on nd_pmem's and rust_pmem's
# device, the first of the two alternating per job and per round; the namespaces swap
# drivers every round. A round's pair of runs sees the same machine state, so the
# per-round ratio is robust to the drift of a shared, emulated machine.
load_both
mkdir -p /tmp/bench_dax_c /tmp/bench_dax_rust
for rnd in $(seq "$ROUNDS"); do
	if [ $((rnd % 2)) = 1 ]; then
		bind_pair namespace0.0 namespace1.0
	else
		bind_pair namespace1.0 namespace0.0
	fi
	log "round $rnd: nd_pmem on $CDEV, rust_pmem on $RDEV"
	i=0
	for job in "${ORDER[@]}"; do
		pair_order
		for drv in "${order[@]}"; do
			# shellcheck disable=SC2086
			run_fio "$drv" "$rnd" "$job" --filename="$(dev_of "$drv")" --direct=1 --size=256M \
				--offset_increment=256M ${JOBS[$job]}
		done
	done
	for drv in c rust; do
		mkfs.ext4 -q -F -b 4096 "$(dev_of $drv)"
		mount -o dax "$(dev_of $drv)" "/tmp/bench_dax_$drv"
	done
	for rw in randread randwrite; do
		pair_order
		for drv in "${order[@]}"; do
			run_fio "$drv" "$rnd" "dax_mmap_${rw}_4k" --directory="/tmp/bench_dax_$drv" \
				--size=128M --ioengine=mmap --rw="$rw" --bs=4k --numjobs=1
		done
	done
	umount /tmp/bench_dax_c /tmp/bench_dax_rust
done

# The ceiling: the data path's copy routines over the same media, and user memcpy over
# a DAX mapping. Nothing may have pmem0 bound while copy_ceiling writes to it.
unload_all
phys=$(awk '/ : Persistent Memory/ {print $1; exit}' /proc/iomem | cut -d- -f1)
insmod "$BENCH_DIR/copy_ceiling.ko" phys=0x"$phys" size=$((256 << 20)) chunk=$((128 << 10)) 2>/dev/null || true
line=$(dmesg | grep 'copy_ceiling:' | tail -n1)
log "$line"
python3 - "$line" >>"$OUT" <<'PY'
import json, re, sys
m = dict(re.findall(r"(\w+)=(\d+)", sys.argv[1]))
b = int(m["bytes"])
print(json.dumps({"ceiling": "kernel", "read_mbps": b / int(m["read_ns"]) * 1e3,
                  "write_mbps": b / int(m["write_ns"]) * 1e3}))
PY
load_both
bind_pair namespace0.0 namespace1.0
mount -o dax "$RDEV" /tmp/bench_dax_rust
res=$("$BENCH_DIR/dax_memcpy" /tmp/bench_dax_rust/memcpy $((128 << 20)) $((128 << 10)))
log "user memcpy over DAX: $res"
echo "{\"ceiling\": \"user_dax_memcpy\", \"read_mbps\": $(echo "$res" | awk '{print $2}'), \"write_mbps\": $(echo "$res" | awk '{print $4}')}" >>"$OUT"
umount /tmp/bench_dax_rust
unload_all
echo "bench: done"
