#!/bin/bash
# `make check`: build rust_pmem and run the KTAP suite (tests/guest/run.sh) in a VM,
# once on rust_pmem and once on nd_pmem (DRIVER=c, the reference: every test must mean
# something there too). Prints one KTAP document with a subtest per driver and ends
# with `N passed, N failed, N skipped` over both. Env: DRIVERS="rust c", TESTS="names",
# FLAVOUR=debug (the KASAN/lockdep/kmemleak kernel: make check-debug).
. "$(dirname "$0")/../scripts/lib.sh"
DRIVERS=${DRIVERS:-rust c}
FLAVOUR=${FLAVOUR:-base}
export FLAVOUR
# The suite needs the test build (debugfs latent-poison injection).
RUST_PMEM_TEST=1 bash "$REPO/scripts/build-module.sh" >&2
mkdir -p "$REPO/build/results"

read -ra drivers <<<"$DRIVERS"
echo "KTAP version 1"
echo "1..${#drivers[@]}"
pass=0 fail=0 skip=0 n=0 bad=0
for d in "${drivers[@]}"; do
	n=$((n + 1))
	name=rust_pmem; [ "$d" = c ] && name=nd_pmem
	out="$REPO/build/results/$d.log"
	log "suite on $name (VM boot, TCG)"
	s=$(date +%s)
	# shellcheck disable=SC2086
	# Progress on stderr as results arrive; the KTAP document is printed once per suite.
	bash "$REPO/scripts/vm.sh" --driver "$d" --flavour "$FLAVOUR" -- bash tests/guest/run.sh ${TESTS:-} 2>&1 |
		tee "$out" | grep --line-buffered -E '^(ok|not ok) ' |
		while IFS= read -r l; do log "$name: $l"; done || true
	log "suite on $name took $(($(date +%s) - s)) s (log: build/results/$d.log)"
	echo "    # Subtest: $name"
	sed -n '/^KTAP version 1$/,$p' "$out" | grep -E '^(KTAP|1\.\.|ok |not ok |#|    )' | sed 's/^/    /'
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
echo "$pass passed, $fail failed, $skip skipped"
exit $bad
