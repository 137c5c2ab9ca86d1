#!/bin/bash
# Boot the test kernel under QEMU (TCG) with virtme-ng, the build root as the guest's
# root file system and the repository at /src, and run a command in it.
# Usage: scripts/vm.sh [--driver rust|c] [--flavour base|debug] [--timeout S] -- CMD...
# Guest: 3 GiB RAM, 2 CPUs, two 512 MiB memmap= pmem regions above 4 GiB.
. "$(dirname "$0")/lib.sh"

DRIVER=rust FLAVOUR=base TIMEOUT=3000
while [ $# -gt 0 ]; do
	case $1 in
	--driver) DRIVER=$2; shift 2 ;;
	--flavour) FLAVOUR=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--) shift; break ;;
	*) die "unknown option $1" ;;
	esac
done
[ $# -gt 0 ] || die "usage: vm.sh [--driver rust|c] -- CMD..."
KD=$(kdir_in_root "$FLAVOUR")
[ -e "$ROOT$KD/../built" ] || die "no kernel built for $FLAVOUR: run scripts/provision.sh"

append="memmap=512M!4G memmap=512M!4608M"
# Only one driver may own the namespaces: keep nd_pmem away while rust_pmem is tested.
[ "$DRIVER" = rust ] && append+=" module_blacklist=nd_pmem"
cmd=$(printf '%q ' "$@")
guest="export DRIVER=$DRIVER RUST_PMEM_KO=/src/rust_pmem.ko TOOLS_DIR=/src/build/tools; cd /src && $cmd"
in_root timeout --foreground -k 10 "$TIMEOUT" \
	vng --disable-kvm --run "$KD" --cpus 2 --memory 3G --user root --cwd /src \
	--rwdir /src --append "$append" --exec "$guest"
