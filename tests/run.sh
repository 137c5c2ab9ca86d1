#!/bin/bash
# `make check`: build rust_pmem and run the KTAP suites in VMs, one VM for each driver
# (rust_pmem; nd_pmem as DRIVER=c, the reference, with DRIVERS=c or "rust c": every test
# must mean something there too) and each kind of pmem:
#  - memmap: e820 namespaces from memmap=; nvdimm: QEMU NVDIMMs behind ACPI NFIT
#    (tests/guest/run.sh, results memmap/NAME, nvdimm/NAME);
#  - nfit: the kernel's nfit_test emulation (tests/ndctl/guest.sh: our cases, nfit/NAME,
#    and with NDCTL_TESTS=all ndctl's own, ndctl/NAME);
#  - real: one big memmap= region and one big NVDIMM, for ndctl's tests that need real
#    pmem (tests/ndctl/guest.sh, ndctl/NAME; make check-ndctl).
# Runs PARALLEL VMs at a time (default 1; a `real` VM always runs alone), the longest
# first; progress goes to stderr as results arrive. Prints one KTAP document with a
# subtest per VM, in the order of DRIVERS and PMEMS, and ends with
# `N passed, N failed, N skipped` over all. Env: DRIVERS=rust (or c, or "rust c"),
# PMEMS="memmap nvdimm nfit", NDCTL_TESTS=ours|all, TESTS="names", RESULTS=dir
# (build/results), SKIP_BUILD=1, PARALLEL=N, FLAVOUR=debug (the KASAN/lockdep/kmemleak
# kernel: make check-debug).
. "$(dirname "$0")/../scripts/lib.sh"
DRIVERS=${DRIVERS:-rust}
PMEMS=${PMEMS:-memmap nvdimm nfit}
# On nfit, make check runs our own cases (tests/ndctl/cases); make check-ndctl adds
# ndctl's suite (NDCTL_TESTS=all).
NDCTL_TESTS=${NDCTL_TESTS:-ours}
FLAVOUR=${FLAVOUR:-base}
# One VM at a time by default: each guest has 2 vCPUs, and on a 2-core host two guests
# side by side were slower in all than one after the other (2026-12-01: a test that
# takes a few minutes alone ran about 5 times slower; vCPUs of one guest spin on a lock
# whose holder's vCPU the host has descheduled, presumably); two debug guests side by
# side made udev coldplug outlast `udevadm settle` (120 s), and virtme-ng's init powered
# the guest off.
PARALLEL=${PARALLEL:-1}
[[ "$PARALLEL" =~ ^[1-9][0-9]*$ ]] || die "PARALLEL=$PARALLEL: a number of VMs, 1 or more"
# Each of PARALLEL VMs gets a share of the host: vm.sh scales its timeouts by this.
VM_SLOWDOWN=$PARALLEL
export FLAVOUR VM_SLOWDOWN
# The suite needs the test build (debugfs latent-poison injection).
# SKIP_BUILD=1 runs what is built (e.g. while another run builds nothing new).
[ -n "${SKIP_BUILD:-}" ] || RUST_PMEM_TEST=1 bash "$REPO/scripts/build-module.sh" >&2
# nfit: nfit_test's modules, rust_pmem's nfit_test build and ndctl's suite.
if [[ " $PMEMS " = *" nfit "* || " $PMEMS " = *" real "* ]] && [ -z "${SKIP_BUILD:-}" ]; then
	bash "$REPO/tests/ndctl/build.sh" >&2 || die "the nfit_test/ndctl build failed"
fi
RESULTS=${RESULTS:-$REPO/build/results}
mkdir -p "$RESULTS"

read -ra drivers <<<"$DRIVERS"
read -ra pmems <<<"$PMEMS"
runs=()
for d in "${drivers[@]}"; do for k in "${pmems[@]}"; do runs+=("$d $k"); done; done

# run_name I, run_log I: the I-th run's KTAP name and log file.
run_name() {
	local d kind
	read -r d kind <<<"${runs[$1]}"
	if [ "$d" = c ]; then echo "nd_pmem/$kind"; else echo "rust_pmem/$kind"; fi
}
run_log() {
	local d kind
	read -r d kind <<<"${runs[$1]}"
	echo "$RESULTS/$d-$kind.log"
}

# run_vm I: the I-th run's VM; its whole output goes to its log, its results to stderr.
run_vm() {
	local d kind name out s runner args
	read -r d kind <<<"${runs[$1]}"
	name=$(run_name "$1") out=$(run_log "$1")
	log "suite on $name (VM boot, TCG)"
	s=$(date +%s)
	runner=tests/guest/run.sh args=${TESTS:-}
	case $kind in nfit | real) runner=tests/ndctl/guest.sh ;; esac
	[ "$kind" = nfit ] && [ -z "$args" ] && [ "$NDCTL_TESTS" = ours ] && args=--ours
	# shellcheck disable=SC2086
	bash "$REPO/scripts/vm.sh" --driver "$d" --pmem "$kind" --flavour "$FLAVOUR" -- bash $runner $args 2>&1 |
		tee "$out" | grep --line-buffered -E '^(ok|not ok) ' |
		while IFS= read -r l; do log "$name: $l"; done || true
	log "suite on $name took $(($(date +%s) - s)) s (log: $out)"
}

# The longest kinds first, so that the last VM to start is a short one.
order=()
for k in real nvdimm memmap nfit; do
	for i in "${!runs[@]}"; do
		[ "${runs[$i]#* }" = "$k" ] && order+=("$i")
	done
done

echo "KTAP version 1"
echo "1..${#runs[@]}"
t_all=$(date +%s)
declare -A pid
for i in "${order[@]}"; do
	: >"$(run_log "$i")"
	# A `real` VM (8 GiB of RAM and a 4 GiB NVDIMM file) runs alone.
	if [ "${runs[$i]#* }" = real ]; then
		wait || true
		run_vm "$i" &
		pid[$i]=$!
		wait "${pid[$i]}" || true
		continue
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
	run_vm "$i" &
	pid[$i]=$!
done

pass=0 fail=0 skip=0 bad=0
for i in "${!runs[@]}"; do
	n=$((i + 1)) name=$(run_name "$i") out=$(run_log "$i")
	wait "${pid[$i]}" || true
	echo "    # Subtest: $name"
	sed -n '/^KTAP version 1$/,$p' "$out" | { grep -E '^(KTAP|1\.\.|ok |not ok |#|    )' || true; } | sed 's/^/    /'
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -n1 || true)
	if [ -z "$summary" ]; then
		echo "    # no summary from the guest: the VM or the runner died; tail of the log:"
		tail -n 30 "$out" | sed 's/^/    # /'
		echo "not ok $n $name"
		fail=$((fail + 1)) bad=1
		continue
	fi
	read -r p _ f _ k _ <<<"${summary//,/}"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + k))
	if [ "$f" -eq 0 ]; then echo "ok $n $name"; else echo "not ok $n $name"; bad=1; fi
done
log "all suites took $(($(date +%s) - t_all)) s ($PARALLEL VMs at a time)"
echo "$pass passed, $fail failed, $skip skipped"
exit $bad
