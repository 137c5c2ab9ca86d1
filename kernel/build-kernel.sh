#!/bin/bash
# Build the test kernel inside the build root: build-kernel.sh OUTDIR FLAVOUR KMAJOR
# Unpacks /usr/src/linux-source-KMAJOR.tar.xz, applies kernel/patches, configures
# (x86_64 defconfig + kvm_guest.config + kernel/config.fragment [+ config.FLAVOUR]),
# checks that olddefconfig kept every line of the fragment, and builds bzImage and modules.
set -euo pipefail
out=$1 flavour=$2 kmajor=$3
t0=$(date +%s)
log() { printf '[kernel %4ds] %s\n' "$(($(date +%s) - t0))" "$*"; }

rm -rf "$out"
mkdir -p "$out"
log "unpacking linux-source-$kmajor"
tar -C "$out" -xf "/usr/src/linux-source-$kmajor.tar.xz"
mv "$out/linux-source-$kmajor" "$out/linux"
cd "$out/linux"
for p in $(find /src/kernel/patches -name '*.patch' 2>/dev/null | sort); do
	log "applying $(basename "$p")"
	patch -p1 -s <"$p"
done

make_args=()
frags=(/src/kernel/config.fragment)
if [ "$flavour" != base ]; then
	frags+=("/src/kernel/config.$flavour")
fi
if grep -q '^LLVM=1' "/src/kernel/config.$flavour" 2>/dev/null; then
	make_args+=(LLVM=1)
fi
log "configuring ($flavour)"
make -s "${make_args[@]}" defconfig
make -s "${make_args[@]}" kvm_guest.config
cat "${frags[@]}" | grep -E '^CONFIG_' >/tmp/frag.config
scripts/kconfig/merge_config.sh -m .config /tmp/frag.config >/dev/null
make -s "${make_args[@]}" olddefconfig
missing=0
while IFS= read -r line; do
	opt=${line%%=*} val=${line#*=}
	if [ "$val" = n ]; then
		grep -qx "$opt=.*" .config && { echo "config: $opt should be unset"; missing=1; }
	elif ! grep -qx "$line" .config; then
		echo "config: olddefconfig dropped '$line' (now: $(grep -E "^$opt=|# $opt is" .config || echo absent))"
		missing=1
	fi
done </tmp/frag.config
[ $missing = 0 ] || { echo "ERROR: kernel config fragment not satisfied"; exit 1; }
make -s "${make_args[@]}" rustavailable
log "building bzImage and modules (-j$(nproc))"
make -s -j"$(nproc)" "${make_args[@]}" bzImage modules 2>&1 | grep -vE '^  [A-Z]' || true
[ -e arch/x86/boot/bzImage ] && [ -e Module.symvers ] || { echo "ERROR: kernel build failed"; exit 1; }
printf '%s\n' "${make_args[@]}" >"$out/make-args"
log "kernel built"
touch "$out/built"
