#!/bin/bash
# In the guest (vm.sh --pmem nfit): ndctl's own tests that use nfit_test, then ours
# (tests/ndctl/cases: nfit_dsm_clear, poison_revalidate, nowait_poison_again), against
# DRIVER=c (the test build of nd_pmem, as upstream runs them) or DRIVER=rust
# (rust_pmem's nfit_test build; nd_pmem is the stand-in that only exports
# pmem_test(), so no namespace can fall to it). Usage: guest.sh [TEST...]
# Output: a KTAP line `ndctl/NAME` per test, then `N passed, N failed, N skipped`.
# A test passes on exit 0 and skips on 77 (ndctl's convention; ours: 4); it fails when
# the kernel log shows a warning, BUG or oops during it, or (rust) when nd_pmem holds
# a device.
set -u
CASES=$(cd "$(dirname "$0")" && pwd)/cases
. "$(dirname "$0")/../guest/lib.sh"
eval "$(sed "s/\$DRIVER/$DRIVER/" /src/build/ndctl/env)"
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(libndctl create.sh clear.sh pmem-errors.sh inject-error.sh
	sector-mode.sh btt-errors.sh pfn-meta-errors.sh multi-dax.sh rescan-partitions.sh
	nfit_dsm_clear poison_revalidate nowait_poison_again)

# ndctl's test core wants nfit_test's modules from extra/ of the running kernel's
# module directory: point it at this driver's (virtme's /lib/modules is a tmpfs).
ln -sfn "$NDCTL_MODS" "/lib/modules/$(uname -r)"
case $(modinfo -n nfit_test 2>&1) in
*/extra/*) ;;
*) echo "Bail out! nfit_test does not resolve to extra/: $(modinfo -n nfit_test 2>&1)"; exit 1 ;;
esac
if [ "$DRIVER" = rust ]; then
	# rust_pmem first: loading nfit_test later creates the namespaces, and the driver
	# that is registered then binds them.
	modprobe -a $(modinfo -F depends "$NDCTL_RUST_KO" | tr ',' ' ') || exit 1
	insmod "$NDCTL_RUST_KO" || exit 1
fi
echo "# DRIVER=$DRIVER kernel=$(uname -r) ndctl=$($NDCTL_BUILD/ndctl/ndctl --version)"

nd_pmem_devices() { ls /sys/bus/nd/drivers/nd_pmem 2>/dev/null | grep -E '^(namespace|pfn|btt|dax)' | tr '\n' ' '; }

echo "KTAP version 1"
echo "1..${#TESTS[@]}"
pass=0 fail=0 skip=0 n=0
for t in "${TESTS[@]}"; do
	n=$((n + 1))
	name=${t%.sh}
	ours=$CASES/$t.sh skipcode=77 prefix=ndctl
	if [ -e "$ours" ]; then
		cmd="bash $ours" skipcode=4 prefix=nfit
	elif [ -e "$NDCTL_SRC/test/$t" ]; then
		cmd=$NDCTL_SRC/test/$t
	else
		cmd=$NDCTL_BUILD/test/$t
	fi
	mark=$(kmsg_mark "ndctl/$name")
	dir=$(mktemp -d)
	s=$(date +%s)
	(cd "$dir" && env NDCTL="$NDCTL_BUILD/ndctl/ndctl" DAXCTL="$NDCTL_BUILD/daxctl/daxctl" \
		CXL="$NDCTL_BUILD/cxl/cxl" TEST_PATH="$NDCTL_BUILD/test" DATA_PATH="$NDCTL_SRC/test" \
		timeout -k 10 $((900 * ${TIMEOUT_SCALE:-1})) $cmd) >"$dir/log" 2>&1
	rc=$?
	why=
	bad=$(dmesg_since "$mark" | dmesg_bad_lines)
	[ -n "$bad" ] && why="kernel log: $(head -n 3 <<<"$bad" | tr '\n' '|')"
	if [ "$DRIVER" = rust ] && [ -n "$(nd_pmem_devices)" ]; then
		why+=" nd_pmem holds $(nd_pmem_devices)"
	fi
	tail -n 25 "$dir/log" | sed 's/^/# /'
	echo "# $name: exit $rc after $(($(date +%s) - s)) s"
	if [ $rc = $skipcode ] && [ -z "$why" ]; then
		echo "ok $n $prefix/$name # SKIP the test skipped itself (exit $rc; its log above says why)"
		skip=$((skip + 1))
	elif [ $rc = 0 ] && [ -z "$why" ]; then
		echo "ok $n $prefix/$name"
		pass=$((pass + 1))
	else
		echo "not ok $n $prefix/$name # exit $rc $why"
		fail=$((fail + 1))
	fi
	rm -rf "$dir"
done
echo "$pass passed, $fail failed, $skip skipped"
