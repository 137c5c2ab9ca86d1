#!/bin/bash
# Provision everything rust_pmem needs, idempotently:
#   1. host packages (debootstrap),
#   2. a Debian trixie build root with the Rust-for-Linux toolchain and guest tools,
#   3. the Linux $KMAJOR source from Debian's linux-source-$KMAJOR,
#   4. the kernel, built once per cache key (see kernel/build-kernel.sh).
# Usage: scripts/provision.sh [base|debug]

. "$(dirname "$0")/lib.sh"
FLAVOUR=${1:-base}

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and mounts need it)"

host_packages() {
	local need=()
	command -v debootstrap >/dev/null || need+=(debootstrap)
	command -v unshare >/dev/null || need+=(util-linux)
	[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
	[ ${#need[@]} -eq 0 ] && return 0
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
}

BASE_PKGS=build-essential,flex,bison,bc,libelf-dev,libssl-dev,rustc,rust-src,bindgen,libclang-dev,clang,lld,llvm,cpio,kmod,python3,xz-utils,rsync,git,ca-certificates
GUEST_PKGS="rustfmt rust-clippy virtme-ng qemu-system-x86 e2fsprogs xfsprogs fio ndctl daxctl trace-cmd util-linux busybox-static udev kmod iproute2 procps python3 strace"

build_root() {
	local mirror
	mirror=$(host_mirror)
	if [ ! -e "$ROOT/var/lib/rust_pmem/debootstrap.done" ]; then
		rm -rf "$ROOT"
		mkdir -p "$ROOT"
		debootstrap --variant=minbase --include="$BASE_PKGS" trixie "$ROOT" "$mirror" \
			>"$CACHE/debootstrap.log" 2>&1 || {
			tail -n 30 "$CACHE/debootstrap.log" >&2
			die "debootstrap failed (log: $CACHE/debootstrap.log)"
		}
		mkdir -p "$ROOT/var/lib/rust_pmem"
		touch "$ROOT/var/lib/rust_pmem/debootstrap.done"
	fi
	cat >"$ROOT/etc/apt/sources.list" <<-EOF
		deb $mirror trixie main
		deb $mirror $KSUITE main
		deb-src $mirror trixie main
	EOF
	# Install whatever of the guest tools is missing (dpkg -s fails on any absent one).
	if ! in_root dpkg -s $GUEST_PKGS >/dev/null 2>&1; then
		in_root /bin/sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends $GUEST_PKGS" >"$CACHE/apt.log" 2>&1 || {
			tail -n 30 "$CACHE/apt.log" >&2
			die "installing guest tools in the build root failed (log: $CACHE/apt.log)"
		}
	fi
	virtme_init_patch
}

# Two edits to the build root's copy of virtme-ng's bash init (the guest's PID 1), for the
# debug kernel under TCG, where every system call costs milliseconds (KASAN, lockdep and
# kmemleak under emulation); both change nothing a test looks at:
#  - udevd re-checks its configuration for changes, at most every 3 s, before it hands
#    out queued events; most of that check is chasing the paths of the network .link
#    files and their drop-in directories. On the debug kernel one check took longer than
#    3 s (2026-12-01, strace in the guest: openat/stat/close over 9p at 3-17 ms each), so
#    udevd checked again before every event and the coldplug never finished. The guest
#    has no network (QEMU -net none): a tmpfs over /usr/lib/systemd/network hides the
#    .link files from it.
#  - `udevadm settle` waits at most 120 s by default, then the init finds no
#    /dev/virtio-ports links for the command's I/O, exits, and the guest panics before
#    the command starts: it waits up to 1500 s instead (a normal boot settles in seconds).
virtme_init_patch() {
	local f="$ROOT/usr/lib/python3/dist-packages/virtme/guest/virtme-init"
	sed -i 's/^\( *\)udevadm settle$/\1udevadm settle --timeout=1500/' "$f"
	grep -q 'rust_pmem: no .link files' "$f" ||
		sed -i 's|^\( *\)log "starting udevd"$|\1mount -t tmpfs -o mode=0755 tmpfs /usr/lib/systemd/network # rust_pmem: no .link files\n&|' "$f"
	grep -q '^ *udevadm settle --timeout=1500$' "$f" && grep -q 'rust_pmem: no .link files' "$f" ||
		die "virtme-init changed: its udev start-up could not be edited ($f)"
}

kernel_source() {
	local stamp="$ROOT/var/lib/rust_pmem/kernel-version" pkg="linux-source-$KMAJOR" ver
	# Re-check the suite at most once a day; a cached source keeps working offline.
	if [ -s "$stamp" ] && [ -z "$(find "$stamp" -mtime +0)" ]; then return 0; fi
	ver=$(in_root apt-cache policy "$pkg" | sed -n 's/^ *Candidate: *//p')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		[ -s "$stamp" ] && { log "warning: $pkg not found in $KSUITE; keeping cached $(cat "$stamp")"; return 0; }
		die "Debian's $KSUITE no longer carries $pkg. Set KMAJOR/KSUITE in scripts/lib.sh to a suite that does (apt-cache policy 'linux-source-*' in the build root lists them), or point RUST_PMEM_MIRROR at a snapshot mirror that still has it."
	fi
	if [ "$(cat "$stamp" 2>/dev/null)" = "$ver" ] && [ -e "$ROOT/usr/src/linux-source-$KMAJOR.tar.xz" ]; then
		touch "$stamp"
		return 0
	fi
	in_root /bin/sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkg=$ver" \
		>>"$CACHE/apt.log" 2>&1 || die "installing $pkg $ver failed (log: $CACHE/apt.log)"
	[ -e "$ROOT/usr/src/linux-source-$KMAJOR.tar.xz" ] || die "$pkg has no /usr/src/linux-source-$KMAJOR.tar.xz"
	echo "$ver" >"$stamp"
}

# kernel_resume KEY: run make again in a configured tree whose build stopped.
kernel_resume() {
	local key=$1 kd="$ROOT/kbuild/$1" margs=()
	grep -q '^LLVM=1' "$REPO/kernel/config.$FLAVOUR" 2>/dev/null && margs=(LLVM=1)
	log "resuming the interrupted kernel build $key"
	in_root nice /bin/bash -c 'cd "$1" && shift && make -s -j"$(nproc)" "$@" bzImage modules' \
		resume "/kbuild/$key/linux" "${margs[@]}" >>"$CACHE/kernel-$key.log" 2>&1 &&
		[ -e "$kd/linux/arch/x86/boot/bzImage" ] && [ -e "$kd/linux/Module.symvers" ] || return 1
	printf '%s\n' "${margs[@]}" >"$kd/make-args"
	touch "$kd/built"
}

kernel_build() {
	local key kd
	key=$(kernel_key "$FLAVOUR")
	kd="$ROOT/kbuild/$key"
	if [ -e "$kd/built" ]; then
		log "kernel $key ($FLAVOUR) is cached"
		return 0
	fi
	mkdir -p "$ROOT/kbuild"
	# An interrupted build whose configuration passed the check resumes where it stopped
	# (the debug kernel takes over an hour here) instead of starting again from the tarball.
	if [ -e "$kd/linux/.config" ] && grep -q 'building bzImage and modules' "$CACHE/kernel-$key.log" 2>/dev/null; then
		kernel_resume "$key" && return 0
		log "resume failed, building from scratch"
	fi
	in_root /bin/bash /src/kernel/build-kernel.sh "/kbuild/$key" "$FLAVOUR" "$KMAJOR" \
		2>&1 | tee "$CACHE/kernel-$key.log" | grep --line-buffered -E '^(\[|error|ERROR|make.*Error)' || true
	# A cold parallel build here once stopped in modpost with every vmlinux symbol
	# "undefined" for one module, and a plain re-run of make finished it: resume once.
	if [ ! -e "$kd/built" ] && grep -q 'building bzImage and modules' "$CACHE/kernel-$key.log"; then
		log "the kernel build stopped (log: $CACHE/kernel-$key.log); running make once more"
		kernel_resume "$key" || true
	fi
	[ -e "$kd/built" ] || die "kernel build failed (log: $CACHE/kernel-$key.log)"
	# Keep only the newest few kernel builds.
	ls -1dt "$ROOT"/kbuild/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
}

mkdir -p "$CACHE"
step "host packages" host_packages
step "build root ($ROOT)" build_root
step "kernel source (linux-source-$KMAJOR)" kernel_source
step "kernel ($FLAVOUR)" kernel_build
