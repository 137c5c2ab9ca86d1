#!/bin/bash
# Prepare Debian's own kernel (the stock `linux-image-*-amd64` of the same Debian version
# as the project's linux-source-$KMAJOR) for building rust_pmem against it, idempotently:
#   1. install that kernel's image, modules and headers into the build root;
#   2. check that the build root's rustc and bindgen print exactly the version texts the
#      headers' .config records (Rust metadata is only usable by the compiler that made
#      it, and the kernel's bindings are only those of its bindgen);
#   3. recreate the Rust metadata the headers package lacks (rust/*.rmeta, the macros
#      proc-macro library, the generated bindings): linux-source-$KMAJOR configured with
#      the headers' .config, `make modules_prepare`, and the headers' Module.symvers;
#   4. print the kernel release (e.g. 7.3.4+deb13-amd64).
# The tree is /kbuild/debian-RELEASE/linux in the build root; it is made once.
# Usage: scripts/debian-kernel.sh   (prints the release on stdout; progress on stderr)
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/provision.sh" base >&2
src_ver=$(in_root dpkg-query -W -f '${Version}' "linux-source-$KMAJOR")
upstream=${src_ver%%-*}

# The stock image of that version: linux-image-UPSTREAM+debNN-amd64, whose candidate
# version is the source's.
find_release() {
	local p v
	for p in $(in_root apt-cache search --names-only "^linux-image-${upstream//./\\.}\\+deb[0-9]+-amd64\$" |
		awk '{ print $1 }'); do
		v=$(in_root apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')
		[ "$v" = "$src_ver" ] && { echo "${p#linux-image-}"; return 0; }
	done
	return 1
}
release=$(find_release) || {
	in_root apt-get update -q >/dev/null 2>&1 || true
	release=$(find_release)
} || die "no linux-image-$upstream+debNN-amd64 at version $src_ver in $KSUITE (the stock kernel must be the linux-source-$KMAJOR version)"

# From $KSUITE, with what they need from there (linux-base).
if ! in_root dpkg -s "linux-image-$release" "linux-headers-$release" >/dev/null 2>&1; then
	log "installing linux-image-$release and linux-headers-$release in the build root"
	in_root /bin/sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-t $KSUITE linux-image-$release linux-headers-$release" >"$CACHE/apt-debian-kernel.log" 2>&1 || {
		tail -n 20 "$CACHE/apt-debian-kernel.log" >&2
		die "installing Debian's kernel $release failed (log: $CACHE/apt-debian-kernel.log)"
	}
fi
HDR=/usr/src/linux-headers-$release
KD=/kbuild/debian-$release/linux
[ -e "$ROOT$KD/../built" ] && { echo "$release"; exit 0; }

cfg() { sed -n "s/^$1=\"\\(.*\\)\"\$/\\1/p" "$ROOT$HDR/.config"; }
grep -qx 'CONFIG_RUST=y' "$ROOT$HDR/.config" || die "Debian's $release is built without CONFIG_RUST"
want_rustc=$(cfg CONFIG_RUSTC_VERSION_TEXT) want_bindgen=$(cfg CONFIG_BINDGEN_VERSION_TEXT)
have_rustc=$(in_root rustc --version) have_bindgen=$(in_root bindgen --version)
[ "$want_rustc" = "$have_rustc" ] ||
	die "Debian's $release was built with '$want_rustc'; the build root has '$have_rustc': Rust modules for it need that exact compiler"
[ "$want_bindgen" = "$have_bindgen" ] ||
	die "Debian's $release was built with '$want_bindgen'; the build root has '$have_bindgen'"
# The C compiler by the name Debian's build called it (CONFIG_CC_VERSION_TEXT's first
# word, e.g. x86_64-linux-gnu-gcc-14); the same version must answer to it here.
want_cc=$(cfg CONFIG_CC_VERSION_TEXT)
cc=${want_cc%% *}
have_cc=$(in_root "$cc" --version 2>/dev/null | head -n 1) || true
[ "$want_cc" = "$have_cc" ] ||
	die "Debian's $release was built with '$want_cc'; the build root's $cc says '${have_cc:-nothing}'"
log "stock kernel $release: $want_rustc, $want_bindgen, $want_cc"

prepare_tree() {
	rm -rf "$ROOT/kbuild/debian-$release"
	mkdir -p "$ROOT/kbuild/debian-$release"
	# olddefconfig must leave the headers' .config as it is: same source, same options.
	in_root /bin/sh -c "set -e; cd /kbuild/debian-$release
		tar -xaf /usr/src/linux-source-$KMAJOR.tar.xz
		mv linux-source-$KMAJOR linux
		cp $HDR/.config linux/.config
		make -s -C linux KERNELRELEASE=$release CC=$cc olddefconfig
		grep -v '^#[^ ]\\|^# [^C]' $HDR/.config >/tmp/want.config
		grep -v '^#[^ ]\\|^# [^C]' linux/.config >/tmp/have.config
		if ! cmp -s /tmp/want.config /tmp/have.config; then
			diff /tmp/want.config /tmp/have.config | head -n 20
			echo 'the headers .config changed under olddefconfig with this source'; exit 1
		fi
		make -s -C linux -j\$(nproc) KERNELRELEASE=$release CC=$cc modules_prepare
		cp $HDR/Module.symvers linux/Module.symvers" \
		>"$CACHE/debian-kernel-$release.log" 2>&1 || {
		tail -n 30 "$CACHE/debian-kernel-$release.log" >&2
		die "preparing the Rust metadata for $release failed (log: $CACHE/debian-kernel-$release.log)"
	}
	printf '%s\n' "KERNELRELEASE=$release" "CC=$cc" >"$ROOT/kbuild/debian-$release/make-args"
	touch "$ROOT/kbuild/debian-$release/built"
}
step "Rust metadata for Debian's $release" prepare_tree >&2
echo "$release"
