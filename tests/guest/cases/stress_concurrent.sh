#!/bin/bash
# Concurrency: I/O with verification on one device while, at the same time, poison
# is planted and cleared next to it, the driver's sysfs and debugfs files are read
# and written, and the other device is unbound and bound over and over.
#
# A device cannot be unbound while it carries the verified I/O, and a raw block
# fio job cannot share a device with a file system, so the run has two phases of
# STRESS_SECONDS/2 each (default 120 s in all), with the devices swapping roles:
#
#   phase 1 (block): pmem0 busy: fio randwrite+verify (O_DIRECT, libaio/io_uring,
#     4k..128k, 2 jobs) on [16 MiB, 144 MiB) of /dev/pmem0, in a loop; poison churn
#     in pmem0's last 128 MiB (minus the last 8 MiB, which udev reads); pmem1 is
#     unbound and bound in a loop.
#   phase 2 (dax): pmem1 busy: ext4 of 320 MiB on it, mounted -o dax, fio
#     randwrite+verify on DAX files (ioengine mmap and psync) in a loop; poison churn
#     in pmem1's last 128 MiB (outside the file system); pmem0 unbound and bound.
#
# In both phases a fourth task toggles /sys/block/BUSY/dax/write_cache (checking the
# value read back) and reads the badblocks of both devices and (DRIVER=rust)
# rust_pmem's debugfs files of both (those of the device being rebound may be absent
# at any moment: errors there are ignored, kernel warnings are not); the counters of
# the busy device may never go down.
# Poison churn, one round: write two pages of a pattern, then either plant a bad range
# in them through /sys/block/DEV/badblocks, read it (EIO), overwrite it with zeroes
# (O_DIRECT), check that the record is gone, the range reads zeroes and the rest of
# the two pages kept the pattern; or (rust_pmem test build) plant latent poison through
# debugfs and either read it (EIO, recorded) and overwrite it, or clear it through
# debugfs, with the same checks.
# The unbind/bind task writes a piece before each unbind and reads it (and the first
# one) back after the bind. Every fio run must verify; after phase 2 e2fsck finds the
# file system clean. On PMEM=nvdimm there is no poison churn (QEMU NFIT cannot clear
# poison); on DRIVER=c no debugfs reads or latent poison (rust_pmem's own); the log
# says so.
# timeout: 400
# rust_pmem: test build (plants poison through its debugfs; on a kernel where the
# production build is tested, this case loads the test build)
set -u
. "$(dirname "$0")/../lib.sh"
require_poison_tools
command -v fio >/dev/null || fail "fio not installed"
command -v mkfs.ext4 >/dev/null || fail "mkfs.ext4 not installed"

STRESS_SECONDS=${STRESS_SECONDS:-120}
PHASE_S=$((STRESS_SECONDS / 2))
WORK=$(mktemp -d /tmp/stress_concurrent.XXXXXX)
STOP=$WORK/stop
MNT=$MNT_BASE/stress_concurrent
FS_BLOCKS=$((320 * MiB / 4096))
PIECE=$((4096 + 512))
PIDS=()
declare -A TASK_OF WC0

POISON=0 RUSTDBG=0 LATENT=0
if [ "$PMEM" = memmap ]; then
	POISON=1
else
	log "PMEM=$PMEM: no poison churn (QEMU NFIT cannot clear poison)"
fi
if [ "$DRIVER" = rust ]; then
	RUSTDBG=1
	require_rust_debugfs pmem0
	require_rust_debugfs pmem1
	if [ $POISON = 1 ]; then
		if has_latent pmem0; then
			LATENT=1
		else
			log "rust_pmem built without RUST_PMEM_TEST=1: no latent poison churn"
		fi
	fi
else
	log "DRIVER=$DRIVER: no rust_pmem debugfs reads, no latent poison churn (rust_pmem's own)"
fi
for d in "${PMEM_DEVS[@]}"; do
	f=/sys/block/$d/dax/write_cache
	[ -f "$f" ] || fail "$f missing"
	WC0[$d]=$(cat "$f")
done

cleanup() {
	local p ns d
	touch "$STOP"
	for p in "${PIDS[@]}"; do kill_tree "$p"; done
	wait
	cleanup_mounts
	for ns in $(ns_list); do
		[ -n "$(ns_driver "$ns")" ] || ns_bind "$ns"
	done
	for d in "${PMEM_DEVS[@]}"; do
		echo "${WC0[$d]}" >"/sys/block/$d/dax/write_cache" 2>/dev/null
	done
	[ $POISON = 1 ] && poison_scrub "${PMEM_DEVS[@]}"
	rm -rf "$WORK"
}
on_exit cleanup

[ $POISON = 1 ] && poison_start "${PMEM_DEVS[@]}"

# ------------------------------------------------------------ tasks

running() { [ ! -e "$STOP" ] && [ "$(date +%s)" -lt "$DEADLINE" ]; }

# start_task NAME FUNC ARGS...: run FUNC in the background; its lines are prefixed
# with [NAME]; a failure stops the other tasks.
start_task() {
	TASK_NAME=$1
	shift
	(
		trap '[ $? -eq 0 ] || touch "$STOP"' EXIT
		log() { printf '[%s] %s\n' "$TASK_NAME" "$*"; }
		"$@"
	) &
	PIDS+=($!)
	TASK_OF[$!]=$TASK_NAME
}

# wait_tasks PHASE: wait for all tasks; fail if one failed.
wait_tasks() {
	local p rc bad=
	for p in "${PIDS[@]}"; do
		wait "$p"
		rc=$?
		[ $rc -eq 0 ] || bad+=" ${TASK_OF[$p]}(exit $rc)"
	done
	PIDS=()
	[ -z "$bad" ] || fail "$1: failed tasks:$bad"
}

# t_fio_block DEV OFF JOB: fio verify runs on /dev/DEV, 2 jobs of JOB bytes from OFF.
t_fio_block() {
	local dev=$1 off=$2 job=$3 n=0 eng bs out
	while running || [ $n -eq 0 ]; do
		case $((n % 4)) in
		0) eng=libaio bs=4k ;;
		1) eng=io_uring bs=64k ;;
		2) eng=libaio bs=128k ;;
		3) eng=io_uring bs=4k ;;
		esac
		out=$(fio_check "$job" --name="blk$n" --filename="/dev/$dev" --ioengine=$eng \
			--direct=1 --rw=randwrite --bs=$bs --iodepth=16 --numjobs=2 --size="$job" \
			--offset="$off" --offset_increment="$job" --verify=crc32c --do_verify=1 \
			--verify_fatal=1 --randrepeat=0) ||
			{ printf '%s\n' "$out"; fail "fio $eng bs=$bs (run $((n + 1))) on /dev/$dev failed"; }
		n=$((n + 1))
	done
	log "$n fio runs on /dev/$dev (2 x $((job / MiB)) MiB each), all verified"
}

# t_fio_dax MNT JOB: fio verify runs on DAX files in MNT (ioengine mmap, psync).
t_fio_dax() {
	local mnt=$1 job=$2 n=0 eng out f
	while running || [ $n -eq 0 ]; do
		case $((n % 2)) in
		0) eng=mmap ;;
		1) eng=psync ;;
		esac
		out=$(fio_check "$job" --name="dax$n" --directory="$mnt" --ioengine=$eng \
			--rw=randwrite --bs=4k --numjobs=2 --size="$job" --verify=crc32c \
			--do_verify=1 --verify_fatal=1 --randrepeat=0) ||
			{ printf '%s\n' "$out"; fail "fio $eng (run $((n + 1))) on $mnt failed"; }
		for f in "$mnt/dax$n".*; do
			file_is_dax "$f" || fail "$f: no STATX_ATTR_DAX"
		done
		rm -f "$mnt/dax$n".*
		n=$((n + 1))
	done
	log "$n fio runs on DAX files in $mnt (2 x $((job / MiB)) MiB each), all verified"
}

# t_poison DEV LO HI: poison churn in sectors [LO, HI) of DEV.
t_poison() {
	local dev=$1 lo=$2 hi=$3 n=0 nbb=0 nlat_read=0 nlat_clear=0 page s k seed new dbg
	dbg=$(rust_dbg "$dev")
	while running || [ $n -eq 0 ]; do
		# Two pages at a random page of the range, a bad range of 1..16 sectors in them.
		page=$((lo + ((RANDOM << 15 | RANDOM) % ((hi - lo - 16) / 8)) * 8))
		s=$((page + RANDOM % 16))
		k=$((1 + RANDOM % (page + 16 - s)))
		seed=$(random_seed)
		write_sectors "$dev" $page 16 "$seed" || fail "writing the pattern at $page"
		if [ $LATENT = 1 ] && [ $((n % 2)) = 1 ]; then
			must sysfs_write "$dbg/inject_poison" "$s $k"
			expect_bb "$dev" none || fail "latent poison $s $k recorded before a read"
			if [ $((n % 4)) = 1 ]; then
				sector_eio "$dev" "$s" "$k" || fail "read over latent poison $s $k"
				[ -n "$(bb_list "$dev")" ] || fail "read of latent poison $s $k recorded nothing"
				new=$(random_seed)
				write_sectors "$dev" "$s" "$k" "$new" || fail "write over latent poison $s $k"
				expect_bb "$dev" none || fail "write over $s $k left records"
				sector_reads "$dev" "$s" "$k" "$new" || fail "rewritten sectors $s $k"
				nlat_read=$((nlat_read + 1))
			else
				must sysfs_write "$dbg/clear_poison" "$s $k"
				sector_reads "$dev" "$s" "$k" "$seed" || fail "sectors $s $k after clear_poison"
				nlat_clear=$((nlat_clear + 1))
			fi
		else
			bb_add "$dev" "$s" "$k"
			expect_bb "$dev" "$s $k" || fail "bad range $s $k not recorded as written"
			sector_eio "$dev" "$s" "$k" || fail "read of bad range $s $k"
			zero_sectors "$dev" "$s" "$k" || fail "zeroing $s $k"
			expect_bb "$dev" none || fail "zeroing $s $k left records"
			must pmemio zero "/dev/$dev" $((s * SECTOR_SIZE)) $((k * SECTOR_SIZE)) direct
			nbb=$((nbb + 1))
		fi
		[ $s -eq $page ] || sector_reads "$dev" $page $((s - page)) "$seed" ||
			fail "sectors before the bad range $s $k"
		[ $((s + k)) -eq $((page + 16)) ] || sector_reads "$dev" $((s + k)) $((page + 16 - s - k)) "$seed" ||
			fail "sectors after the bad range $s $k"
		n=$((n + 1))
	done
	expect_bb "$dev" none || fail "records left"
	log "$n poison rounds on $dev sectors [$lo, $hi): $nbb badblocks planted and cleared by writes," \
		"$nlat_read latent read (EIO) and rewritten, $nlat_clear latent cleared through debugfs"
}

# t_rebind DEV: unbind/bind cycles of DEV with a data check each.
t_rebind() {
	local dev=$1 ns seed n=0 i
	ns=$(dev_ns "$dev")
	seed=$(random_seed)
	piece() { echo $((32 * MiB + ($1 % 64) * MiB + 512)); }
	while running || [ $n -eq 0 ]; do
		n=$((n + 1))
		must pmemio write "/dev/$dev" "$(piece $n)" $PIECE "$seed" direct
		ns_unbind "$ns" || fail "cycle $n: unbind of $ns failed"
		ns_bind "$ns" || fail "cycle $n: bind of $ns failed"
		must pmemio verify "/dev/$dev" "$(piece $n)" $PIECE "$seed" direct
		must pmemio verify "/dev/$dev" "$(piece 1)" $PIECE "$seed" direct
	done
	for i in $(seq 1 $((n < 64 ? n : 64))); do
		must pmemio verify "/dev/$dev" "$(piece "$i")" $PIECE "$seed" direct
	done
	log "$n unbind/bind cycles of $ns ($dev), all pieces intact"
}

# t_knobs BUSY OTHER: write_cache toggles on BUSY, badblocks and debugfs reads of both.
t_knobs() {
	local busy=$1 other=$2 n=0 v wc=/sys/block/$1/dax/write_cache name val
	declare -A last=()
	while running || [ $n -eq 0 ]; do
		n=$((n + 1))
		v=$((n % 2))
		must sysfs_write "$wc" $v
		expect_eq "$wc" $v "$(cat "$wc")" || fail "write_cache did not take $v"
		cat "/sys/block/$busy/badblocks" >/dev/null || fail "reading badblocks of $busy"
		cat "/sys/block/$other/badblocks" "/sys/block/$other/dax/write_cache" >/dev/null 2>&1
		if [ $RUSTDBG = 1 ]; then
			cat "$(rust_dbg "$busy")/backend" >/dev/null || fail "reading debugfs backend of $busy"
			while read -r name val; do
				if [ -n "${last[$name]:-}" ] && [ "$val" -lt "${last[$name]}" ]; then
					fail "counter $name of $busy went down: ${last[$name]} -> $val"
				fi
				last[$name]=$val
			done <"$(rust_dbg "$busy")/counters"
			[ ${#last[@]} -gt 0 ] || fail "no counters in $(rust_dbg "$busy")/counters"
			cat "$(rust_dbg "$other")/backend" "$(rust_dbg "$other")/counters" >/dev/null 2>&1
		fi
		sleep 0.1
	done
	echo "${WC0[$busy]}" >"$wc"
	log "$n write_cache toggles on $busy, badblocks$([ $RUSTDBG = 1 ] && echo " and debugfs") reads of $busy and $other"
}

# ------------------------------------------------------------ phases

poison_range() {
	local hi=$((($(dev_sectors "$1") - 8 * MiB / SECTOR_SIZE) / 8 * 8))
	echo $((hi - 120 * MiB / SECTOR_SIZE)) $hi
}

log "phase 1 (${PHASE_S} s): fio on /dev/pmem0, poison on pmem0, write_cache/debugfs, unbind/bind of pmem1"
DEADLINE=$(($(date +%s) + PHASE_S))
start_task "fio pmem0" t_fio_block pmem0 $((16 * MiB)) $((64 * MiB))
# shellcheck disable=SC2046
[ $POISON = 1 ] && start_task "poison pmem0" t_poison pmem0 $(poison_range pmem0)
start_task "knobs" t_knobs pmem0 pmem1
start_task "rebind pmem1" t_rebind pmem1
wait_tasks "phase 1"
if [ $POISON = 1 ]; then
	poison_scrub "${PMEM_DEVS[@]}" || fail "poison left after phase 1"
fi

log "phase 2 (${PHASE_S} s): fio on DAX files of ext4 on pmem1, poison on pmem1, write_cache/debugfs, unbind/bind of pmem0"
out=$(mkfs.ext4 -q -F -b 4096 /dev/pmem1 $FS_BLOCKS 2>&1) || fail "mkfs.ext4 /dev/pmem1: $out"
dax_mount pmem1 "$MNT" || fail "ext4 -o dax mount of pmem1 failed"
DEADLINE=$(($(date +%s) + PHASE_S))
start_task "dax fio pmem1" t_fio_dax "$MNT" $((24 * MiB))
# shellcheck disable=SC2046
[ $POISON = 1 ] && start_task "poison pmem1" t_poison pmem1 $(poison_range pmem1)
start_task "knobs" t_knobs pmem1 pmem0
start_task "rebind pmem0" t_rebind pmem0
wait_tasks "phase 2"
fs_umount "$MNT" || fail "umount failed"
out=$(e2fsck -fn /dev/pmem1 2>&1) || { printf '%s\n' "$out" | sed 's/^/    /'; fail "e2fsck found problems"; }
log "e2fsck: file system on pmem1 clean"
if [ $POISON = 1 ]; then
	poison_scrub "${PMEM_DEVS[@]}" || fail "poison left after phase 2"
fi
if [ $RUSTDBG = 1 ]; then
	for d in "${PMEM_DEVS[@]}"; do log "counters of $d: $(counters_line "$d")"; done
fi
