#!/bin/bash
# Lost stays lost (rust_pmem's test build, where planted poison lives as on
# hardware: in the media and on the nvdimm bus's list of bad ranges, which
# outlives unbind and module reload and is read into badblocks at probe).
# A page with data; sector 1 recorded bad through sysfs, poison planted in
# sector 5. A 512-byte write over sector 1 rewrites the page: the engine reads
# sector 5 back, takes a machine check there, and must neither store over it
# nor clear it on the bus (its data is lost, not zero): sector 5 fails with EIO
# and is recorded; sector 1 holds the new data; the others keep theirs, read
# while the page is out of the direct map. The same holds after an
# unbind/bind of the namespace and after rmmod/insmod: sector 5 still fails
# with EIO and is in badblocks (from the bus), the rest reads back. A
# full-page write then clears it for good: no record after a rebind, the page
# reads the new data.
# nd_pmem has no planted poison: the case is rust_pmem's (skip on nd_pmem).
# rust_pmem: test build (plants poison through its debugfs; on a kernel where the
# production build is tested, this case loads the test build)
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0
[ "$DRIVER" = rust ] || skip "planted poison (in the media and on the bus) is rust_pmem's test build"
has_latent pmem0 || fail "rust_pmem built without RUST_PMEM_TEST=1: no inject_poison"

SEED=$(random_seed)
NEW=$(random_seed)
FULL=$(random_seed)
BASE=$((36 * MiB / SECTOR_SIZE)) # 3 pages
P=$((BASE + 8))
NS=$(dev_ns pmem0) || fail "no namespace for pmem0"

# page_is EXPECT: sector i of page P reads per EXPECT's i-th letter:
# o = old data, n = new data, x = EIO.
page_is() {
	local want=$1 i c
	for i in 0 1 2 3 4 5 6 7; do
		c=${want:$i:1}
		case $c in
		o) sector_reads pmem0 $((P + i)) 1 "$SEED" || { log "sector $i: expected old data"; return 1; } ;;
		n) sector_reads pmem0 $((P + i)) 1 "$NEW" || { log "sector $i: expected new data"; return 1; } ;;
		x) sector_eio pmem0 $((P + i)) 1 || { log "sector $i: expected EIO"; return 1; } ;;
		esac
	done
}

write_sectors pmem0 $BASE 24 "$SEED" || fail "writing the data failed"
bb_add pmem0 $((P + 1)) 1
latent_inject pmem0 $((P + 5)) 1
rr0=$(counter pmem0 ranges_recorded)
write_sectors pmem0 $((P + 1)) 1 "$NEW" || fail "write over the recorded sector"
expect_bb pmem0 "$((P + 5)) 1" || fail "the lost sector must be recorded, the written one cleared"
expect_counter pmem0 ranges_recorded $((rr0 + 1)) || fail "the lost sector found by the engine not counted"
page_is onoooxoo || fail "page after the rewrite"
log "rewrite: sector 1 new, sector 5 lost (EIO, recorded), the others kept"

ns_rebind "$NS" || fail "rebind of $NS"
expect_bb pmem0 "$((P + 5)) 1" || fail "after unbind/bind the lost sector must still be recorded (from the bus)"
page_is onoooxoo || fail "page after unbind/bind (a lost sector that reads as data was stored over or cleared)"
log "after unbind/bind: sector 5 still fails and is recorded, the rest reads back"

drv_reload || fail "rmmod/insmod"
expect_bb pmem0 "$((P + 5)) 1" || fail "after rmmod/insmod the lost sector must still be recorded (from the bus)"
page_is onoooxoo || fail "page after rmmod/insmod"
log "after rmmod/insmod: sector 5 still fails and is recorded, the rest reads back"

write_sectors pmem0 $P 8 "$FULL" || fail "full-page write"
expect_bb pmem0 none || fail "the full-page write did not clear the record"
sector_reads pmem0 $P 8 "$FULL" || fail "page after the full-page write"
ns_rebind "$NS" || fail "rebind of $NS after the full-page write"
expect_bb pmem0 none || fail "after the full-page write and a rebind, poison came back from the bus"
sector_reads pmem0 $P 8 "$FULL" || fail "page after the full-page write and a rebind"
sector_reads pmem0 $BASE 8 "$SEED" || fail "page before changed"
sector_reads pmem0 $((BASE + 16)) 8 "$SEED" || fail "page after changed"
log "a full-page write cleared it for good: nothing recorded after a rebind, the new data reads back"
