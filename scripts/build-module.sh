#!/bin/bash
# Build rust_pmem.ko (and the test tools) against the cached kernel, inside the build
# root. Provisions first if needed (a no-op when everything is cached).
# Usage: scripts/build-module.sh [rustfmt|rustfmtcheck]
# env: CLIPPY=1, RUST_PMEM_TEST=1 (the test build), RUST_PMEM_KUNIT=1 (its KUnit suites),
#      FLAVOUR=base|debug|debian (debian: Debian's stock kernel, scripts/debian-kernel.sh;
#      there the production build goes to build/ko/debian/rust_pmem.ko and the test build
#      to build/ko/debian/test/rust_pmem.ko).
. "$(dirname "$0")/lib.sh"
FLAVOUR=${FLAVOUR:-base}
[ "${KERNEL:-}" = debian ] && FLAVOUR=debian

if [ "$FLAVOUR" = debian ]; then
	KD=/kbuild/debian-$(bash "$REPO/scripts/debian-kernel.sh")/linux
else
	bash "$REPO/scripts/provision.sh" "$FLAVOUR"
	KD=$(kdir_in_root "$FLAVOUR")
fi
margs=$(tr '\n' ' ' <"$ROOT$KD/../make-args" 2>/dev/null || true)

case "${1:-}" in
rustfmt | rustfmtcheck)
	check=; [ "$1" = rustfmtcheck ] && check=--check
	in_root /bin/sh -c "cd /src && rustfmt --edition 2021 --config-path $KD/.rustfmt.toml $check *.rs"
	exit
	;;
esac

# The module is also copied to build/ko/FLAVOUR/, which is what the VMs load: a build
# for the other kernel (they share the source directory) cannot replace it under a
# running suite.
out=$REPO/build/ko/$FLAVOUR
[ "$FLAVOUR" = debian ] && [ -n "${RUST_PMEM_TEST:-}" ] && out+=/test
build() {
	in_root /bin/sh -c "make -s -C $KD M=/src CONFIG_BLK_DEV_PMEM_RUST=m ${CLIPPY:+CLIPPY=1} ${RUST_PMEM_TEST:+RUST_PMEM_TEST=$RUST_PMEM_TEST} ${RUST_PMEM_KUNIT:+RUST_PMEM_KUNIT=$RUST_PMEM_KUNIT} $margs modules \
		&& make -s -C /src/tests/tools OUT=/src/build/tools" &&
		mkdir -p "$out" &&
		cp "$REPO/rust_pmem.ko" "$out/.rust_pmem.ko.tmp" &&
		mv "$out/.rust_pmem.ko.tmp" "$out/rust_pmem.ko"
}
step "rust_pmem.ko" build
