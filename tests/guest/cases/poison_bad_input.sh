#!/bin/bash
# Malformed poison input is refused with EINVAL and changes nothing.
# /sys/block/pmem0/badblocks (the block layer parses it, both drivers):
# "8 8 x", "abc", "8 0", "8 -1", "" -> EINVAL; the recorded ranges stay as
# they were and the data around sector 8 reads.
# rust_pmem's debugfs inject_poison and clear_poison (test build): "", "x",
# "8", "8 0", "8 -1", "1 2 3", "8  8", " 8 8", "8 8\n\n", "+8 8", a range that
# ends past the device or starts at its end, a sector count that overflows ->
# EINVAL; afterwards the counters, the badblocks and the data are unchanged
# (no latent poison planted by inject_poison; the latent poison planted
# before is still there after the refused clear_poison writes). Controls:
# "SECTOR 1\n" at the last sector is accepted by both files.
# rust_pmem: test build (plants poison through its debugfs; on a kernel where the
# production build is tested, this case loads the test build)
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0

SEED=$(random_seed)
BB=/sys/block/pmem0/badblocks
write_sectors pmem0 0 64 "$SEED" || fail "writing the data failed"

# refused FILE DATA...: each write is refused with EINVAL.
refused() {
	local f=$1 d out
	shift
	for d in "$@"; do
		out=$(sysfs_write "$f" "$d" 2>&1)
		case $out in
		"err EINVAL "*) ;;
		*) fail "write of '$d' to $f: expected EINVAL, got '$out'" ;;
		esac
	done
}

bb_add pmem0 40 2
before=$(bb_show pmem0)
refused $BB "8 8 x" "abc" "8 0" "8 -1" "8 0\n" "x 8"
expect_bb pmem0 "$before" || fail "refused badblocks writes changed the record"
sector_reads pmem0 0 40 "$SEED" || fail "data around sector 8 after the refused writes"
log "badblocks: malformed input refused with EINVAL, record unchanged ($before)"
out=$(sysfs_write $BB "" 2>&1)
log "badblocks: an empty write: $out"
expect_bb pmem0 "$before" || fail "an empty badblocks write changed the record"

[ "$DRIVER" = rust ] || skip "beyond nd_pmem: debugfs inject_poison/clear_poison (badblocks part passed)"
has_latent pmem0 || skip "rust_pmem built without RUST_PMEM_TEST=1: no inject_poison (badblocks part passed)"

N=$(dev_sectors pmem0)
BAD=("" "x" "8" "8 0" "8 -1" "1 2 3" "8  8" " 8 8" "8 8\n\n" "+8 8" "8 8 " "-1 8" "8 0x8"
	"$N 1" "$((N - 1)) 2" "0 $((N + 1))" "$((N - 8)) 4294967296" "18446744073709551615 1"
	"99999999999999999999 1" "8 18446744073709551615")
# Latent poison that must survive the refused clear_poison writes, away from the
# start of the device, which udev's blkid reads after each write (a read there
# would find the poison and change the counters).
L=$((32 * MiB / SECTOR_SIZE + 5))
write_sectors pmem0 $((L - 5)) 8 "$SEED" || fail "writing the data at $L failed"
for f in inject_poison clear_poison; do
	latent_inject pmem0 $L 1
	mc0=$(counter pmem0 machine_checks)
	c0=$(counters_line pmem0)
	refused "$(rust_dbg pmem0)/$f" "${BAD[@]}"
	expect_eq "counters after refused $f writes" "$c0" "$(counters_line pmem0)" ||
		fail "refused $f writes changed the counters"
	expect_bb pmem0 "$before" || fail "refused $f writes changed badblocks"
	sector_reads pmem0 0 16 "$SEED" || fail "sectors 0-15 after refused $f writes (latent poison planted?)"
	sector_reads pmem0 16 24 "$SEED" || fail "sectors 16-39 after refused $f writes (latent poison planted?)"
	sector_reads pmem0 $((L - 5)) 5 "$SEED" || fail "sectors before $L after refused $f writes"
	expect_counter pmem0 machine_checks "$mc0" || fail "reads after refused $f writes took a machine check"
	sector_eio pmem0 $L 1 || fail "latent poison at $L gone after refused $f writes"
	expect_counter pmem0 machine_checks $((mc0 + 1)) || fail "latent poison at $L not found by the read"
	expect_bb pmem0 "$before,$L 1" || fail "latent poison at $L not recorded"
	write_sectors pmem0 $L 1 "$SEED" || fail "clearing sector $L"
	expect_bb pmem0 "$before" || fail "sector $L not cleared"
	log "$f: ${#BAD[@]} malformed writes refused with EINVAL; counters, badblocks, data unchanged"
done

# Controls: the last sector is accepted, with a trailing newline.
udev_settle
must sysfs_write "$(rust_dbg pmem0)/inject_poison" "$((N - 1)) 1\n"
must sysfs_write "$(rust_dbg pmem0)/clear_poison" "$((N - 1)) 1\n"
mc0=$(counter pmem0 machine_checks)
must pmemio read /dev/pmem0 $(((N - 8) * SECTOR_SIZE)) 4096 direct
expect_counter pmem0 machine_checks "$mc0" || fail "cleared latent poison at the last sector still found"
udev_settle
must sysfs_write "$(rust_dbg pmem0)/inject_poison" "$((N - 1)) 1"
sector_eio pmem0 $((N - 1)) 1 || fail "latent poison at the last sector"
zero_sectors pmem0 $((N - 1)) 1 || fail "clearing the last sector"
expect_bb pmem0 "$before" || fail "last sector not cleared"
log "controls: 'SECTOR 1' at the last sector accepted by inject_poison and clear_poison"
