#!/bin/bash
# One namespace (128 MiB in region0) is reconfigured in place (ndctl create-namespace
# -f -e NS -m MODE) through raw -> fsdax -> sector -> devdax, 10 rounds (2 on the
# debug kernel: lib.sh's reps). In each mode the right device serves it (raw: the
# namespace, fsdax: its pfn and sector: its btt device bound to the driver under test;
# devdax: dax_pmem) and a fresh pattern written through it reads back (block: O_DIRECT
# and buffered; devdax: mmap of /dev/daxX.Y). Each round one mode (in turn; on the
# debug kernel every mode) also goes through disable/enable-namespace and is checked
# again. The runner checks dmesg for warnings; the namespace is destroyed.
# timeout: 1500
set -u
. "$(dirname "$0")/../lib.sh"
nv_test_start
require_tools

ROUNDS=${ROUNDS:-$(reps 10 2)}
EVERY_MODE_CYCLES=$(reps 0 1)

# serving MODE: print "DRIVER DEVICE" for the namespace in MODE (DEVICE: the block
# or dax char device), return 1 while it is not there.
serving() {
	local c=$NS d drv
	[ "$1" = raw ] || c=$(nv_claim "$NS")
	drv=$(ns_driver "$c")
	if [ "$1" = devdax ]; then
		d=$(ls "$ND_SYS/devices/$c" 2>/dev/null | grep -m1 '^dax[0-9]')
		[ -n "$d" ] && [ -c "/dev/$d" ] || return 1
	else
		d=$(ls "$ND_SYS/devices/$c/block" 2>/dev/null | head -n 1)
		[ -n "$d" ] && dev_present "$d" || return 1
	fi
	echo "$drv $d"
}

# check MODE SEED WHEN: the pattern of SEED reads back from the device of MODE.
check() {
	local drv dev want=$(drv_name)
	wait_until 10 serving "$1" >/dev/null || fail "$1 $3: no device for $NS (claim $(nv_claim "$NS"))"
	read -r drv dev < <(serving "$1")
	[ "$1" = devdax ] && want=dax_pmem
	expect_eq "driver of $NS ($1) $3" "$want" "$drv" || fail "wrong driver"
	if [ "$1" = devdax ]; then
		must devdax_io verify "/dev/$dev" $((2 * MiB)) $((2 * MiB)) "$2"
	else
		echo 3 >/proc/sys/vm/drop_caches
		must pmemio verify "/dev/$dev" $((4 * MiB)) "$MiB" "$2"
		must pmemio verify "/dev/$dev" $((4 * MiB)) "$MiB" "$2" direct
		must pmemio verify "/dev/$dev" $((12 * MiB)) "$MiB" "$2" direct
	fi
	DEV=$dev
}

NS=$(nv_create region0 raw 128M) || fail "ndctl create-namespace -m raw failed"
MODES=(raw fsdax sector devdax)
for ((r = 0; r < ROUNDS; r++)); do
	for i in "${!MODES[@]}"; do
		m=${MODES[$i]}
		if [ "$r$i" != 00 ]; then
			out=$(nv_ndctl create-namespace -f -e "$NS" -m "$m") || fail "round $r: reconfigure to $m failed"
			NS=$(printf '%s' "$out" | nv_json_field dev)
		fi
		wait_until 10 serving "$m" >/dev/null || fail "round $r: $m: no device for $NS"
		read -r _ DEV < <(serving "$m")
		SEED=$(random_seed)
		if [ "$m" = devdax ]; then
			must devdax_io write "/dev/$DEV" $((2 * MiB)) $((2 * MiB)) "$SEED"
		else
			must pmemio write "/dev/$DEV" $((4 * MiB)) "$MiB" "$SEED" fsync
			must pmemio write "/dev/$DEV" $((12 * MiB)) "$MiB" "$SEED" direct
		fi
		check "$m" "$SEED" "after writing"
		if [ "$EVERY_MODE_CYCLES" = 1 ] || [ $((r % 4)) = "$i" ]; then
			nv_ndctl disable-namespace "$NS" >/dev/null || fail "round $r: $m: disable-namespace failed"
			[ ! -e "/dev/$DEV" ] || fail "round $r: $m: /dev/$DEV still there after disable-namespace"
			nv_ndctl enable-namespace "$NS" >/dev/null || fail "round $r: $m: enable-namespace failed"
			check "$m" "$SEED" "after disable/enable"
		fi
	done
	cycled=${MODES[$((r % 4))]}
	[ "$EVERY_MODE_CYCLES" = 1 ] && cycled="every mode"
	log "round $r: raw, fsdax, sector, devdax written and read back; $cycled disabled/enabled"
done
nv_destroy "$NS" || fail "destroy-namespace $NS failed"
NS=
