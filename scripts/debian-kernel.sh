#!/bin/bash
# Prepare Debian's own kernel (the stock `linux-image-*-amd64` of the same Debian version
# as the project's linux-source-$KMAJOR) for building rust_pmem against it, idempotently:
#   1. install that kernel's image, modules and headers into the build root;
#   2. recreate the Rust metadata the headers package lacks (scripts/rust-metadata.sh:
#      it first checks that the build root's rustc, bindgen and gcc print exactly the
#      version texts the headers' .config records: Rust metadata is only usable by the
#      compiler that made it);
#   3. print the kernel release (e.g. 7.3.4+deb13-amd64).
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
if [ ! -e "$ROOT$KD/../prepared" ]; then
	log "recreating the Rust metadata of Debian's $release from linux-source-$KMAJOR (about a minute)"
	step "Rust metadata for Debian's $release" in_root bash /src/scripts/rust-metadata.sh \
		"$release" "$HDR" "/usr/src/linux-source-$KMAJOR.tar.xz" "/kbuild/debian-$release" \
		>"$CACHE/debian-kernel-$release.log" 2>&1 || {
		tail -n 30 "$CACHE/debian-kernel-$release.log" >&2
		die "preparing the Rust metadata for $release failed (log: $CACHE/debian-kernel-$release.log)"
	}
fi
echo "$release"
