#!/bin/bash
# In the guest: ndctl's own tests, then ours (tests/ndctl/cases), against DRIVER=c
# (nd_pmem) or DRIVER=rust (rust_pmem). Two set-ups (PMEM):
#  - nfit (vm.sh --pmem nfit): the tests that use nfit_test's emulated buses (and our
#    nfit_dsm_clear, poison_revalidate, nowait_poison_again). nd_pmem is the test build
#    for DRIVER=c, as upstream runs them; for DRIVER=rust it is the stand-in that only
#    exports pmem_test(), so no namespace can fall to it, and rust_pmem is its
#    nfit_test build.
#  - real (vm.sh --pmem real): the tests that need pmem on the e820 bus (a memmap=
#    region: dax-ext4, dax-xfs, mmap, device-dax; dax-pmd runs inside the first two) or
#    on an ACPI NFIT bus (a QEMU NVDIMM: align, sub-section, dm), with the kernel's own
#    modules; rust_pmem is its test build and nd_pmem is kept out by modprobe.blacklist.
# Usage: guest.sh [--ours | TEST...] (--ours: only tests/ndctl/cases)
# Output: a KTAP line `ndctl/NAME` (ours: `nfit/NAME`) per test, then `N passed, N failed,
# N skipped`. A test passes on exit 0 and skips on 77 (ndctl's convention; ours: 4); it
# fails when the kernel log shows a warning, BUG or oops during it, or (rust) when
# nd_pmem holds a device.
set -u
CASES=$(cd "$(dirname "$0")" && pwd)/cases
. "$(dirname "$0")/../guest/lib.sh"
eval "$(sed "s/\$DRIVER/$DRIVER/" /src/build/ndctl/env)"
TESTS=("$@")
if [ "${1:-}" = --ours ]; then
	# make check's nfit run: only ours (ndctl's own are make check-ndctl's).
	TESTS=()
	for t in "$CASES"/*.sh; do TESTS+=("$(basename "$t" .sh)"); done
fi
case $PMEM in
nfit)
	[ ${#TESTS[@]} -gt 0 ] || TESTS=(libndctl create.sh clear.sh pmem-errors.sh
		inject-error.sh sector-mode.sh btt-errors.sh pfn-meta-errors.sh multi-dax.sh
		rescan-partitions.sh nfit_dsm_clear poison_revalidate nowait_poison_again)
	# ndctl's test core wants nfit_test's modules from extra/ of the running kernel's
	# module directory: point it at this driver's (virtme's /lib/modules is a tmpfs).
	ln -sfn "$NDCTL_MODS" "/lib/modules/$(uname -r)"
	case $(modinfo -n nfit_test 2>&1) in
	*/extra/*) ;;
	*) echo "Bail out! nfit_test does not resolve to extra/: $(modinfo -n nfit_test 2>&1)"; exit 1 ;;
	esac
	KO=$NDCTL_RUST_KO
	;;
real)
	# align.sh wants an empty region first; all of them clean up after themselves.
	[ ${#TESTS[@]} -gt 0 ] || TESTS=(dax-ext4.sh dax-xfs.sh mmap.sh device-dax align.sh
		sub-section.sh dm.sh)
	KO=$RUST_PMEM_KO
	;;
*) echo "Bail out! PMEM=$PMEM: ndctl's tests run on PMEM=nfit or PMEM=real"; exit 1 ;;
esac
if [ "$DRIVER" = rust ]; then
	# nfit: rust_pmem first, as loading nfit_test later creates the namespaces, and the
	# driver that is registered then binds them. real: it binds the namespaces waiting.
	modprobe -a $(modinfo -F depends "$KO" | tr ',' ' ') || exit 1
	insmod "$KO" || exit 1
elif [ "$PMEM" = real ]; then
	modprobe nd_pmem || exit 1
fi
if [ "$PMEM" = real ]; then
	# device-dax opens /dev/daxX.Y right after making it: have its driver loaded (udev
	# would load it from the modalias, but only after the test has looked).
	modprobe -a dax_pmem device_dax || exit 1
	udevadm settle -t 60 || true
	ndctl=$NDCTL_BUILD/ndctl/ndctl
	for bus in e820 ACPI.NFIT; do
		[ -n "$($ndctl list -R -b $bus 2>/dev/null)" ] ||
			{ echo "Bail out! no $bus region: $($ndctl list -RBi 2>&1 | tr '\n' ' ')"; exit 1; }
	done
	# The NVDIMM's label area starts zeroed: initialise it, as a new DIMM would be.
	{ $ndctl disable-region -b ACPI.NFIT all && $ndctl init-labels -f all &&
		$ndctl enable-region -b ACPI.NFIT all; } >/dev/null ||
		{ echo "Bail out! could not initialise the NVDIMM's labels"; exit 1; }
fi
echo "# DRIVER=$DRIVER PMEM=$PMEM kernel=$(uname -r) ndctl=$($NDCTL_BUILD/ndctl/ndctl --version)"

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
	# Whole logs (ndctl's tests are verbose) under build/ndctl/logs on the host.
	mkdir -p /src/build/ndctl/logs && cp "$dir/log" "/src/build/ndctl/logs/$DRIVER-$PMEM-$name.log"
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
