#!/bin/bash
# Random data written at many offsets and sizes (multiples of 512, not of
# 4096, 512 B .. 1 MiB) reads back identical: with O_DIRECT, and through the
# page cache (buffered write + fsync, drop caches, buffered read). The gaps
# between the pieces keep their background pattern, and O_DIRECT and buffered
# reads of a whole area give the same checksum.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools

DEV=/dev/pmem0
AREA_LEN=$((32 * MiB))

# make_segments START: print "OFF LEN SEED" lines covering [START, START+AREA_LEN)
# with random gaps; OFF and LEN are multiples of 512 and not of 4096.
make_segments() {
	local cur=$1 end=$(($1 + AREA_LEN)) off len n=0
	while :; do
		off=$((cur + (RANDOM % 8) * 512))
		[ $((off % 4096)) -ne 0 ] || off=$((off + 512))
		case $((n % 4)) in
		0) len=$(((1 + RANDOM % 7) * 512)) ;;          # < 4 KiB
		1) len=$(((1 + RANDOM % 255) * 512)) ;;        # < 128 KiB
		*) len=$(((1 + RANDOM % 2047) * 512)) ;;       # < 1 MiB
		esac
		[ $((len % 4096)) -ne 0 ] || len=$((len - 512))
		[ $((off + len)) -le "$end" ] || break
		echo "$off $len $(((RANDOM << 30) | (RANDOM << 15) | RANDOM))"
		cur=$((off + len))
		n=$((n + 1))
	done
}

# batch WHAT COMMANDS: run the pmemio commands (one a line) in one process.
batch() {
	local out
	out=$(pmemio batch <<<"$2" 2>&1) || fail "$1: $out"
}

# roundtrip START WRITE_OPTS READ_OPTS: fill the area with a background
# pattern, write the segments, check segments and gaps.
roundtrip() {
	local start=$1 wopts=$2 ropts=$3 bg seg prev off len seed s
	bg=$(random_seed)
	mapfile -t seg < <(make_segments "$start")
	batch "writing" "$(
		echo "write $DEV $start $AREA_LEN $bg direct"
		for s in "${seg[@]}"; do
			read -r off len seed <<<"$s"
			echo "write $DEV $off $len $seed $wopts"
		done
	)"
	[ "$wopts" = direct ] || echo 3 >/proc/sys/vm/drop_caches
	prev=$start
	batch "reading back" "$(
		for s in "${seg[@]}"; do
			read -r off len seed <<<"$s"
			[ "$off" -eq "$prev" ] || echo "verify $DEV $prev $((off - prev)) $bg $ropts"
			echo "verify $DEV $off $len $seed $ropts"
			prev=$((off + len))
		done
		echo "verify $DEV $prev $((start + AREA_LEN - prev)) $bg $ropts"
	)"
	log "${#seg[@]} segments written (${wopts/fsync/buffered+fsync}), read back (${ropts:-buffered}) with gaps intact"
	SEGS=("${seg[@]}")
}

# verify_segs OPTS: check the last roundtrip's segments with other read options.
verify_segs() {
	local s off len seed
	batch "cross-check (${1:-buffered})" "$(
		for s in "${SEGS[@]}"; do
			read -r off len seed <<<"$s"
			echo "verify $DEV $off $len $seed $1"
		done
	)"
}

# area_sums START: sha256 of the area read with O_DIRECT and buffered (after
# dropping caches); they must agree.
area_sums() {
	local a b
	a=$(dd if=$DEV iflag=direct,skip_bytes,count_bytes skip="$1" count=$AREA_LEN bs=1M 2>/dev/null | sha256sum)
	echo 3 >/proc/sys/vm/drop_caches
	b=$(dd if=$DEV iflag=skip_bytes,count_bytes skip="$1" count=$AREA_LEN bs=1M 2>/dev/null | sha256sum)
	expect_eq "sha256 of [$1, +$AREA_LEN) buffered vs O_DIRECT" "${a%% *}" "${b%% *}" ||
		fail "page cache and O_DIRECT disagree"
}

A=$((16 * MiB))
B=$((128 * MiB))

roundtrip $A direct direct
verify_segs ""
log "O_DIRECT-written data reads back through the page cache"
area_sums $A

roundtrip $B fsync ""
verify_segs direct
log "buffered-written data reads back with O_DIRECT"
area_sums $B
