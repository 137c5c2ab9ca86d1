#!/bin/bash
# Poison on an fsdax namespace, whose data starts at an offset: the sectors the
# driver fails, records and clears must be the ones the media has, computed here
# from outside the driver: the data offset D is the pfn device's resource minus
# the namespace's (sysfs), so disk sector S of the fsdax disk is sector S + D/512
# of the same namespace served raw. Poison lives where the platform keeps it
# (rust_pmem's test build: on the nvdimm bus's list, which outlives a change of
# mode), so it is planted through one view and checked through the other:
# (a) raw pmem1: data written, poison planted on raw sector R (a page in the
#     middle); namespace1.0 made fsdax: its badblocks (read from the bus at
#     probe) are exactly R - D/512, that sector fails with EIO, the sectors
#     around it read the data written through the raw view;
# (b) on the fsdax disk: a 512-byte write beside it keeps the page's other
#     sectors (the engine's read-back), the bad one stays recorded; a write over
#     it clears it, and the page reads back;
# (c) poison planted on fsdax sector F; namespace1.0 made raw again: its
#     badblocks are exactly F + D/512, the data written through the fsdax view
#     is at that offset; a write over it clears it for good.
# nd_pmem has no planted poison: the case is rust_pmem's (skip on nd_pmem).
# rust_pmem: test build (plants poison through its debugfs; on a kernel where the
# production build is tested, this case loads the test build)
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem1
[ "$DRIVER" = rust ] || skip "planted poison (on the bus) is rust_pmem's test build"
has_latent pmem1 || fail "rust_pmem built without RUST_PMEM_TEST=1: no inject_poison"
fsdax_cleanup() {
	poison_cleanup
	memmap_restore
}
on_exit fsdax_cleanup

NS=$(dev_ns pmem1)
[[ $NS == namespace* ]] || fail "pmem1 is served by $NS, expected a raw namespace"
SEED=$(random_seed)
NEW=$(random_seed)
R=$(($(dev_sectors pmem1) / 2 / 8 * 8 + 3)) # sector 3 of a page in the middle
write_sectors pmem1 $((R - 3 - 16)) 40 "$SEED" || fail "writing the data through the raw view"
latent_inject pmem1 "$R" 1
expect_bb pmem1 none || fail "planted poison must not be recorded before a read or a probe"

log "-- (a) poison planted on raw sector $R; $NS made fsdax"
memmap_fsdax "$NS" || fail "making $NS fsdax"
require_rust_debugfs pmem1
DS=$((FSDAX_DATA_OFF / SECTOR_SIZE))
[ $((FSDAX_DATA_OFF % 4096)) = 0 ] || fail "data offset $FSDAX_DATA_OFF not page aligned"
F=$((R - DS))
expect_bb pmem1 "$F 1" || fail "(a) fsdax badblocks must be raw sector $R - $DS"
sector_eio pmem1 "$F" 1 || fail "(a) the poisoned sector reads"
P=$((F - 3))
# sector_reads DEV SECTOR NR SEED POS: the pattern was written at raw byte offsets.
sector_reads pmem1 "$P" 3 "$SEED" $(((P + DS) * SECTOR_SIZE)) || fail "(a) sectors before it (raw data at D)"
sector_reads pmem1 $((F + 1)) 4 "$SEED" $(((F + 1 + DS) * SECTOR_SIZE)) || fail "(a) sectors after it"
log "(a) fsdax sector $F (raw $R - $DS) recorded and failing; its neighbours hold the raw data"

log "-- (b) writes on the fsdax disk"
cl0=$(counter pmem1 cleared_legacy)
write_sectors pmem1 $((P + 6)) 1 "$NEW" || fail "(b) write beside the bad sector"
expect_bb pmem1 "$F 1" || fail "(b) the bad sector must stay recorded"
sector_reads pmem1 "$P" 3 "$SEED" $(((P + DS) * SECTOR_SIZE)) || fail "(b) sectors 0-2 after the write beside"
sector_reads pmem1 $((P + 4)) 2 "$SEED" $(((P + 4 + DS) * SECTOR_SIZE)) || fail "(b) sectors 4-5"
sector_reads pmem1 $((P + 6)) 1 "$NEW" || fail "(b) the written sector"
sector_eio pmem1 "$F" 1 || fail "(b) the bad sector"
write_sectors pmem1 "$F" 1 "$NEW" || fail "(b) write over the bad sector"
expect_bb pmem1 none || fail "(b) record not cleared"
expect_counter pmem1 cleared_legacy $((cl0 + 1)) || fail "(b) clear not counted"
sector_reads pmem1 "$F" 1 "$NEW" || fail "(b) the sector written over the poison"
sector_reads pmem1 "$P" 3 "$SEED" $(((P + DS) * SECTOR_SIZE)) || fail "(b) sectors 0-2 after the clear"
log "(b) a write beside kept the page, a write over the bad sector cleared it"

log "-- (c) poison planted on fsdax sector; $NS made raw"
F2=$((P + 16 + 2))
write_sectors pmem1 $((P + 16)) 8 "$NEW" || fail "(c) writing a page through the fsdax view"
latent_inject pmem1 "$F2" 1
memmap_raw "$NS" || fail "making $NS raw"
expect_bb pmem1 "$((F2 + DS)) 1" || fail "(c) raw badblocks must be fsdax sector $F2 + $DS"
sector_eio pmem1 $((F2 + DS)) 1 || fail "(c) the poisoned sector reads"
sector_reads pmem1 $((P + 16 + DS)) 2 "$NEW" $(((P + 16) * SECTOR_SIZE)) || fail "(c) the fsdax data is at D"
write_sectors pmem1 $((F2 + DS)) 1 "$NEW" || fail "(c) write over the bad sector"
expect_bb pmem1 none || fail "(c) record not cleared"
ns_rebind "$NS" || fail "(c) rebind"
expect_bb pmem1 none || fail "(c) the clear did not reach the bus at the right address"
log "(c) raw sector $((F2 + DS)) (fsdax $F2 + $DS) recorded and failing, cleared for good"
