#!/bin/bash
# In the guest: alternate nd_pmem and rust_pmem over the same fio jobs, ROUNDS rounds
# each (order alternating), then measure the copy ceiling. Writes JSON lines to $OUT.
# Env: ROUNDS (5), RUNTIME (20 s per job), OUT, RUST_PMEM_KO, BENCH_DIR (built helpers).
set -euo pipefail
ROUNDS=${ROUNDS:-5} RUNTIME=${RUNTIME:-20}
OUT=${OUT:-/src/build/bench/raw.jsonl}
BENCH_DIR=${BENCH_DIR:-/src/build/bench}
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
log() { echo "# [$(cut -d' ' -f1 /proc/uptime)s] $*"; }

modprobe nd_e820
for i in $(seq 100); do [ "$(ls -d /sys/bus/nd/devices/namespace*.0 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done

unload_all() {
	rmmod rust_pmem 2>/dev/null || true
	rmmod nd_pmem 2>/dev/null || true
}
load() {
	unload_all
	if [ "$1" = c ]; then
		modprobe nd_pmem
	else
		modprobe -a $(modinfo -F depends "$RUST_PMEM_KO" | tr ',' ' ')
		insmod "$RUST_PMEM_KO"
	fi
	for i in $(seq 200); do [ -b /dev/pmem0 ] && [ -b /dev/pmem1 ] && return; sleep 0.1; done
	echo "no pmem devices with $1" >&2
	exit 1
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

record() { # driver round job fio-json-file
	python3 - "$@" >>"$OUT" <<'PY'
import json, sys
drv, rnd, job, path = sys.argv[1:5]
d = json.load(open(path))
iops = sum(j["read"]["iops"] + j["write"]["iops"] for j in d["jobs"])
bw = sum(j["read"]["bw_bytes"] + j["write"]["bw_bytes"] for j in d["jobs"]) / 1e6
# fio's ctx is the job process's context switches (getrusage), io-wq workers included:
# they are threads of the submitting process.
ctx = sum(j.get("ctx", 0) for j in d["jobs"])
ios = sum(j["read"]["total_ios"] + j["write"]["total_ios"] for j in d["jobs"])
print(json.dumps({"driver": drv, "round": int(rnd), "job": job, "iops": iops, "mbps": bw,
                  "ctx": ctx, "ctx_per_io": ctx / ios if ios else None}))
PY
}

run_fio() { # driver round job args...
	local drv=$1 rnd=$2 job=$3
	shift 3
	fio --name="$job" --time_based --runtime="$RUNTIME" --ramp_time=2 --group_reporting \
		--output-format=json --output=/tmp/fio.json "$@" >/dev/null
	record "$drv" "$rnd" "$job" /tmp/fio.json
	log "$drv round $rnd $job: $(tail -n1 "$OUT")"
}

for rnd in $(seq "$ROUNDS"); do
	if [ $((rnd % 2)) = 1 ]; then order=(c rust); else order=(rust c); fi
	for drv in "${order[@]}"; do
		load "$drv"
		for job in "${ORDER[@]}"; do
			# shellcheck disable=SC2086
			run_fio "$drv" "$rnd" "$job" --filename=/dev/pmem0 --direct=1 --size=256M \
				--offset_increment=256M ${JOBS[$job]}
		done
		mkfs.ext4 -q -F -b 4096 /dev/pmem1
		mkdir -p /tmp/bench_dax
		mount -o dax /dev/pmem1 /tmp/bench_dax
		for rw in randread randwrite; do
			run_fio "$drv" "$rnd" "dax_mmap_${rw}_4k" --directory=/tmp/bench_dax --size=128M \
				--ioengine=mmap --rw="$rw" --bs=4k --numjobs=1
		done
		umount /tmp/bench_dax
	done
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
load rust
mount -o dax /dev/pmem1 /tmp/bench_dax
res=$("$BENCH_DIR/dax_memcpy" /tmp/bench_dax/memcpy $((128 << 20)) $((128 << 10)))
log "user memcpy over DAX: $res"
echo "{\"ceiling\": \"user_dax_memcpy\", \"read_mbps\": $(echo "$res" | awk '{print $2}'), \"write_mbps\": $(echo "$res" | awk '{print $4}')}" >>"$OUT"
umount /tmp/bench_dax
unload_all
echo "bench: done"
