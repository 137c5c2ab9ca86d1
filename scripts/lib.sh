# Shared settings and helpers for the provisioning and test scripts.
# Sourced, not run. Everything cached lives OUTSIDE the clone, under $RUST_PMEM_CACHE.

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${RUST_PMEM_CACHE:-/var/cache/rust_pmem}"
ROOT="$CACHE/root"                 # Debian trixie build root (chroot)
KMAJOR="7.3"                       # pinned kernel major version
KSUITE="trixie-backports"          # suite that carries linux-source-$KMAJOR
MIRROR="${RUST_PMEM_MIRROR:-}"

T0=${T0:-$(date +%s)}
export T0

log() { printf '[%4ds] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Time one long step: step "what" cmd...
step() {
	local what=$1 s
	shift
	s=$(date +%s)
	log "start: $what"
	"$@"
	log "done:  $what ($(($(date +%s) - s)) s)"
}

# The Debian mirror the host's own apt sources use.
host_mirror() {
	if [ -n "$MIRROR" ]; then echo "$MIRROR"; return; fi
	local m
	m=$(grep -hoE '^(URIs:|deb) *[a-z]+://[^ ]+/debian/?( |$)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
		/etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 |
		sed -E 's/^(URIs:|deb) *//; s/ *$//; s:/$::') || true
	echo "${m:-http://deb.debian.org/debian}"
}

# Run a command inside the build root, in a private mount namespace so that
# nothing stays mounted if the script dies. The repository is at /src inside.
in_root() {
	unshare -m --propagation private /bin/bash -c '
		set -e
		R=$1; S=$2; shift 2
		mount --rbind /dev "$R/dev"
		mount -t proc proc "$R/proc"
		mount --rbind /sys "$R/sys"
		mount -t tmpfs tmpfs "$R/tmp"
		mkdir -p "$R/src" "$R/run/shm"
		mount --bind "$S" "$R/src"
		[ -e /etc/resolv.conf ] && cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
		exec chroot "$R" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			CI="${CI:-}" "$@"
	' in_root "$ROOT" "$REPO" "$@"
}

# root_install WHAT PKG...: install whichever of PKG are missing in the build root
# (updating the package lists once if the cached ones are stale); the log goes to
# $CACHE/apt-WHAT.log, and a failure ends the script naming it.
root_install() {
	local what=$1 log
	shift
	in_root dpkg -s "$@" >/dev/null 2>&1 && return 0
	log="$CACHE/apt-$what.log"
	log "installing $* in the build root (log: $log)"
	in_root /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q --no-install-recommends "$@" ||
		{ apt-get update -q && apt-get install -y -q --no-install-recommends "$@"; }' sh "$@" \
		>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "installing $* failed (log: $log)"; }
}

# The cache key of the kernel build: kernel version, config fragment, patches.
kernel_key() {
	local flavour=${1:-base} ver
	ver=$(cat "$ROOT/var/lib/rust_pmem/kernel-version" 2>/dev/null) || die "kernel source not provisioned"
	{
		echo "$ver"
		echo "$flavour"
		cat "$REPO/kernel/config.fragment"
		[ "$flavour" = base ] || cat "$REPO/kernel/config.$flavour"
		cat "$REPO/kernel/build-kernel.sh"
		if [ -d "$REPO/kernel/patches" ]; then
			find "$REPO/kernel/patches" -type f -name '*.patch' | sort | xargs -r cat
		fi
	} | sha256sum | cut -c1-16
}

# Path of the built kernel tree inside the build root (as seen from inside).
kdir_in_root() { echo "/kbuild/$(kernel_key "${1:-base}")/linux"; }
