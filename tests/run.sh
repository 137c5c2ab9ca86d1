#!/bin/bash
# `make check`: build rust_pmem and run the KTAP suites in VMs, one VM for each driver
# (rust_pmem; nd_pmem as DRIVER=c, the reference, with DRIVERS=c or "rust c": every test
# must mean something there too) and each kind of pmem, one VM after the other (two side
# by side on a 2-core host were slower in all: each guest has 2 vCPUs):
#  - memmap: e820 namespaces from memmap=; nvdimm: QEMU NVDIMMs behind ACPI NFIT;
#    virtio: virtio-pmem devices, asynchronous regions (tests/guest/run.sh, results
#    memmap/NAME, nvdimm/NAME, virtio/NAME);
#  - nfit: the kernel's nfit_test emulation (tests/ndctl/guest.sh: our cases, nfit/NAME,
#    and with NDCTL_TESTS=all ndctl's own, ndctl/NAME);
#  - real: one big memmap= region and one big NVDIMM, for ndctl's tests that need real
#    pmem (tests/ndctl/guest.sh, ndctl/NAME; make check-ndctl).
# Prints one KTAP document with a subtest per VM and ends with `N passed, N failed,
# N skipped` over all. A VM fails when its guest reported fewer cases than it planned,
# or a skip that tests/expected-skips does not list for its driver and pmem (or a case
# listed there ran): each mismatch counts as a failure. Env: DRIVERS=rust (or c, or "rust c"), PMEMS="memmap nvdimm virtio nfit",
# NDCTL_TESTS=ours|all, TESTS="names", RESULTS=dir (build/results), SKIP_BUILD=1,
# EXPECTED_SKIPS=file (tests/expected-skips),
# FLAVOUR=debug (the KASAN/lockdep/kmemleak kernel: make check-debug), KERNEL=debian.
. "$(dirname "$0")/../scripts/lib.sh"
DRIVERS=${DRIVERS:-rust}
# KERNEL=debian (make check KERNEL=debian): Debian's stock kernel instead of the project's
# (scripts/debian-kernel.sh); rust_pmem's production build, and its test build for the
# cases that plant poison. nfit_test is a test-only module tree of the project's kernel.
if [ "${KERNEL:-}" = debian ]; then
	FLAVOUR=debian
	PMEMS=${PMEMS:-memmap nvdimm}
	[[ " $PMEMS " != *" nfit "* && " $PMEMS " != *" real "* ]] ||
		die "nfit and real need the project's kernel (nfit_test), not KERNEL=debian"
fi
PMEMS=${PMEMS:-memmap nvdimm virtio nfit}
# On nfit, make check runs our own cases (tests/ndctl/cases); make check-ndctl adds
# ndctl's suite (NDCTL_TESTS=all).
NDCTL_TESTS=${NDCTL_TESTS:-ours}
FLAVOUR=${FLAVOUR:-base}
export FLAVOUR
# The suite needs the test build (debugfs latent-poison injection).
# SKIP_BUILD=1 runs what is built (e.g. while another run builds nothing new).
if [ -z "${SKIP_BUILD:-}" ]; then
	RUST_PMEM_TEST=1 RUST_PMEM_KUNIT=1 bash "$REPO/scripts/build-module.sh" >&2
	# The stock kernel's run tests the production build too.
	[ "$FLAVOUR" != debian ] || bash "$REPO/scripts/build-module.sh" >&2
fi
# nfit: nfit_test's modules, rust_pmem's nfit_test build and ndctl's suite.
if [[ " $PMEMS " = *" nfit "* || " $PMEMS " = *" real "* ]] && [ -z "${SKIP_BUILD:-}" ]; then
	bash "$REPO/tests/ndctl/build.sh" >&2 || die "the nfit_test/ndctl build failed"
fi
RESULTS=${RESULTS:-$REPO/build/results${KERNEL:+/$KERNEL}}
mkdir -p "$RESULTS"

EXPECTED_SKIPS=${EXPECTED_SKIPS:-$REPO/tests/expected-skips}
# check_skips DRIVER KIND LOG: every skip in LOG must be listed for DRIVER and KIND in
# tests/expected-skips with the same reason, and every case listed there that ran must
# have skipped. Prints a line per mismatch and returns their number (0: all as expected).
check_skips() {
	awk -v d="$1" -v k="$2" '
		FNR == NR {
			if ($0 ~ /^[ \t]*(#|$)/) next
			if ($1 != d && $1 != "*") next
			if ($2 != k) next
			r = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", r)
			key = $3
			# A line for this driver wins over one for both.
			if ($1 == d || !(key in want)) want[key] = r
			next
		}
		match($0, /^[ \t]*(not )?ok [0-9]+ [^ ]+/) {
			line = $0; sub(/^[ \t]*(not )?ok [0-9]+ /, "", line)
			name = line; sub(/ .*/, "", name)
			if (name ~ /^ndctl\//) next
			case_ = name; sub(/^[^\/]+\//, "", case_)
			skipped = (line ~ / # SKIP/)
			reason = line; sub(/^[^#]*# SKIP ?/, "", reason)
			if (skipped && !(case_ in want)) {
				print "unexpected skip of " name " (" d "): " reason; bad++
			} else if (skipped && want[case_] != reason) {
				print "skip of " name " (" d ") for another reason: \"" reason "\", tests/expected-skips says \"" want[case_] "\""; bad++
			} else if (!skipped && (case_ in want)) {
				print "stale line in tests/expected-skips: " name " (" d ") ran: " line; bad++
			}
		}
		END { exit bad > 100 ? 100 : bad }' "$EXPECTED_SKIPS" "$3"
}

read -ra drivers <<<"$DRIVERS"
read -ra pmems <<<"$PMEMS"
runs=()
for d in "${drivers[@]}"; do for k in "${pmems[@]}"; do runs+=("$d $k"); done; done
echo "KTAP version 1"
echo "1..${#runs[@]}"
pass=0 fail=0 skip=0 n=0 bad=0
t_all=$(date +%s)
for run in "${runs[@]}"; do
	read -r d kind <<<"$run"
	n=$((n + 1))
	name=rust_pmem; [ "$d" = c ] && name=nd_pmem
	name+="/$kind"
	out="$RESULTS/$d-$kind.log"
	log "suite on $name (VM boot, TCG)"
	s=$(date +%s)
	# shellcheck disable=SC2086
	# Progress on stderr as results arrive; the KTAP document is printed once per suite.
	runner=tests/guest/run.sh args=${TESTS:-}
	case $kind in nfit | real) runner=tests/ndctl/guest.sh ;; esac
	[ "$kind" = nfit ] && [ -z "$args" ] && [ "$NDCTL_TESTS" = ours ] && args=--ours
	bash "$REPO/scripts/vm.sh" --driver "$d" --pmem "$kind" --flavour "$FLAVOUR" -- bash $runner $args 2>&1 |
		tee "$out" | grep --line-buffered -E '^(ok|not ok) ' |
		while IFS= read -r l; do log "$name: $l"; done || true
	log "suite on $name took $(($(date +%s) - s)) s (log: $out)"
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
	# The guest's plan ("1..N") against the cases it reported: a runner that stopped
	# early or lost a case fails the VM.
	plan=$(awk '/^KTAP version 1$/ { k = 1 } k && /^1\.\.[0-9]+$/ { print substr($0, 4); exit }' "$out")
	# (The nfit guest's log loses its first lines, plan included, in the console: there
	# the count cannot be checked.)
	if [ -z "$plan" ]; then
		echo "    # $name: $((p + f + k)) cases reported; the guest's plan is not in its log"
	else
		echo "    # $name: $plan cases planned, $((p + f + k)) reported"
		if [ $((p + f + k)) -ne "$plan" ]; then
			echo "    # $name: the guest reported $((p + f + k)) cases of $plan"
			f=$((f + 1))
		fi
	fi
	# Skips against tests/expected-skips: an unexpected one fails the VM.
	nbad=0
	# (The stock kernel's skips are listed under debian:KIND.)
	mkind=$kind; [ "$FLAVOUR" = debian ] && mkind=debian:$kind
	skip_report=$(check_skips "$d" "$mkind" <(sed -n '/^KTAP version 1$/,$p' "$out")) || nbad=$?
	if [ "$nbad" -gt 0 ]; then
		printf '%s\n' "$skip_report" | sed "s|^|    # $name: |"
		f=$((f + nbad))
	elif [ "$k" -gt 0 ]; then
		echo "    # $name: $k skips, each listed in tests/expected-skips"
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + k))
	if [ "$f" -eq 0 ]; then echo "ok $n $name"; else echo "not ok $n $name"; bad=1; fi
done
log "all suites took $(($(date +%s) - t_all)) s"
echo "$pass passed, $fail failed, $skip skipped"
exit $bad
