#!/bin/bash
# Recreate the Rust metadata a distribution's kernel headers lack (rust/*.rmeta, the
# macros proc-macro library, the generated bindings), so that an out-of-tree Rust module
# can be built for that kernel: the kernel source of the same version, configured with
# the headers' .config, `make modules_prepare`, and the headers' Module.symvers.
# Standalone (no project helpers): the build root's debian-kernel.sh and the DKMS
# package's build both run it.
# Usage: rust-metadata.sh RELEASE HEADERS_DIR SOURCE_TARBALL OUT_DIR
#   RELEASE: the kernel release (uname -r), HEADERS_DIR: its headers (with .config and
#   Module.symvers), SOURCE_TARBALL: e.g. /usr/src/linux-source-7.3.tar.xz, OUT_DIR: the
#   prepared tree is OUT_DIR/linux; OUT_DIR/make-args holds the make variables to build
#   against it. Does nothing if OUT_DIR/prepared exists. Fails, naming both, when the
#   compilers here are not those the .config records.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 RELEASE HEADERS_DIR SOURCE_TARBALL OUT_DIR" >&2; exit 64; }
release=$1 hdr=$2 tarball=$3 out=$4
die() { echo "rust-metadata: $*" >&2; exit 1; }
[ -e "$out/prepared" ] && exit 0
[ -r "$hdr/.config" ] || die "no $hdr/.config: the headers of $release are not installed"
[ -r "$tarball" ] || die "no $tarball: the kernel source is not installed"

cfg() { sed -n "s/^$1=\"\\(.*\\)\"\$/\\1/p" "$hdr/.config"; }
grep -qx 'CONFIG_RUST=y' "$hdr/.config" || die "$release is built without CONFIG_RUST"
want=$(cfg CONFIG_RUSTC_VERSION_TEXT) have=$(rustc --version 2>/dev/null || true)
[ "$want" = "$have" ] ||
	die "$release was built with '$want', but rustc here is '${have:-missing}': a Rust module for it needs that exact compiler"
want=$(cfg CONFIG_BINDGEN_VERSION_TEXT) have=$(bindgen --version 2>/dev/null || true)
[ "$want" = "$have" ] || die "$release was built with '$want', but bindgen here is '${have:-missing}'"
# The C compiler by the name the kernel's build called it (CONFIG_CC_VERSION_TEXT's
# first word, e.g. x86_64-linux-gnu-gcc-14).
want=$(cfg CONFIG_CC_VERSION_TEXT)
cc=${want%% *}
have=$("$cc" --version 2>/dev/null | head -n 1 || true)
[ "$want" = "$have" ] || die "$release was built with '$want', but $cc here is '${have:-missing}'"

rm -rf "$out/linux" "$out/make-args"
mkdir -p "$out"
top=$(tar -taf "$tarball" | head -n 1 || true)
top=${top%%/*}
tar -xaf "$tarball" -C "$out"
mv "$out/$top" "$out/linux"
# The source's version (Makefile's VERSION.PATCHLEVEL.SUBLEVEL) must be the release's.
ver=$(make -s -C "$out/linux" kernelversion 2>/dev/null)
case $release in
"$ver" | "$ver"[!0-9]*) ;;
*) rm -rf "$out/linux"; die "$tarball is Linux $ver, but the kernel is $release: install the source of $release" ;;
esac
cp "$hdr/.config" "$out/linux/.config"
make -s -C "$out/linux" KERNELRELEASE="$release" CC="$cc" olddefconfig
# Same source, same options: olddefconfig must leave every option as the headers have it.
opts() { grep -v '^#[^ ]\|^# [^C]' "$1"; }
if ! cmp -s <(opts "$hdr/.config") <(opts "$out/linux/.config"); then
	diff <(opts "$hdr/.config") <(opts "$out/linux/.config") | head -n 20 >&2
	die "$tarball is not the source $release was built from: its .config changes under olddefconfig"
fi
make -s -C "$out/linux" -j"$(nproc)" KERNELRELEASE="$release" CC="$cc" modules_prepare
cp "$hdr/Module.symvers" "$out/linux/Module.symvers"
printf '%s\n' "KERNELRELEASE=$release" "CC=$cc" >"$out/make-args"
touch "$out/prepared"
