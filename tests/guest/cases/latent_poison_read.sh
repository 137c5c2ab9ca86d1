#!/bin/bash
# rust_pmem's latent poison (debugfs inject_poison, test build): poison that is
# not in badblocks yet, as a machine check finds it. The first O_DIRECT read
# over it fails with EIO, the poisoned sector (exactly that one) is recorded in
# badblocks, machine_checks and ranges_recorded go up by one. A second read
# fails from badblocks with no new machine check. Reads beside it work and take
# no machine check. A write over the sector clears the record and the poison;
# the data reads back with no machine check. A write over latent poison that
# was never read removes it too.
# nd_pmem has no latent poison injection: skipped there.
# rust_pmem: test build (plants poison through its debugfs; on a kernel where the
# production build is tested, this case loads the test build)
set -u
. "$(dirname "$0")/../lib.sh"
[ "$DRIVER" = rust ] || skip "beyond nd_pmem: latent poison injection is rust_pmem's debugfs"
poison_test_setup pmem0
has_latent pmem0 || skip "rust_pmem built without RUST_PMEM_TEST=1: no inject_poison"

SEED=$(random_seed)
NEW=$(random_seed)
BASE=$((16 * MiB / SECTOR_SIZE)) # 4 pages
P1=$((BASE + 8))
BAD=$((P1 + 3))

write_sectors pmem0 $BASE 32 "$SEED" || fail "writing the data failed"
mc0=$(counter pmem0 machine_checks)
rr0=$(counter pmem0 ranges_recorded)

latent_inject pmem0 $BAD 1
expect_bb pmem0 none || fail "latent poison must not be in badblocks before it is read"
sector_reads pmem0 $P1 3 "$SEED" || fail "sectors before the poison"
sector_reads pmem0 $((BAD + 1)) 4 "$SEED" || fail "sectors after the poison"
expect_counter pmem0 machine_checks "$mc0" || fail "reads beside the poison took a machine check"
log "latent poison at $BAD: not recorded, neighbours read"

sector_eio pmem0 $P1 8 || fail "first read over latent poison"
expect_bb pmem0 "$BAD 1" || fail "the machine check did not record the poisoned sector"
expect_counter pmem0 machine_checks $((mc0 + 1)) || fail "machine check not counted"
expect_counter pmem0 ranges_recorded $((rr0 + 1)) || fail "recorded range not counted"
log "first read: EIO, recorded $BAD 1, one machine check"

sector_eio pmem0 $P1 8 || fail "second read of the page"
sector_eio pmem0 $BAD 1 || fail "read of the bad sector"
expect_counter pmem0 machine_checks $((mc0 + 1)) || fail "second read took a new machine check"
expect_counter pmem0 ranges_recorded $((rr0 + 1)) || fail "second read recorded again"
sector_reads pmem0 $((BAD - 1)) 1 "$SEED" || fail "sector before"
sector_reads pmem0 $((BAD + 1)) 1 "$SEED" || fail "sector after"
expect_bb pmem0 "$BAD 1" || fail "record changed"
log "second read: EIO from badblocks, no new machine check"

write_sectors pmem0 $BAD 1 "$NEW" || fail "write over the poisoned sector"
expect_bb pmem0 none || fail "write did not clear the record"
sector_reads pmem0 $BAD 1 "$NEW" || fail "written sector"
sector_reads pmem0 $P1 3 "$SEED" || fail "sectors before, same page"
sector_reads pmem0 $((BAD + 1)) 4 "$SEED" || fail "sectors after, same page"
expect_counter pmem0 machine_checks $((mc0 + 1)) || fail "reads after the clear took a machine check"
log "write cleared it; reads work"

# Latent poison overwritten before anyone read it.
latent_inject pmem0 $((BASE + 20)) 2
write_sectors pmem0 $((BASE + 16)) 8 "$NEW" || fail "write over unread latent poison"
sector_reads pmem0 $((BASE + 16)) 8 "$NEW" || fail "page written over latent poison"
expect_counter pmem0 machine_checks $((mc0 + 1)) || fail "overwritten latent poison took a machine check"
expect_bb pmem0 none || fail "badblocks changed"
log "a write removes unread latent poison"
log "counters: $(counters_line pmem0)"
