#!/bin/bash
# `make check-dkms`: the rust-pmem-dkms package, as a user on Debian's stock kernel gets it.
#  1. builds the package with the Debian tooling in the build root (dpkg-buildpackage)
#     and runs lintian on it (errors and warnings fail);
#  2. installs it there with apt, and has dkms build and install the module for Debian's
#     stock kernel (scripts/debian-kernel.sh installs that kernel and its headers);
#  3. boots that kernel and checks that `modprobe rust_pmem` loads the DKMS-built
#     (production) module, that it binds both memmap namespaces and that an O_DIRECT
#     write reads back;
#  4. purges the package again (dkms removes the module), so that the build root's
#     stock kernel has no rust_pmem of its own for the other runs.
# Prints KTAP and ends with `N passed, N failed`.
. "$(dirname "$0")/../scripts/lib.sh"
release=$(bash "$REPO/scripts/debian-kernel.sh")
ver=$(sed -n '1s/^rust-pmem (\([^)]*\)).*/\1/p' "$REPO/debian/changelog")
root_install dkms-tools dkms dh-dkms debhelper lintian fakeroot
# The tools the guest check uses (pmemio).
bash "$REPO/scripts/build-module.sh" >&2

echo "KTAP version 1"
echo "1..3"
pass=0 fail=0
result() {
	if [ "$1" = ok ]; then pass=$((pass + 1)); echo "ok $2 $3"; else fail=$((fail + 1)); echo "not ok $2 $3"; fi
}
cleanup() { in_root /bin/sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q rust-pmem-dkms' >/dev/null 2>&1 || true; }
trap cleanup EXIT

# 1. The package, from the committed sources of this checkout.
work=/var/tmp/rust-pmem-pkg
rm -rf "$ROOT$work"
mkdir -p "$ROOT$work/rust-pmem-$ver"
git -C "$REPO" ls-files -z | (cd "$REPO" && xargs -0 cp --parents -t "$ROOT$work/rust-pmem-$ver")
log "building rust-pmem-dkms $ver"
if in_root /bin/sh -c "cd $work/rust-pmem-$ver && dpkg-buildpackage -b -us -uc" >"$CACHE/dkms-package.log" 2>&1; then
	deb=$work/rust-pmem-dkms_${ver}_all.deb
	lint=$(in_root lintian --fail-on error,warning "$deb" 2>&1) && rc=0 || rc=$?
	printf '%s\n' "$lint" | sed 's/^/# lintian: /'
	echo "# $(du -k "$ROOT$deb" | cut -f1) KiB: $(in_root dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -c '^./usr/src/') files under /usr/src"
	[ $rc = 0 ] && result ok 1 dkms_package || result fail 1 dkms_package
else
	tail -n 20 "$CACHE/dkms-package.log" | sed 's/^/# /'
	result fail 1 dkms_package
	echo "$pass passed, $((fail + 2)) failed"
	exit 1
fi

# 2. apt install, then dkms for the stock kernel.
t0=$(date +%s)
if in_root /bin/sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $deb &&
	dkms install -m rust-pmem -v $ver -k $release && modinfo -k $release rust_pmem" >"$CACHE/dkms-install.log" 2>&1; then
	grep -E '^(filename|vermagic):' "$CACHE/dkms-install.log" | sed 's/^/# /'
	echo "# apt install and dkms install for $release: $(($(date +%s) - t0)) s"
	result ok 2 dkms_build_stock_kernel
else
	tail -n 30 "$CACHE/dkms-install.log" | sed 's/^/# /'
	result fail 2 dkms_build_stock_kernel
fi

# 3. modprobe on the stock kernel.
guest='set -e
modprobe nd_e820
modprobe rust_pmem
echo "module file: $(modinfo -n rust_pmem)"
for i in $(seq 30); do [ -b /dev/pmem0 ] && [ -b /dev/pmem1 ] && break; sleep 1; done
for n in /sys/bus/nd/devices/namespace*; do echo "$(basename $n) -> $(basename $(readlink $n/driver))"; done
for n in /sys/bus/nd/devices/namespace*; do [ "$(basename $(readlink $n/driver))" = rust_pmem ]; done
[ ! -e /sys/kernel/debug/rust_pmem/pmem0/inject_poison ] || { echo "the test build was loaded"; exit 1; }
$TOOLS_DIR/pmemio write /dev/pmem0 1048576 4194304 4242 direct
$TOOLS_DIR/pmemio verify /dev/pmem0 1048576 4194304 4242 direct
echo "tainted: $(cat /proc/sys/kernel/tainted)"
rmmod rust_pmem
echo GUEST-OK'
out=$(bash "$REPO/scripts/vm.sh" --flavour debian --pmem memmap -- bash -c "$guest" 2>&1) || true
printf '%s\n' "$out" | grep -vE '^\[|^vm.sh' | sed 's/^/# /'
if printf '%s\n' "$out" | grep -qx GUEST-OK; then
	result ok 3 dkms_modprobe_stock_kernel
else
	result fail 3 dkms_modprobe_stock_kernel
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
