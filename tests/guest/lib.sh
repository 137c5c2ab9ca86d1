# shellcheck shell=bash
# Helpers of the in-guest tests: driver control, namespaces, dmesg checks,
# file systems. Sourced by tests/guest/run.sh and by every tests/guest/cases/*.sh.
#
# Environment: DRIVER=rust|c (default c), RUST_PMEM_KO (default /src/rust_pmem.ko),
# TOOLS_DIR (default /src/build/tools), MNT_BASE (default /tmp/rust_pmem_mnt),
# KERNEL_FLAVOUR=base|debug (default base; see reps).

DRIVER=${DRIVER:-c}
# The kind of pmem the VM has: memmap (two e820 namespaces from memmap=), nvdimm
# (two QEMU NVDIMMs behind ACPI NFIT; the runner makes an fsdax namespace on each) or
# virtio (two virtio-pmem devices: asynchronous regions, one raw namespace each; like
# memmap a bus without commands, so poison is cleared by the store).
PMEM=${PMEM:-memmap}
# nvdimm: the nd devices the driver binds for pmem0 and pmem1 ("DEVICE DISK" lines).
LAYOUT_FILE=/tmp/rust_pmem_layout
RUST_PMEM_KO=${RUST_PMEM_KO:-/src/rust_pmem.ko}
TOOLS_DIR=${TOOLS_DIR:-/src/build/tools}
MNT_BASE=${MNT_BASE:-/tmp/rust_pmem_mnt}
POLL_TIMEOUT=${POLL_TIMEOUT:-30}
ND_SYS=/sys/bus/nd
MiB=$((1024 * 1024))

# ---------------------------------------------------------------- reporting
# A case prints plain lines; the runner prefixes them with "# ".

log() { printf '%s\n' "$*"; }

# fail MSG: end the test as failed.
fail() {
	log "FAIL: $*"
	exit 1
}

# skip REASON: end the test as skipped (the runner reads the last SKIP: line).
skip() {
	log "SKIP: $*"
	exit 4
}

# expect_eq WHAT EXPECTED GOT: print "expected ..." and return 1 on a mismatch.
expect_eq() {
	if [ "$2" != "$3" ]; then
		log "expected $1 = '$2' got '$3'"
		return 1
	fi
}

# on_exit CMD: run CMD when the test ends, also when the runner's timeout
# sends SIGTERM.
on_exit() {
	trap "$1" EXIT
	trap 'exit 143' TERM INT
}

# kernel_option NAME: y, m or n for CONFIG_NAME of the running kernel (from
# /proc/config.gz or /boot/config-RELEASE), "unknown" when neither is there.
kernel_option() {
	local c v
	if [ -r /proc/config.gz ]; then
		c=$(zcat /proc/config.gz)
	elif [ -r "/boot/config-$(uname -r)" ]; then
		c=$(cat "/boot/config-$(uname -r)")
	else
		echo unknown
		return
	fi
	v=$(printf '%s\n' "$c" | sed -n "s/^CONFIG_$1=//p")
	echo "${v:-n}"
}

# ---------------------------------------------------------------- tools

pmemio() { "$TOOLS_DIR/pmemio" "$@"; }
dax_mmap() { "$TOOLS_DIR/dax_mmap" "$@"; }
statx_dax() { "$TOOLS_DIR/statx_dax" "$@"; }
sysfs_write() { "$TOOLS_DIR/sysfs_write" "$@"; }

# require_tools: fail (not skip) if the helper programs were not built.
require_tools() {
	local t
	for t in pmemio dax_mmap statx_dax sysfs_write; do
		[ -x "$TOOLS_DIR/$t" ] ||
			fail "$TOOLS_DIR/$t missing (make -C tests/tools OUT=$TOOLS_DIR)"
	done
}

# must CMD...: run a command quietly; on failure print it with its output and
# fail the test. Use it as a statement, never inside $(...).
must() {
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	[ $rc -eq 0 ] || fail "'$*' exited $rc: $out"
}

# must_err ENAME CMD...: the tool must report "err ENAME" (a statement too).
must_err() {
	local want=$1 out
	shift
	out=$("$@" 2>&1)
	case $out in
	"err $want "* | "err $want") return 0 ;;
	esac
	fail "expected $want from '$*' got '$out'"
}

# random_seed: a random 45-bit number (bash only: no fork).
random_seed() { echo $(((RANDOM << 30) | (RANDOM << 15) | RANDOM)); }

# reps BASE DEBUG: how many rounds a repetitive case runs: BASE, or DEBUG on the debug
# kernel (vm.sh's KERNEL_FLAVOUR=debug). Under TCG a round costs about 8 times as much
# there (KASAN, lockdep, kmemleak), and the run is for the checkers, which see every
# path in a few rounds; the base kernel's runs keep the full count.
reps() { if [ "${KERNEL_FLAVOUR:-base}" = debug ]; then echo "$2"; else echo "$1"; fi; }

# ---------------------------------------------------------------- polling

# wait_until TIMEOUT CMD...: poll CMD every 50 ms until it succeeds.
wait_until() {
	local t=$1 end
	shift
	end=$(($(date +%s%N) + t * 1000000000))
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# ---------------------------------------------------------------- processes

# children PID: the child processes of PID (no CONFIG_PROC_CHILDREN: from /proc/*/stat).
children() {
	local parent=$1 f l
	for f in /proc/[0-9]*/stat; do
		read -r l 2>/dev/null <"$f" || continue
		l=${l##*) }
		# shellcheck disable=SC2086
		set -- $l
		[ "${2:-}" = "$parent" ] && echo "${f//[!0-9]/}"
	done
}

# kill_tree PID: end PID and its descendants.
kill_tree() {
	local c
	for c in $(children "$1"); do kill_tree "$c"; done
	kill "$1" 2>/dev/null
}

# ---------------------------------------------------------------- driver

drv_name() {
	case $DRIVER in
	rust) echo rust_pmem ;;
	c) echo nd_pmem ;;
	*) echo "unknown DRIVER=$DRIVER" >&2; return 1 ;;
	esac
}

drv_loaded() { [ -d "/sys/module/$(drv_name)" ] && [ -d "$ND_SYS/drivers/$(drv_name)" ]; }

# drv_load: load the driver (no-op if loaded); does not wait for devices.
drv_load() {
	local out
	drv_loaded && return 0
	case $DRIVER in
	rust)
		[ -f "$RUST_PMEM_KO" ] || { log "no module file $RUST_PMEM_KO"; return 1; }
		# insmod loads no dependencies (libnvdimm, nd_btt): modprobe them first.
		local deps
		deps=$(modinfo -F depends "$RUST_PMEM_KO" 2>/dev/null | tr ',' ' ')
		if [ -n "$deps" ]; then
			# shellcheck disable=SC2086
			out=$(modprobe -a $deps 2>&1) || { log "modprobe $deps: $out"; return 1; }
		fi
		out=$(insmod "$RUST_PMEM_KO" 2>&1) || { log "insmod $RUST_PMEM_KO: $out"; return 1; }
		;;
	c)
		out=$(modprobe nd_pmem 2>&1) || { log "modprobe nd_pmem: $out"; return 1; }
		;;
	*) log "unknown DRIVER=$DRIVER"; return 1 ;;
	esac
	wait_until 10 drv_loaded || { log "driver $(drv_name) did not register"; return 1; }
}

# drv_unload: rmmod the driver and wait until its devices are gone. rmmod is
# retried for a while: udev may hold a device open for a moment.
drv_unload() {
	local name out end
	name=$(drv_name) || return 1
	[ -d "/sys/module/$name" ] || return 0
	end=$(($(date +%s) + 10))
	until out=$(rmmod "$name" 2>&1); do
		if [ "$(date +%s)" -ge "$end" ]; then
			log "rmmod $name: $out"
			return 1
		fi
		sleep 0.1
	done
	wait_until 10 no_pmem_devices || { log "after rmmod $name: $(pmem_leftovers)"; return 1; }
}

# drv_reload: unload, load and wait for both pmem devices.
drv_reload() { drv_unload && drv_load && wait_pmem_devices; }

# ---------------------------------------------------------------- devices

PMEM_DEVS=(pmem0 pmem1)

dev_present() { [ -b "/dev/$1" ] && [ -e "/sys/block/$1" ]; }
dev_absent() { [ ! -e "/dev/$1" ] && [ ! -e "/sys/block/$1" ]; }

pmem_devices_present() {
	local d
	for d in "${PMEM_DEVS[@]}"; do dev_present "$d" || return 1; done
}

pmem_leftovers() {
	local l
	l=$(ls -d /dev/pmem* /sys/block/pmem* 2>/dev/null | tr '\n' ' ')
	echo "${l:-none}"
}

no_pmem_devices() { [ "$(pmem_leftovers)" = none ]; }

wait_pmem_devices() {
	wait_until "$POLL_TIMEOUT" pmem_devices_present && return 0
	log "pmem devices did not appear; present: $(pmem_leftovers)"
	return 1
}

# dev_size DEV: size in bytes of /dev/DEV.
dev_size() { blockdev --getsize64 "/dev/$1"; }

# ---------------------------------------------------------------- namespaces

# ns_list: the nd devices the driver binds for pmem0 and pmem1: on memmap the
# namespaces (namespaceX.Y), on nvdimm the pfn devices of the runner's fsdax namespaces.
ns_list() {
	if [ "$PMEM" = nvdimm ]; then
		awk '{ print $1 }' "$LAYOUT_FILE" 2>/dev/null
	else
		ls "$ND_SYS/devices" 2>/dev/null | grep '^namespace' | sort -V
	fi
}

# ns_driver NS: name of the driver bound to NS, empty if none.
ns_driver() {
	local l
	l=$(readlink "$ND_SYS/devices/$1/driver" 2>/dev/null) || return 0
	basename "$l"
}

# ns_dev NS: block device name of NS (pmemX for namespaceX.0).
ns_dev() {
	local b
	for b in "$ND_SYS/devices/$1"/block/*; do
		[ -e "$b" ] && { basename "$b"; return; }
	done
	local known
	known=$(awk -v d="$1" '$1 == d { print $2 }' "$LAYOUT_FILE" 2>/dev/null)
	[ -n "$known" ] && { echo "$known"; return; }
	local ns=$1 id
	# A claim device (pfnX.Y, bttX.Y, daxX.Y) serves the disk of its namespace.
	[[ $ns == namespace* ]] || ns=$(cat "$ND_SYS/devices/$1/namespace" 2>/dev/null)
	id=${ns#namespace}
	if [ "${id#*.}" = 0 ]; then echo "pmem${id%%.*}"; else echo "pmem$id"; fi
}

# ---------------------------------------------------------------- NFIT (PMEM=nvdimm)

# nv_regions: the pmem regions of the ACPI NFIT bus, sorted.
nv_regions() {
	local r
	for r in $(ls "$ND_SYS/devices" 2>/dev/null | grep '^region' | sort -V); do
		case $(cat "$ND_SYS/devices/$r/nstype" 2>/dev/null) in 4 | 5) ;; *) continue ;; esac # NAMESPACE_IO before labels, PMEM after
		readlink -f "$ND_SYS/devices/$r" | grep -q ACPI0012 && echo "$r"
	done
}

# nv_ndctl ARGS...: ndctl with its output kept for a failure message.
nv_ndctl() {
	local out
	out=$(ndctl "$@" 2>&1) || { log "ndctl $*: $out" >&2; return 1; }
	printf '%s\n' "$out"
}

# nv_json_field FIELD: the first "FIELD":value of ndctl's JSON on stdin.
nv_json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d.get(sys.argv[1],""))' "$1"; }

# nv_create REGION MODE SIZE [ARGS...]: ndctl create-namespace; prints the namespace name.
nv_create() {
	local r=$1 m=$2 sz=$3 out
	shift 3
	out=$(nv_ndctl create-namespace -r "$r" -m "$m" -s "$sz" "$@") || return 1
	printf '%s' "$out" | nv_json_field dev
}

# nv_destroy NS: disable and destroy a namespace (and its claim).
nv_destroy() { nv_ndctl destroy-namespace -f "$1" >/dev/null; }

# nv_claim NS: the device claiming NS (pfnX.Y, bttX.Y, daxX.Y), or NS itself.
nv_claim() {
	local h
	h=$(cat "$ND_SYS/devices/$1/holder" 2>/dev/null)
	echo "${h:-$1}"
}

# nv_layout: the runner's NFIT layout: labels initialised, an fsdax namespace of
# NV_SIZE on each of the first two regions, their pfn devices and disks recorded in
# LAYOUT_FILE. Keeps an existing layout whose namespaces are still there.
NV_SIZE=${NV_SIZE:-512M}
nv_layout() {
	local regions r ns claim
	if [ -s "$LAYOUT_FILE" ]; then
		local ok=1 d
		for d in $(awk '{ print $1 }' "$LAYOUT_FILE"); do [ -e "$ND_SYS/devices/$d" ] || ok=0; done
		[ $ok = 1 ] && return 0
		rm -f "$LAYOUT_FILE"
	fi
	mapfile -t regions < <(nv_regions)
	[ "${#regions[@]}" -ge 2 ] || { log "expected 2 NFIT pmem regions, found: ${regions[*]:-none}"; return 1; }
	nv_ndctl destroy-namespace -f all >/dev/null 2>&1
	nv_ndctl disable-region all >/dev/null || return 1
	nv_ndctl init-labels -f all >/dev/null || return 1
	nv_ndctl enable-region all >/dev/null || return 1
	: >"$LAYOUT_FILE.new"
	for r in "${regions[@]:0:2}"; do
		ns=$(nv_create "$r" fsdax "$NV_SIZE") || return 1
		claim=$(nv_claim "$ns")
		echo "$claim $(basename "$(ls -d "$ND_SYS/devices/$claim"/block/* 2>/dev/null | head -n 1)")" >>"$LAYOUT_FILE.new"
	done
	mv "$LAYOUT_FILE.new" "$LAYOUT_FILE"
}

# nv_test_start: the start of an NFIT test: skip unless PMEM=nvdimm; when the test
# ends, unmount what is mounted from pmem and destroy the namespace named in $NS.
nv_test_start() {
	[ "$PMEM" = nvdimm ] || skip "needs an ACPI NFIT bus (PMEM=nvdimm): ndctl namespaces"
	NS=
	on_exit nv_test_cleanup
}
nv_test_cleanup() {
	cleanup_mounts
	[ -n "${NS:-}" ] && nv_destroy "$NS"
}

# devdax_io write|verify CHARDEV OFF LEN SEED: store or compare random bytes of SEED
# through an mmap(MAP_SHARED) of CHARDEV at OFF (OFF and LEN 2 MiB aligned).
devdax_io() {
	python3 - "$@" <<'PY'
import mmap, os, random, sys
op, path, off, ln, seed = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
data = random.Random(seed).getrandbits(ln * 8).to_bytes(ln, "little")
wr = op == "write"
fd = os.open(path, os.O_RDWR if wr else os.O_RDONLY)
m = mmap.mmap(fd, ln, mmap.MAP_SHARED, mmap.PROT_READ | (mmap.PROT_WRITE if wr else 0), offset=off)
if wr:
    m[:] = data
else:
    got = m[:]
    if got != data:
        i = next(i for i in range(ln) if got[i] != data[i])
        print(f"mismatch at offset {off + i}: expected {data[i]:#x} got {got[i]:#x}")
        sys.exit(2)
m.close()
os.close(fd)
print("ok", ln)
PY
}

# ns_region NS: the region that holds NS.
ns_region() { basename "$(readlink -f "$ND_SYS/devices/$1/..")"; }

# dev_ns DEV: namespace of block device DEV.
dev_ns() {
	local l
	if l=$(readlink "/sys/block/$1/device" 2>/dev/null); then
		basename "$l"
	else
		echo "namespace${1#pmem}.0"
	fi
}

ns_bound() { [ "$(ns_driver "$1")" = "$(drv_name)" ] && dev_present "$(ns_dev "$1")"; }
ns_unbound() { [ -z "$(ns_driver "$1")" ] && dev_absent "$(ns_dev "$1")"; }

# ns_unbind NS: unbind NS from the driver and wait for its device to go away.
ns_unbind() {
	local ns=$1 dev out
	dev=$(ns_dev "$ns")
	out=$( { echo "$ns" >"$ND_SYS/drivers/$(drv_name)/unbind"; } 2>&1) ||
		{ log "unbind $ns: $out"; return 1; }
	wait_until "$POLL_TIMEOUT" ns_unbound "$ns" ||
		{ log "$ns still bound to '$(ns_driver "$ns")' or /dev/$dev present after unbind"; return 1; }
}

# ns_bind NS: bind NS to the driver and wait for its device.
ns_bind() {
	local ns=$1 out
	out=$( { echo "$ns" >"$ND_SYS/drivers/$(drv_name)/bind"; } 2>&1) ||
		{ log "bind $ns: $out"; return 1; }
	wait_until "$POLL_TIMEOUT" ns_bound "$ns" ||
		{ log "$ns: driver '$(ns_driver "$ns")', /dev/$(ns_dev "$ns") not present after bind"; return 1; }
}

ns_rebind() { ns_unbind "$1" && ns_bind "$1"; }

# ---------------------------------------------------------------- dmesg

MARK_PREFIX="rust_pmem_test:"

# kmsg_mark TAG: put a marker line into the kernel log and print its text.
kmsg_mark() {
	local m="$MARK_PREFIX mark $$.$RANDOM.$(date +%s%N) $1"
	echo "$m" >/dev/kmsg
	echo "$m"
}

# dmesg_since MARK: kernel log lines after the marker (all lines if the
# marker has already left the ring buffer), without timestamps.
dmesg_since() {
	dmesg | sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' |
		awk -v m="$1" '
			{ line[NR] = $0 }
			index($0, m) { start = NR }
			END { for (i = start + 1; i <= NR; i++) print line[i] }'
}

# dmesg_bad_lines: filter stdin to the lines that report a kernel problem.
dmesg_bad_lines() {
	local drv
	drv=$(drv_name)
	grep -v -F "$MARK_PREFIX" |
		grep -E -e 'WARNING:|BUG:|kernel BUG|Oops|general protection|KASAN|UBSAN|Call Trace:' \
			-e 'blocked for more than|rcu: .*stall|list_(add|del) corruption|refcount_t:|Kernel panic' \
			-e "kmemleak.*($drv|pmem)"
}

# dmesg_drop_alloc_traces: filter stdin, dropping the "Call Trace:" line of the
# kernel's allocation failure reports (warn_alloc's "page allocation failure",
# "vmalloc error", percpu's "allocation failed"). Only for a case that injects
# allocation failures on purpose (a "# dmesg: allocation failures" line in its header):
# the report is then the expected effect, and its stack dump no kernel problem. Any
# other line still counts.
dmesg_drop_alloc_traces() {
	awk '
		/page allocation failure|vmalloc error|percpu: allocation failed|allocation failed, size=/ { at = NR }
		/Call Trace:/ && at && NR - at <= 8 { next }
		{ print }'
}

# kmemleak_check: if kmemleak is available, scan and fail on reports whose
# backtrace names the driver. Returns 0 if clean or not available.
kmemleak_check() {
	local f=/sys/kernel/debug/kmemleak drv report
	[ -w "$f" ] || { log "kmemleak not available"; return 0; }
	drv=$(drv_name)
	echo scan >"$f"
	report=$(cat "$f")
	if printf '%s\n' "$report" | grep -q -E "\b$drv\b|\[$drv\]"; then
		log "kmemleak reports naming $drv:"
		printf '%s\n' "$report" | sed 's/^/    /'
		return 1
	fi
	log "kmemleak: no report names $drv"
}

# ---------------------------------------------------------------- regions

# region_set_ro REGION 0|1
region_set_ro() { echo "$2" >"$ND_SYS/devices/$1/read_only"; }
region_ro() { cat "$ND_SYS/devices/$1/read_only"; }

# ---------------------------------------------------------------- file systems

# fs_mkfs FS DEV [XFS -m options]: make an ext4 (4 KiB blocks, DAX-able) or
# xfs (reflink=0, plus extra -m options) file system on /dev/DEV.
fs_mkfs() {
	local fs=$1 dev=$2 mopts=${3:-reflink=0} out
	case $fs in
	ext4) out=$(mkfs.ext4 -q -F -b 4096 "/dev/$dev" 2>&1) ;;
	xfs) out=$(mkfs.xfs -q -f -m "$mopts" "/dev/$dev" 2>&1) ;;
	*) log "unknown file system $fs"; return 1 ;;
	esac || { log "mkfs.$fs /dev/$dev: $out"; return 1; }
}

# fs_mount DEV MNT OPTS
fs_mount() {
	local out
	mkdir -p "$2" || return 1
	out=$(mount -o "$3" "/dev/$1" "$2" 2>&1) ||
		{ log "mount -o $3 /dev/$1 $2: $out"; dmesg | tail -n 5 | sed 's/^/    /'; return 1; }
}

# is_mounted MNT: MNT is in /proc/mounts (mountpoint(1) may fail with EIO on
# a file system that lost its device).
is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

# fs_umount MNT
fs_umount() {
	local out
	is_mounted "$1" || return 0
	out=$(umount "$1" 2>&1) || { log "umount $1: $out"; return 1; }
}

# mnt_opts MNT: the options of the mount at MNT in /proc/mounts.
mnt_opts() { awk -v m="$1" '$2 == m { o = $4 } END { print o }' /proc/mounts; }

# mnt_is_dax MNT: the mount shows dax=always (or plain dax).
mnt_is_dax() { mnt_opts "$1" | tr ',' '\n' | grep -qxE 'dax(=always)?'; }

# cleanup_mounts: unmount everything mounted from a pmem device.
cleanup_mounts() {
	local m
	for m in $(awk '$1 ~ "^/dev/pmem" { print $2 }' /proc/mounts | sort -r); do
		log "unmounting $m"
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
			log "cannot unmount $m"
	done
}

# file_is_dax FILE: statx reports STATX_ATTR_DAX.
file_is_dax() {
	local out
	out=$(statx_dax "$1" 2>&1) && return 0
	log "statx $1: $out"
	return 1
}

# dax_mount DEV MNT: mount -o dax and check that the mount shows dax=always.
dax_mount() {
	fs_mount "$1" "$2" dax || return 1
	mnt_is_dax "$2" && return 0
	log "mount -o dax of /dev/$1 at $2 shows '$(mnt_opts "$2")', no dax=always"
	return 1
}

# dax_fs_setup FS DEV MNT [XFS -m options]: mkfs and mount -o dax.
dax_fs_setup() {
	fs_mkfs "$1" "$2" "${4:-reflink=0}" && dax_mount "$2" "$3"
}

# dax_remount DEV MNT: umount and mount -o dax again.
dax_remount() { fs_umount "$2" && dax_mount "$1" "$2"; }

# ---------------------------------------------------------------- fio

# fio_check BYTES_PER_JOB FIO_ARGS...: run fio with JSON output; fail unless
# fio exits 0 and every job reports no error, wrote BYTES_PER_JOB and read
# them back for verification.
fio_check() {
	local bytes=$1 out rc
	shift
	out=$(mktemp /tmp/fio.XXXXXX)
	# verify_state_save=0: no *-verify.state files left in the cwd
	fio --output-format=json --output="$out" --verify_state_save=0 "$@" >"$out.err" 2>&1
	rc=$?
	python3 - "$out" "$bytes" "$rc" "$out.err" <<'PY'
import json, sys
path, want, rc, errpath = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def show_raw():
    for p in (errpath, path):
        txt = open(p, errors="replace").read().strip()
        if txt:
            print("\n".join("    " + l for l in txt.splitlines()[-30:]))
try:
    text = open(path).read()
    data = json.loads(text[text.index("{"):])
except Exception as e:
    print(f"fio exit {rc}, no JSON result ({e})")
    show_raw()
    sys.exit(1)
bad = rc != 0
if rc:
    print(f"fio exited {rc}")
for j in data.get("jobs", []):
    w, r = j["write"]["io_bytes"], j["read"]["io_bytes"]
    print(f"job {j['jobname']}: error={j['error']} written={w} verified(read)={r}")
    if j["error"] or w < want or r < want:
        print(f"  expected error=0, written>={want}, read>={want}")
        bad = True
if not data.get("jobs"):
    print("no jobs in fio output")
    bad = True
if bad:
    show_raw()
sys.exit(1 if bad else 0)
PY
	rc=$?
	rm -f "$out" "$out.err"
	return $rc
}

# ---------------------------------------------------------------- DAX tests

# dax_mount_test FS: body of ext4_dax_mount and xfs_dax_mount.
dax_mount_test() {
	local fs=$1 mnt="$MNT_BASE/$1_dax_mount" seed
	seed=$(random_seed)
	on_exit cleanup_mounts
	dax_fs_setup "$fs" pmem0 "$mnt" || fail "$fs -o dax mount failed"
	log "$fs on /dev/pmem0: $(mnt_opts "$mnt")"
	must pmemio write "$mnt/a" 0 $((MiB + 512)) "$seed" creat fsync
	must dax_mmap write "$mnt/b" 4096 $((64 * 1024)) "$seed"
	file_is_dax "$mnt/a" || fail "$mnt/a: no STATX_ATTR_DAX"
	file_is_dax "$mnt/b" || fail "$mnt/b: no STATX_ATTR_DAX"
	dax_remount pmem0 "$mnt" || fail "remount failed"
	must pmemio verify "$mnt/a" 0 $((MiB + 512)) "$seed"
	must pmemio verify "$mnt/b" 4096 $((64 * 1024)) "$seed"
	must pmemio zero "$mnt/b" 0 4096
	file_is_dax "$mnt/a" || fail "$mnt/a: no STATX_ATTR_DAX after remount"
	log "data intact after umount/mount, files are DAX"
	fs_umount "$mnt" || fail "umount failed"
}

# ---------------------------------------------------------------- poison
# Helpers of the poison tests (cases/badblocks_*, latent_*, dax_*poison*...).
# Sectors are 512-byte disk sectors of /dev/DEV.

SECTOR_SIZE=512
RUST_PMEM_DBG=/sys/kernel/debug/rust_pmem
KPROBE_TRACEFS=

poison() { "$TOOLS_DIR/poison" "$@"; }

# require_poison_tools: require_tools plus the poison helper.
require_poison_tools() {
	require_tools
	[ -x "$TOOLS_DIR/poison" ] || fail "$TOOLS_DIR/poison missing (make -C tests/tools OUT=$TOOLS_DIR)"
}

# bb_list DEV: the badblocks lines of DEV ("SECTOR LEN"), one per line.
bb_list() { cat "/sys/block/$1/badblocks"; }

# bb_show DEV: the badblocks of DEV on one line, "none" if empty.
bb_show() {
	local l
	l=$(bb_list "$1" | tr '\n' ',' | sed 's/,$//')
	echo "${l:-none}"
}

# bb_add DEV SECTOR LEN: record a bad range through sysfs (fails the test if refused).
bb_add() { must sysfs_write "/sys/block/$1/badblocks" "$2 $3"; }

# expect_bb DEV EXPECTED: the badblocks of DEV, on one line (see bb_show), are EXPECTED.
expect_bb() {
	expect_eq "badblocks of $1" "$2" "$(bb_show "$1")"
}

# rust_dbg DEV: rust_pmem's debugfs directory of DEV.
rust_dbg() { echo "$RUST_PMEM_DBG/$1"; }

# counter DEV NAME: a rust_pmem poison counter of DEV.
counter() {
	local v
	v=$(awk -v n="$2" '$1 == n { print $2 }' "$(rust_dbg "$1")/counters" 2>/dev/null)
	echo "${v:-missing}"
}

# counters_line DEV: all counters of DEV on one line.
counters_line() { tr '\n' ' ' <"$(rust_dbg "$1")/counters"; }

# expect_counter DEV NAME EXPECTED: also returns 1 when the counter is missing.
expect_counter() {
	local got
	got=$(counter "$1" "$2")
	[[ $got =~ ^[0-9]+$ ]] || { log "counter $2 of $1 missing: $(counters_line "$1" 2>&1)"; return 1; }
	expect_eq "counter $2 of $1" "$3" "$got"
}

# require_counters DEV: on rust, fail unless DEV's counters file lists every counter
# the tests read (an empty or old file must not make "before" equal "after").
require_counters() {
	local n
	[ "$DRIVER" = rust ] || return 0
	require_rust_debugfs "$1"
	for n in machine_checks ranges_recorded cleared_legacy cleared_dsm cleared_movdir64b \
		recovery_writes failed_clears simulated_failures flushes fua; do
		[[ $(counter "$1" $n) =~ ^[0-9]+$ ]] ||
			fail "counter $n missing in $(rust_dbg "$1")/counters: $(counters_line "$1" 2>&1)"
	done
}

# require_rust_debugfs DEV: on rust, fail unless the debugfs directory of DEV
# has the backend and counters files.
require_rust_debugfs() {
	local d
	d=$(rust_dbg "$1")
	[ -r "$d/backend" ] && [ -r "$d/counters" ] ||
		fail "no rust_pmem debugfs files in $d ($(ls "$d" 2>&1 | tr '\n' ' '))"
}

# has_latent DEV: rust_pmem was built with latent poison injection (RUST_PMEM_TEST=1).
has_latent() { [ -e "$(rust_dbg "$1")/inject_poison" ]; }

# udev_settle: wait for udev's work to finish. After a write to /dev/pmemN is
# closed, udev probes the device (blkid reads its start and end); a probe that
# runs into latent poison takes a machine check of its own and records it.
udev_settle() {
	command -v udevadm >/dev/null 2>&1 || return 0
	udevadm settle -t 10 >/dev/null 2>&1 || true
}

# latent_inject DEV SECTOR LEN / latent_clear DEV SECTOR LEN (fail the test if refused).
# Injection waits for udev first (see udev_settle); keep latent poison away from
# the first and last MiB of the device, which udev's probes read.
latent_inject() {
	udev_settle
	must sysfs_write "$(rust_dbg "$1")/inject_poison" "$2 $3"
}
latent_clear() { must sysfs_write "$(rust_dbg "$1")/clear_poison" "$2 $3"; }

# dev_sectors DEV: size of DEV in sectors.
dev_sectors() { echo $(($(dev_size "$1") / SECTOR_SIZE)); }

# zero_sectors DEV SECTOR NR: write zeroes over SECTOR..SECTOR+NR-1 with O_DIRECT.
zero_sectors() {
	dd if=/dev/zero of="/dev/$1" bs=$SECTOR_SIZE seek="$2" count="$3" oflag=direct \
		conv=notrunc status=none
}

# poison_scrub DEV...: remove all poison of the devices: latent poison (rust test
# build) and every recorded bad range (overwritten with zeroes, which clears it on
# both drivers). Prints what it did; returns 1 if records stay.
poison_scrub() {
	local d s n rc=0
	for d in "$@"; do
		dev_present "$d" || continue
		if [ "$DRIVER" = rust ] && has_latent "$d"; then
			sysfs_write "$(rust_dbg "$d")/clear_poison" "0 $(dev_sectors "$d")" >/dev/null ||
				{ log "cannot clear latent poison of $d"; rc=1; }
		fi
		[ -n "$(bb_list "$d")" ] || continue
		log "scrubbing badblocks of $d: $(bb_show "$d")"
		while read -r s n; do
			zero_sectors "$d" "$s" "$n" || log "zeroing $d sectors $s+$n failed"
		done < <(bb_list "$d")
		if [ -n "$(bb_list "$d")" ]; then
			log "badblocks of $d after scrubbing: $(bb_show "$d")"
			rc=1
		fi
	done
	return $rc
}

# poison_cleanup: the on_exit handler of the poison tests: remove kprobes left by
# kprobe_count_start, unmount, scrub both devices.
poison_cleanup() {
	local e
	if [ -n "$KPROBE_TRACEFS" ]; then
		for e in $(sed -n 's/^p:kprobes\/\(rpt_[^ ]*\) .*/\1/p' "$KPROBE_TRACEFS/kprobe_events" 2>/dev/null); do
			kprobe_count_stop "$e"
		done
	fi
	cleanup_mounts
	poison_scrub "${PMEM_DEVS[@]}"
}

# poison_start DEV...: the start of a poison test: no recorded or latent poison
# (left by an earlier test) on the devices.
poison_start() {
	local d
	poison_scrub "$@" >/dev/null
	for d in "$@"; do
		[ -z "$(bb_list "$d")" ] || fail "$d has badblocks that cannot be scrubbed: $(bb_show "$d")"
	done
}

# file_sector FILE OFF: the disk sector holding byte OFF of FILE (fails the test).
file_sector() {
	local out
	out=$(poison sector "$@" 2>&1) || { log "poison sector $*: $out" >&2; return 1; }
	echo "$out"
}

# tracefs_dir: where tracefs is mounted (mounting it on /sys/kernel/tracing if it is
# not); returns 1 without tracefs.
tracefs_dir() {
	local t
	for t in /sys/kernel/tracing /sys/kernel/debug/tracing; do
		[ -e "$t/trace" ] && { echo "$t"; return 0; }
	done
	mkdir -p /sys/kernel/tracing 2>/dev/null
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	[ -e /sys/kernel/tracing/trace ] && echo /sys/kernel/tracing
}

# kprobe_count_start NAME SYMBOL [FETCHARGS]: count calls of SYMBOL with a kprobe
# event (tracefs); returns 1 (and prints why) if kprobes cannot be used.
kprobe_count_start() {
	KPROBE_TRACEFS=$(tracefs_dir) && [ -w "$KPROBE_TRACEFS/kprobe_events" ] ||
		{ KPROBE_TRACEFS=; log "no tracefs kprobe_events"; return 1; }
	echo "-:$1" >>"$KPROBE_TRACEFS/kprobe_events" 2>/dev/null
	echo "p:$1 $2 ${3:-}" >>"$KPROBE_TRACEFS/kprobe_events" 2>/dev/null ||
		{ log "cannot add a kprobe on $2"; return 1; }
	echo 1 >"$KPROBE_TRACEFS/events/kprobes/$1/enable" || return 1
	echo 1 >"$KPROBE_TRACEFS/tracing_on"
	echo >"$KPROBE_TRACEFS/trace"
}

# kprobe_count NAME: calls seen since kprobe_count_start.
kprobe_count() { grep -c " $1:" "$KPROBE_TRACEFS/trace"; }

# kprobe_count_stop NAME
kprobe_count_stop() {
	[ -n "${KPROBE_TRACEFS:-}" ] && [ -e "$KPROBE_TRACEFS/events/kprobes/$1/enable" ] || return 0
	echo 0 >"$KPROBE_TRACEFS/events/kprobes/$1/enable"
	echo "-:$1" >>"$KPROBE_TRACEFS/kprobe_events"
}

# ---------------------------------------------------------------- flushes observed
# A flush on RAM-backed pmem changes nothing a test can read, so flushes are counted
# where they reach the region: a kprobe on nvdimm_flush(), which both drivers call,
# with a null bio for a REQ_PREFLUSH (and at unbind) and with the bio for a REQ_FUA
# write; on virtio-pmem also on virtio_pmem_flush(), the request to the host. On
# rust_pmem the driver's own counters (flushes, fua) must move by the same amounts.
# Without kprobes the case fails: it would otherwise prove nothing.

# flush_watch_start [DEV...]: start counting; on rust_pmem the counters of the disks
# DEV... must account for every flush seen (none given: the kprobes alone, for flushes
# the driver makes itself, as at unbind).
flush_watch_start() {
	flush_watch_stop
	FLUSH_DEVS=("$@")
	kprobe_count_start rpt_flush nvdimm_flush 'bio=%si:x64' ||
		fail "no kprobe on nvdimm_flush: flushes cannot be observed"
	if [ "$PMEM" = virtio ]; then
		kprobe_count_start rpt_vflush virtio_pmem_flush ||
			fail "no kprobe on virtio_pmem_flush: host flushes cannot be observed"
	fi
	FLUSH_C0=
	if [ "$DRIVER" = rust ] && [ $# -gt 0 ]; then
		FLUSH_C0=$(flush_counters) || fail "$FLUSH_C0"
	fi
	echo >"$KPROBE_TRACEFS/trace"
}

# flush_counters: "P F", the sums of rust_pmem's flushes and fua counters of FLUSH_DEVS.
flush_counters() {
	local d p=0 f=0 a b
	for d in "${FLUSH_DEVS[@]}"; do
		a=$(counter "$d" flushes) b=$(counter "$d" fua)
		[[ "$a $b" =~ ^[0-9]+\ [0-9]+$ ]] ||
			{ echo "no flushes/fua counters in $(rust_dbg "$d")/counters: $(counters_line "$d" 2>&1)"; return 1; }
		p=$((p + a)) f=$((f + b))
	done
	echo "$p $f"
}

# flush_watch_take: sets FLUSH_SEEN to "P F": region flushes without a bio (REQ_PREFLUSH)
# and with one (REQ_FUA) since the last start or take, and resets the count. Fails the
# case when rust_pmem's counters disagree, or on virtio when the host saw a different
# number. A statement, never inside $(...).
flush_watch_take() {
	local p f h=0 c1 dp df try
	for try in 1 2; do
		read -r p f < <(awk '/ rpt_flush:/ { if ($NF == "bio=0x0") p++; else f++ }
			END { print p + 0, f + 0 }' "$KPROBE_TRACEFS/trace")
		[ "$PMEM" = virtio ] && h=$(kprobe_count rpt_vflush)
		dp=$p df=$f
		if [ -n "$FLUSH_C0" ]; then
			c1=$(flush_counters) || fail "$c1"
			read -r dp df <<<"$c1"
			dp=$((dp - ${FLUSH_C0% *})) df=$((df - ${FLUSH_C0#* }))
		fi
		# A flush in flight (a journal commit) may be counted by the driver and not
		# yet seen by the probe, or the reverse: look again once it is done.
		[ "$dp $df" = "$p $f" ] && { [ "$PMEM" != virtio ] || [ "$h" -eq $((p + f)) ]; } && break
		sleep 1
	done
	echo >"$KPROBE_TRACEFS/trace"
	[ -n "$FLUSH_C0" ] && FLUSH_C0=$c1
	[ "$dp $df" = "$p $f" ] ||
		fail "rust_pmem counted flushes/fua $dp $df, the region saw $p $f"
	if [ "$PMEM" = virtio ] && [ "$h" -ne $((p + f)) ]; then
		fail "region flushes $p (preflush) + $f (fua), but $h virtio_pmem_flush calls"
	fi
	FLUSH_SEEN="$p $f"
}

# flush_watch_stop
flush_watch_stop() {
	kprobe_count_stop rpt_flush
	[ "$PMEM" = virtio ] && kprobe_count_stop rpt_vflush
	return 0
}

# poison_require_memmap: the poison tests clear poison by writing over it, which
# works on buses without commands (memmap's e820, virtio-pmem); QEMU's NFIT cannot
# clear (backend "none").
poison_require_memmap() {
	[ "${PMEM:-memmap}" != nvdimm ] ||
		skip "clears poison by writing over it: QEMU NFIT has no clear-error command (writes over poison fail EIO there, see nvdimm/poison_backend_selected)"
}

# ---------------------------------------------------------------- fsdax on memmap
# An e820 namespace made fsdax (ndctl create-namespace -f -e NS -m fsdax): its disk,
# same name, is served through a pfn device whose data starts past the info block and
# the struct pages. FSDAX_NS is set while one is converted (the poison cases' exit
# handler makes it raw again).
FSDAX_NS=

# memmap_fsdax NS: make the raw e820 namespace NS fsdax, bound to the driver; sets
# FSDAX_CLAIM (the pfn device) and FSDAX_DATA_OFF (bytes from the namespace's start to
# its data, from sysfs: the pfn device's resource minus the namespace's).
memmap_fsdax() {
	local ns=$1 out mode dev r_pfn r_ns
	udev_settle
	FSDAX_NS=$ns
	out=$(nv_ndctl create-namespace -f -e "$ns" -m fsdax) || { log "ndctl: making $ns fsdax failed"; return 1; }
	mode=$(printf '%s' "$out" | nv_json_field mode)
	dev=$(printf '%s' "$out" | nv_json_field blockdev)
	[ "$mode" = fsdax ] || { log "$ns: mode '$mode' after ndctl -m fsdax: $out"; return 1; }
	FSDAX_CLAIM=$(nv_claim "$ns")
	[[ $FSDAX_CLAIM == pfn* ]] || { log "$ns in fsdax mode is claimed by '$FSDAX_CLAIM'"; return 1; }
	wait_until "$POLL_TIMEOUT" dev_present "$dev" || { log "/dev/$dev did not appear for $FSDAX_CLAIM"; return 1; }
	[ "$(ns_driver "$FSDAX_CLAIM")" = "$(drv_name)" ] ||
		{ log "$FSDAX_CLAIM bound to '$(ns_driver "$FSDAX_CLAIM")'"; return 1; }
	r_pfn=$(cat "$ND_SYS/devices/$FSDAX_CLAIM/resource" 2>/dev/null)
	r_ns=$(cat "$ND_SYS/devices/$ns/resource" 2>/dev/null)
	[[ $r_pfn =~ ^0x[0-9a-f]+$ && $r_ns =~ ^0x[0-9a-f]+$ ]] ||
		{ log "no resource of $FSDAX_CLAIM ($r_pfn) or $ns ($r_ns)"; return 1; }
	FSDAX_DATA_OFF=$((r_pfn - r_ns))
	[ "$FSDAX_DATA_OFF" -gt 0 ] || { log "$FSDAX_CLAIM: data offset $FSDAX_DATA_OFF"; return 1; }
	log "$ns fsdax: /dev/$dev through $FSDAX_CLAIM, $(dev_size "$dev") bytes, data offset $FSDAX_DATA_OFF"
}

# memmap_raw NS: make NS raw and bound to the driver again (its disk its whole size).
memmap_raw() {
	local ns=$1 out
	udev_settle
	out=$(nv_ndctl create-namespace -f -e "$ns" -m raw) || { log "ndctl: making $ns raw failed"; return 1; }
	wait_until "$POLL_TIMEOUT" ns_bound "$ns" ||
		{ log "$ns after ndctl -m raw: driver '$(ns_driver "$ns")', holder '$(nv_claim "$ns")'; ndctl: $out"; return 1; }
	[ "$(nv_claim "$ns")" = "$ns" ] || { log "$ns still claimed by $(nv_claim "$ns")"; return 1; }
	expect_eq "size of /dev/$(ns_dev "$ns")" "$(cat "$ND_SYS/devices/$ns/size")" "$(dev_size "$(ns_dev "$ns")")" || return 1
	FSDAX_NS=
}

# memmap_restore: the exit handlers' part: make FSDAX_NS raw again if a case left it fsdax.
memmap_restore() {
	[ -n "$FSDAX_NS" ] || return 0
	log "making $FSDAX_NS raw again"
	memmap_raw "$FSDAX_NS" || log "could not restore $FSDAX_NS to raw: later cases may find it in fsdax mode"
}

# poison_test_setup DEV...: common start of a poison test: tools, memmap bus,
# rust_pmem's debugfs files (on rust), restore on exit, no poison left over.
poison_test_setup() {
	local d
	require_poison_tools
	poison_require_memmap
	if [ "$DRIVER" = rust ]; then
		for d in "$@"; do require_rust_debugfs "$d"; done
	fi
	on_exit poison_cleanup
	poison_start "$@"
}

# sector_reads DEV SECTOR NR SEED [POS]: O_DIRECT read of NR sectors from SECTOR
# returns the pattern of SEED written at byte POS (default: the sector's own offset).
sector_reads() {
	local out
	out=$(poison devcmp "/dev/$1" "$2" $(($3 * SECTOR_SIZE)) "$4" "${5:-$(($2 * SECTOR_SIZE))}" 2>&1)
	[ "$out" = "ok $(($3 * SECTOR_SIZE))" ] && return 0
	log "read of $1 sectors $2+$3: $out"
	return 1
}

# sector_eio DEV SECTOR NR: an O_DIRECT read of NR sectors from SECTOR fails with EIO.
sector_eio() {
	local out
	out=$(pmemio read "/dev/$1" $(($2 * SECTOR_SIZE)) $(($3 * SECTOR_SIZE)) direct 2>&1)
	case $out in "err EIO "*) return 0 ;; esac
	log "read of $1 sectors $2+$3: expected EIO, got '$out'"
	return 1
}

# write_sectors DEV SECTOR NR SEED: O_DIRECT write of the pattern of SEED.
write_sectors() {
	local out
	out=$(pmemio write "/dev/$1" $(($2 * SECTOR_SIZE)) $(($3 * SECTOR_SIZE)) "$4" direct 2>&1)
	[ "$out" = "ok $(($3 * SECTOR_SIZE))" ] && return 0
	log "write of $1 sectors $2+$3: $out"
	return 1
}
