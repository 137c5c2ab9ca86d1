#!/bin/bash
# ndctl's own test suite, built in the build root from Debian's source package (the
# same version as the ndctl the guest uses), with the tests and the destructive tests
# enabled. Cached in the build root under /var/lib/rust_pmem/ndctl/VERSION, rebuilt
# when the version or this script changes. Prints the build directory (as seen inside
# the build root).
. "$(dirname "$0")/lib.sh"

NDCTL_PKGS="dpkg-dev meson ninja-build pkgconf libkmod-dev libudev-dev uuid-dev
libjson-c-dev libiniparser-dev libkeyutils-dev libtraceevent-dev libtracefs-dev jq parted bsdextrautils dmsetup"
# What the suite is built with: no docs, no systemd units. keyutils and libtracefs stay
# on: v81 does not compile without them (its keys.h stub of ndctl_dimm_remove_key() has
# the wrong arity; cxl/json.c includes tracefs.h unconditionally). The security test
# keyutils adds is not run (the kernel has no NVDIMM_KEYS).
MESON_OPTS="-Dtest=enabled -Ddestructive=enabled -Dkeyutils=enabled -Ddocs=disabled
-Dsystemd=disabled"

ver=$(in_root dpkg-query -W -f='${Version}' ndctl 2>/dev/null) ||
	die "ndctl is not installed in the build root: run scripts/provision.sh"
key=$(cat "$0" | sha256sum | cut -c1-8)
dir=/var/lib/rust_pmem/ndctl/$ver-$key

# The packages (build and run: jq, parted, hexdump and dmsetup are used by the tests).
# shellcheck disable=SC2086
root_install ndctl $NDCTL_PKGS

if [ -e "$ROOT$dir/built" ]; then
	echo "$dir/build"
	exit 0
fi
in_root rm -rf /var/lib/rust_pmem/ndctl # older versions or recipes
log "ndctl: building $ver's test suite (log: $CACHE/ndctl-build.log)"
in_root /bin/bash -c "set -e; ver=$ver
	rm -rf $dir && mkdir -p $dir && cd $dir
	# Only the upstream tarball is needed (it holds test/ and the meson build); some
	# mirrors lack the .dsc and the Debian diff, so a partial download is fine.
	uver=\${ver%-*}
	apt-get source -q --download-only ndctl=$ver || true
	[ -e ndctl_\$uver.orig.tar.gz ] || { apt-get update -q && apt-get source -q --download-only ndctl=$ver || true; }
	mkdir src && tar -xzf ndctl_\$uver.orig.tar.gz -C src --strip-components=1
	cd src
	# dax.sh reads the fault result of dax_pmd_fault_done as field 21 of each line of
	# trace-cmd's report; Debian's trace-cmd 3 prints one more column before the event,
	# so field 21 is max_pgoff there. Take the last field of the event's lines instead
	# (the report also has a header line, which field 21 skipped by being empty).
	grep -q \"awk '{ print \\\$21 }'\" test/dax.sh
	sed -i \"s/awk '{ print \\\$21 }'/awk '\\/dax_pmd_fault_done\\/ { print \\\$NF }'/\" test/dax.sh
	# device-dax times its read-back of a device-dax mapping against a limit derived
	# from hardware (2 MiB: 7.5 ms cached, 200 ms uncached, limit 30.7 ms) to catch a
	# range mapped uncached. TCG does not model memory types and reads far slower (36 ms
	# here), so allow four times the limit (123 ms, still under the uncached figure).
	grep -q 'SZ_4K) \\* 60)' test/device-dax.c
	sed -i 's/SZ_4K) \\* 60)/SZ_4K) * 240)/' test/device-dax.c
	meson setup ../build $(echo $MESON_OPTS) -Dversion-tag=$ver
	meson compile -C ../build
	touch ../built" >"$CACHE/ndctl-build.log" 2>&1 || {
	tail -n 30 "$CACHE/ndctl-build.log" >&2
	die "building ndctl's test suite failed (log: $CACHE/ndctl-build.log)"
}
echo "$dir/build"
