#!/bin/bash
# A bad range recorded through /sys/block/pmem0/badblocks ("SECTOR LEN") makes
# O_DIRECT reads over it fail with EIO: the page holding it, each bad sector
# alone, a read that starts before and ends after it. The sectors around it,
# in the same page and in the neighbouring pages, still read their data, and
# reading does not change the record (on rust_pmem: no machine check is
# counted, the fast badblocks check refuses the read). Writing over the range
# clears it and the data reads back.
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0

SEED=$(random_seed)
NEW=$(random_seed)
BASE=$((8 * MiB / SECTOR_SIZE)) # 16 pages of data from here
PAGE2=$((BASE + 16))            # the third page
BAD=$((PAGE2 + 4))              # sectors 4..6 of that page are bad
NBAD=3

write_sectors pmem0 $BASE 128 "$SEED" || fail "writing the data failed"
sector_reads pmem0 $BASE 128 "$SEED" || fail "data does not read back before any poison"
[ "$DRIVER" = rust ] && mc0=$(counter pmem0 machine_checks)

bb_add pmem0 $BAD $NBAD
expect_bb pmem0 "$BAD $NBAD" || fail "sysfs write not recorded"
log "recorded $BAD $NBAD"

sector_eio pmem0 $PAGE2 8 || fail "page read over the bad range"
for s in $(seq $BAD $((BAD + NBAD - 1))); do
	sector_eio pmem0 "$s" 1 || fail "read of bad sector $s"
done
sector_eio pmem0 $((BAD - 1)) 2 || fail "read starting before the bad range"
sector_eio pmem0 $((BAD + NBAD - 1)) 2 || fail "read ending after the bad range"
sector_eio pmem0 $BASE 128 || fail "read of all 16 pages"
log "reads over the bad range fail with EIO"

sector_reads pmem0 $PAGE2 4 "$SEED" || fail "good sectors before the range, same page"
sector_reads pmem0 $((BAD + NBAD)) 1 "$SEED" || fail "good sector after the range, same page"
for s in $PAGE2 $((BAD - 1)) $((BAD + NBAD)); do
	sector_reads pmem0 "$s" 1 "$SEED" || fail "neighbour sector $s"
done
sector_reads pmem0 $BASE 16 "$SEED" || fail "pages before"
sector_reads pmem0 $((PAGE2 + 8)) 104 "$SEED" || fail "pages after"
log "neighbouring sectors and pages read their data"

expect_bb pmem0 "$BAD $NBAD" || fail "reads changed the record"
if [ "$DRIVER" = rust ]; then
	expect_counter pmem0 machine_checks "$mc0" ||
		fail "a read refused from badblocks counted a machine check"
fi

write_sectors pmem0 $BAD $NBAD "$NEW" || fail "write over the bad range"
expect_bb pmem0 none || fail "write over the range did not clear it"
sector_reads pmem0 $BAD $NBAD "$NEW" || fail "written sectors"
sector_reads pmem0 $BASE $((BAD - BASE)) "$SEED" || fail "data before"
sector_reads pmem0 $((BAD + NBAD)) $((BASE + 128 - BAD - NBAD)) "$SEED" || fail "data after"
log "write over the range cleared it; all 16 pages read back"
