#!/bin/bash
# Boot the test kernel under QEMU (TCG) with virtme-ng, the build root as the guest's
# root file system and the repository at /src, and run a command in it.
# Usage: scripts/vm.sh [--driver rust|c] [--pmem memmap|nvdimm|virtio|nfit|real]
#                      [--flavour base|debug|debian]
#                      [--timeout S] [--qemu-opts OPTS] -- CMD...
# Guest: 3 GiB RAM, 2 CPUs, and either two 512 MiB memmap= pmem regions above 4 GiB
# (memmap: legacy e820 namespaces), or two 1 GiB QEMU NVDIMMs with 128 KiB label areas
# (nvdimm: ACPI NFIT regions, namespaces made with ndctl), backed by files in the build
# root that are deleted when the VM ends, or two 512 MiB virtio-pmem devices (virtio:
# asynchronous regions, file-backed likewise), or no pmem (nfit: nfit_test's emulation), or
# one big region of each bus (real: 8 GiB RAM, for ndctl's tests).
. "$(dirname "$0")/lib.sh"

DRIVER=rust FLAVOUR=base TIMEOUT= PMEM=memmap extra_opts=
while [ $# -gt 0 ]; do
	case $1 in
	--driver) DRIVER=$2; shift 2 ;;
	--flavour) FLAVOUR=$2; shift 2 ;;
	--pmem) PMEM=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--qemu-opts) extra_opts=$2; shift 2 ;;
	--) shift; break ;;
	*) die "unknown option $1" ;;
	esac
done
[ $# -gt 0 ] || die "usage: vm.sh [--driver rust|c] -- CMD..."
ko_env="RUST_PMEM_KO=/src/build/ko/$FLAVOUR/rust_pmem.ko"
if [ "$FLAVOUR" = debian ]; then
	# Debian's stock kernel, as installed in the build root, with its own modules; the
	# guest gets rust_pmem's production build and, for the cases that inject poison, its
	# test build (RUST_PMEM_TEST_KO).
	KD=/boot/vmlinuz-$(bash "$REPO/scripts/debian-kernel.sh")
	[ -e "$ROOT$KD" ] || die "no $KD in the build root"
	ko_env+=" RUST_PMEM_TEST_KO=/src/build/ko/debian/test/rust_pmem.ko"
else
	KD=$(kdir_in_root "$FLAVOUR")
	[ -e "$ROOT$KD/../built" ] || die "no kernel built for $FLAVOUR: run scripts/provision.sh"
fi

# Removed on exit: what is left of the VM's process group (`timeout` kills only vng, not
# the QEMU it started), its output file, and this VM's NVDIMM backing files.
vm_pid= out= nvdir=
# (set -e is on: a kill that finds no process left must not end the cleanup.)
cleanup() {
	[ -z "$vm_pid" ] || kill -- -"$vm_pid" 2>/dev/null || true
	[ -z "$out" ] || rm -f "$out"
	[ -z "$nvdir" ] || rm -rf "$nvdir"
}
trap cleanup EXIT

opts= memory=3G
case $PMEM in
memmap) append="memmap=512M!4G memmap=512M!4608M" ;;
# ndctl's tests that need real (not nfit_test) pmem (tests/ndctl): a 4 GiB memmap=
# region (e820; device-dax's 1 GiB-aligned pass needs about 3 GiB of it) and a 4 GiB
# NVDIMM with labels (ACPI NFIT; align.sh needs a 1 GiB-aligned region over 3 GiB).
# 8 GiB of RAM: on the pc machine 3 GiB below 4 GiB and 5 GiB from 4 GiB up, of which
# memmap= takes 4-8 GiB; the NVDIMM lands at 9 GiB, 1 GiB-aligned.
real)
	append="memmap=4G!4G" memory=8G
	mkdir -p "$ROOT/var/tmp"
	nvdir=$(mktemp -d "$ROOT/var/tmp/rust_pmem_nv.XXXXXX")
	truncate -s 4098M "$nvdir/nv0.img"
	opts="-machine pc,nvdimm=on -m 8G,slots=2,maxmem=16G"
	opts+=" -object memory-backend-file,id=nvmem0,share=on,mem-path=${nvdir#"$ROOT"}/nv0.img,size=4098M,align=2M"
	opts+=" -device nvdimm,id=nv0,memdev=nvmem0,label-size=128K"
	;;
# nfit_test's emulated buses only: its wrappers hand out memory for made-up physical
# addresses in 4-8 GiB, so no real pmem may live there (tests/ndctl).
nfit) append="" ;;
nvdimm)
	append=""
	# Fresh, zeroed DIMMs every boot (no labels or data survive from an earlier run),
	# in a directory of this VM's own so that VMs can run side by side. QEMU takes the
	# label area from the end of the backend and rounds the rest down to its 2 MiB
	# alignment: 1 GiB + 2 MiB backends give 1 GiB DIMMs, so the second region starts
	# 1 GiB-aligned (ndctl refuses fsdax namespaces off the region's 16 MiB alignment).
	mkdir -p "$ROOT/var/tmp"
	nvdir=$(mktemp -d "$ROOT/var/tmp/rust_pmem_nv.XXXXXX")
	for i in 0 1; do truncate -s 1026M "$nvdir/nv$i.img"; done
	opts="-machine pc,nvdimm=on -m 3G,slots=4,maxmem=8G"
	for i in 0 1; do
		opts+=" -object memory-backend-file,id=nvmem$i,share=on,mem-path=${nvdir#"$ROOT"}/nv$i.img,size=1026M,align=2M"
		opts+=" -device nvdimm,id=nv$i,memdev=nvmem$i,label-size=128K"
	done
	;;
# virtio-pmem: two 512 MiB virtio-pmem-pci devices, each its own nvdimm bus and
# asynchronous region (a flush is a request to the host), file-backed like the NVDIMMs.
virtio)
	append=""
	mkdir -p "$ROOT/var/tmp"
	nvdir=$(mktemp -d "$ROOT/var/tmp/rust_pmem_vp.XXXXXX")
	opts="-m 3G,slots=4,maxmem=8G"
	for i in 0 1; do
		truncate -s 512M "$nvdir/vp$i.img"
		opts+=" -object memory-backend-file,id=vpmem$i,share=on,mem-path=${nvdir#"$ROOT"}/vp$i.img,size=512M"
		opts+=" -device virtio-pmem-pci,memdev=vpmem$i,id=vp$i"
	done
	;;
*) die "--pmem memmap|nvdimm|virtio|nfit|real" ;;
esac
# --qemu-opts: more QEMU options (make bench's ICOUNT=1 passes -icount).
opts+=" $extra_opts"
qemu=()
[ -z "${opts// /}" ] || qemu=("--qemu-opts=$opts")
# Only one driver may own the namespaces: keep nd_pmem away while rust_pmem is tested.
[ "$DRIVER" = rust ] && append+=" modprobe.blacklist=nd_pmem"
# (and rust_pmem away from nd_pmem's: a stock kernel may have it installed by DKMS)
[ "$DRIVER" = c ] && append+=" modprobe.blacklist=rust_pmem"
# The guest's root is the build root over 9p, mounted by virtme-ng without a cache: every
# path lookup and every page of every binary a test runs is a round trip to QEMU. On the
# debug kernel a 9p round trip costs milliseconds. ROOT_CACHE=loose (the debug kernel's
# default) lets the guest cache the root's entries, attributes and data: nothing changes
# it while the VM runs (its writable parts are tmpfs overlays; /src is another mount).
# The kernel keeps the last rootflags=, so this repeats virtme-ng's options and adds cache=.
root_cache=; [ "$FLAVOUR" = debug ] && root_cache=loose
root_cache=${ROOT_CACHE-$root_cache}
[ -z "$root_cache" ] || append+=" rootflags=version=9p2000.L,trans=virtio,access=any,cache=$root_cache"
cmd=$(printf '%q ' "$@")
# The debug kernel (KASAN, lockdep, kmemleak) runs everything several times slower.
scale=1; [ "$FLAVOUR" = debug ] && scale=4
# The whole VM's limit: 50 minutes, 4 times that on the debug kernel.
TIMEOUT=${TIMEOUT:-$((3000 * scale))}
# The guest prints MARK first: it shows that the guest booted and started the command.
MARK="vm.sh: guest command starting"
guest="echo '$MARK'; export DRIVER=$DRIVER PMEM=$PMEM KERNEL_FLAVOUR=$FLAVOUR TIMEOUT_SCALE=$scale $ko_env TOOLS_DIR=/src/build/tools; cd /src && $cmd"
# Start-up watchdog: a guest that has not started the command BOOT_WAIT seconds after
# QEMU started is killed and booted again, up to BOOT_TRIES boots in all. Guests were
# seen to hang in the kernel's early boot under TCG (the printk clock stopped, around the
# clocksource watchdog's first check, QEMU idle), about 3 boots in 10 on a busy 2-core
# host on 2026-12-01, with no sign of what they waited for. A VM that ends before its
# guest started the command is booted again too: on a loaded host, virtme-ng's init was
# seen to give up (udev coldplug outlasting `udevadm settle`, which provision.sh has since
# lengthened) and power the guest off.
# The debug kernel's guest started its command 13-20 minutes after QEMU with an uncached
# root (udev's coldplug alone was queued at 482 s), 10.5 minutes with ROOT_CACHE=loose
# (2026-12-02): it gets 40.
boot_wait=300; [ "$FLAVOUR" = debug ] && boot_wait=2400
BOOT_WAIT=${BOOT_WAIT:-$boot_wait} BOOT_TRIES=${BOOT_TRIES:-3}
out=$(mktemp /tmp/rust_pmem_vm.XXXXXX)
export -f in_root
export ROOT REPO
for try in $(seq "$BOOT_TRIES"); do
	: >"$out"
	# Its own process group (setsid), so that a hung VM can be killed whole. The guest's
	# stdin is /dev/null: virtme-ng would forward the host's stdin to the command.
	setsid bash -c 'in_root "$@"' in_root timeout --foreground -k 10 "$TIMEOUT" \
		vng --disable-kvm --run "$KD" --cpus 2 --memory "$memory" --user root --cwd /src \
		--rwdir /src "--append=$append" "${qemu[@]}" --exec "$guest" </dev/null >"$out" 2>&1 &
	vm_pid=$!
	started=
	for ((t = 0; t < BOOT_WAIT; t++)); do
		grep -q -F "$MARK" "$out" && { started=1; break; }
		kill -0 "$vm_pid" 2>/dev/null || break
		sleep 1
	done
	# The marker may have come just before the VM ended.
	grep -q -F "$MARK" "$out" && break
	if kill -0 "$vm_pid" 2>/dev/null; then
		log "the guest did not start its command within ${BOOT_WAIT}s (boot $try of $BOOT_TRIES): killing it"
		kill -- -"$vm_pid" 2>/dev/null || true
	else
		log "the VM ended before the guest started its command (boot $try of $BOOT_TRIES); its last lines:"
		tail -n 5 "$out" | sed 's/^/    /' >&2
	fi
	wait "$vm_pid" 2>/dev/null || true
	kill -- -"$vm_pid" 2>/dev/null || true
	vm_pid=
	[ "$try" -lt "$BOOT_TRIES" ] || { cat "$out"; die "the guest did not start in $BOOT_TRIES boots"; }
done
# The guest's output (stdout and stderr), as it comes, until the VM ends.
tail -n +1 -f --pid="$vm_pid" "$out"
rc=0
wait "$vm_pid" || rc=$?
# vm_pid stays set: the exit trap kills whatever of its group outlived it.
exit $rc
