#!/bin/bash
# `make bench`: one VM with two memmap= regions; nd_pmem and rust_pmem alternate over the
# same fio jobs (ROUNDS rounds each, order alternating, RUNTIME s per job), then the copy
# ceiling. Results: build/bench/{raw.jsonl,summary.json,report.txt}.
# Clock (ICOUNT, default 1): the guest runs under QEMU's -icount (one TCG thread for both
# vCPUs; guest time advances 2^ICOUNT_SHIFT ns per guest instruction, whatever the host
# is doing), so each figure counts the instructions an I/O costs and host noise drops out:
# the psync jobs' per-round ratios agree within 0.01 (2026-12-02), where with wall-clock
# TCG (ICOUNT=0) one job's ranged as wide as 0.5-2.0 on this 2-core host. A guest second
# then takes about 1.8 host seconds, hence RUNTIME's default of 10 s there (20 s with
# ICOUNT=0).
. "$(dirname "$0")/lib.sh"
ICOUNT=${ICOUNT:-1}
# An even number of rounds: each driver has each region, and runs first, equally often.
ROUNDS=${ROUNDS:-4}
[ $((ROUNDS % 2)) = 0 ] || log "bench: ROUNDS=$ROUNDS is odd: region split and run order are not balanced"
if [ "$ICOUNT" = 1 ]; then RUNTIME=${RUNTIME:-10} slow=2; else RUNTIME=${RUNTIME:-20} slow=1; fi
bash "$REPO/scripts/build-module.sh"
KD=$(kdir_in_root base)
in_root /bin/sh -c "make -s -C $KD M=/src/tests/bench modules && mkdir -p /src/build/bench && \
	cp /src/tests/bench/copy_ceiling.ko /src/build/bench/ && \
	gcc -O2 -Wall -o /src/build/bench/dax_memcpy /src/tests/bench/dax_memcpy.c"
if [ -n "${PROFILE:-}" ]; then
	# Where the time goes in one job: perf (cpu-clock) in the guest, once per driver.
	root_install perf linux-perf
	bash "$REPO/scripts/vm.sh" --driver c --timeout $((2 * RUNTIME + 900)) -- \
		env RUNTIME="$RUNTIME" PROFILE="$PROFILE" bash tests/bench/guest.sh |
		tee "$REPO/build/bench/profile-$PROFILE.txt"
	grep -q '^bench: done' "$REPO/build/bench/profile-$PROFILE.txt" || die "the profile did not finish"
	exit 0
fi
NJOBS=16
vmopts=() clock="wall-clock time"
if [ "$ICOUNT" = 1 ]; then
	vmopts=(--qemu-opts "-accel tcg,thread=single -icount shift=${ICOUNT_SHIFT:-2},sleep=off")
	clock="-icount shift=${ICOUNT_SHIFT:-2}: guest time counts guest instructions"
fi
log "bench: $ROUNDS rounds x 2 drivers x $NJOBS jobs x ${RUNTIME}s (about $((slow * ROUNDS * 2 * NJOBS * (RUNTIME + 5) / 60 + 3)) min)"
bash "$REPO/scripts/vm.sh" --driver c "${vmopts[@]}" --timeout $((slow * ROUNDS * 2 * NJOBS * (RUNTIME + 10) + 900)) -- \
	env ROUNDS="$ROUNDS" RUNTIME="$RUNTIME" JOBS_ONLY="${JOBS_ONLY:-}" bash tests/bench/guest.sh |
	tee "$REPO/build/bench/guest.log"
grep -q '^bench: done' "$REPO/build/bench/guest.log" || die "the benchmark did not finish (build/bench/guest.log)"
{
	echo "rust_pmem vs nd_pmem, $(date -u +%Y-%m-%d), $(nproc) host cores, QEMU TCG guest (2 vCPUs, 3 GiB), $clock"
	echo "median of $ROUNDS rounds, ${RUNTIME}s per job; ratios within one run mean something,"
	echo "absolute numbers are emulation numbers, not hardware numbers"
	python3 "$REPO/tests/bench/summarize.py" "$REPO/build/bench/raw.jsonl" "$REPO/build/bench/summary.json"
} | tee "$REPO/build/bench/report.txt"

# The picture: rust/c per job (gnuplot from Debian's packages, in the build root).
root_install gnuplot gnuplot-nox
in_root gnuplot -e "set terminal png size 1200,560; set rmargin 14; set bmargin 11; set output '/src/build/bench/ratios.png';
	set title 'rust\\_pmem / nd\\_pmem, median of per-round ratios (TCG guest)'; set style fill solid 0.6;
	set boxwidth 0.7; set yrange [0:*]; set ylabel 'rust/c'; set xtics rotate by -40 noenhanced;
	set grid ytics; set key off;
	plot '/src/build/bench/summary.dat' using 1:3:xtic(2) with boxes, 1 with lines lw 2" &&
	log "chart: build/bench/ratios.png"
