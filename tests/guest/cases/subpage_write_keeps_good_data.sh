#!/bin/bash
# A page with known data and one bad 512-byte sector (recorded through sysfs):
# (a) a 512-byte O_DIRECT write to another sector of the page succeeds; that
#     sector reads the new data, the other good sectors their old data, the bad
#     sector still fails with EIO and stays recorded;
# (b) a 512-byte write over the bad sector succeeds and clears the record; the
#     whole page then reads back: the two new sectors and the old data.
# On rust_pmem also with latent poison (test build; nd_pmem runs (a), (b) only):
# (c) latent poison in a sector: a write to another sector is a plain write;
#     the poisoned sector then fails on read (machine check) and is recorded;
#     a write over it clears it;
# (d) one recorded bad sector and latent poison in another sector of the same
#     page: a write over the recorded sector goes through the clear engine,
#     which reads the page's good sectors back; it finds the latent poison,
#     records that sector (it stays bad), clears the written one and keeps the
#     other sectors' data.
# rust_pmem: test build (plants poison through its debugfs; on a kernel where the
# production build is tested, this case loads the test build)
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0

SEED=$(random_seed)
NEW=$(random_seed)
BASE=$((20 * MiB / SECTOR_SIZE)) # 8 pages
rust() { [ "$DRIVER" = rust ]; }

# page_is P EXPECT: sector i of page P reads per EXPECT's i-th letter:
# o = old data, n = new data, x = EIO.
page_is() {
	local p=$1 want=$2 i c
	for i in 0 1 2 3 4 5 6 7; do
		c=${want:$i:1}
		case $c in
		o) sector_reads pmem0 $((p + i)) 1 "$SEED" || { log "sector $i: expected old data"; return 1; } ;;
		n) sector_reads pmem0 $((p + i)) 1 "$NEW" || { log "sector $i: expected new data"; return 1; } ;;
		x) sector_eio pmem0 $((p + i)) 1 || { log "sector $i: expected EIO"; return 1; } ;;
		esac
	done
}

write_sectors pmem0 $BASE 64 "$SEED" || fail "writing the data failed"
rust && cl0=$(counter pmem0 cleared_legacy)

log "-- sysfs-recorded bad sector 5 of page 1"
P=$((BASE + 8))
bb_add pmem0 $((P + 5)) 1
page_is $P oooooxoo || fail "page before the writes"

write_sectors pmem0 $((P + 2)) 1 "$NEW" || fail "(a) 512-byte write beside the bad sector"
page_is $P oonooxoo || fail "(a) page after the write beside the bad sector"
expect_bb pmem0 "$((P + 5)) 1" || fail "(a) bad sector no longer recorded"
sector_eio pmem0 $P 8 || fail "(a) whole-page read"
if rust; then
	expect_counter pmem0 cleared_legacy "$cl0" || fail "(a) a write beside poison must be a plain write"
fi
log "(a) write beside the bad sector: new data there, old data kept, bad sector still bad"

write_sectors pmem0 $((P + 5)) 1 "$NEW" || fail "(b) 512-byte write over the bad sector"
expect_bb pmem0 none || fail "(b) record not cleared"
page_is $P oonoonoo || fail "(b) page after the write over the bad sector"
poison devcmp /dev/pmem0 $P 4096 "$SEED" $((P * SECTOR_SIZE)) >/dev/null &&
	fail "(b) page reads only old data"
rust && { expect_counter pmem0 cleared_legacy $((cl0 + 1)) || fail "(b) clear not counted"; }
log "(b) write over the bad sector: cleared, whole page reads back"
sector_reads pmem0 $BASE 8 "$SEED" || fail "page 0 changed"
sector_reads pmem0 $((BASE + 16)) 48 "$SEED" || fail "pages 2-7 changed"

if ! rust; then
	log "(c), (d) not run: beyond nd_pmem (latent poison is rust_pmem's debugfs)"
	exit 0
fi
has_latent pmem0 || skip "rust_pmem built without RUST_PMEM_TEST=1: no inject_poison; (a) and (b) passed"

log "-- (c) latent poison in sector 6 of page 3"
P=$((BASE + 24))
mc0=$(counter pmem0 machine_checks)
rr0=$(counter pmem0 ranges_recorded)
cl0=$(counter pmem0 cleared_legacy)
latent_inject pmem0 $((P + 6)) 1
write_sectors pmem0 $((P + 1)) 1 "$NEW" || fail "(c) write beside latent poison"
expect_bb pmem0 none || fail "(c) a plain write recorded something"
expect_counter pmem0 cleared_legacy "$cl0" || fail "(c) a write beside latent poison must be plain"
page_is $P onooooxo || fail "(c) page after the write"
expect_bb pmem0 "$((P + 6)) 1" || fail "(c) the read did not record the poisoned sector"
expect_counter pmem0 machine_checks $((mc0 + 1)) || fail "(c) machine check not counted once"
write_sectors pmem0 $((P + 6)) 1 "$NEW" || fail "(c) write over the recorded sector"
expect_bb pmem0 none || fail "(c) record not cleared"
page_is $P onoooono || fail "(c) page after the clear"
expect_counter pmem0 cleared_legacy $((cl0 + 1)) || fail "(c) clear not counted"
log "(c) latent poison: found by the read, recorded, cleared by the write; good data kept"

log "-- (d) recorded sector 1 and latent poison in sector 6 of page 5"
P=$((BASE + 40))
mc0=$(counter pmem0 machine_checks)
rr0=$(counter pmem0 ranges_recorded)
cl0=$(counter pmem0 cleared_legacy)
bb_add pmem0 $((P + 1)) 1
latent_inject pmem0 $((P + 6)) 1
write_sectors pmem0 $((P + 1)) 1 "$NEW" || fail "(d) write over the recorded sector"
expect_bb pmem0 "$((P + 6)) 1" ||
	fail "(d) expected the written sector cleared and the latent one recorded by the engine's read-back"
expect_counter pmem0 ranges_recorded $((rr0 + 1)) || fail "(d) latent sector found by the engine not counted"
expect_counter pmem0 cleared_legacy $((cl0 + 1)) || fail "(d) clear not counted"
log "(d) machine_checks $mc0 -> $(counter pmem0 machine_checks) (engine read-back)"
mc1=$(counter pmem0 machine_checks)
page_is $P onooooxo || fail "(d) page after the engine's rewrite"
expect_counter pmem0 machine_checks "$mc1" || fail "(d) reads of a recorded sector took a machine check"
write_sectors pmem0 $((P + 6)) 1 "$NEW" || fail "(d) write over the newly recorded sector"
expect_bb pmem0 none || fail "(d) record not cleared"
page_is $P onoooono || fail "(d) page after the second clear"
log "(d) the engine kept the good sectors, recorded the latent one, and a write cleared it"
for p in 0 2 4 6 7; do
	sector_reads pmem0 $((BASE + 8 * p)) 8 "$SEED" || fail "page $p changed"
done
