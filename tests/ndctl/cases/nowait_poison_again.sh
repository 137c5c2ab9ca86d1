#!/bin/bash
# nowait_poison_again on nfit_test.0, whose bus clears poison with the clear-error
# DSM, a call into ACPI that may sleep (the memmap and QEMU NFIT cases are in
# tests/guest/cases). A RWF_NOWAIT O_DIRECT write of one page over poison found by
# ARS returns EAGAIN and changes nothing: the record, the media error, the data, the
# counters. The same write without RWF_NOWAIT clears through the DSM (cleared_dsm +1)
# and writes. nd_pmem has no BLK_FEAT_NOWAIT in 7.3: RWF_NOWAIT is EOPNOTSUPP there.
set -u
. /src/tests/guest/lib.sh
. /src/tests/ndctl/lib.sh

nfit_namespace raw
SEED=$(random_seed)
NEW=$(random_seed)
BASE=$((NS_SECTORS / 2 / 8 * 8)) # 4 pages from the middle
BAD=$((BASE + 8 + 3))            # sectors 3..4 of page 1
OFF=$(((BASE + 8) * SECTOR_SIZE))
write_sectors "$BLK" $BASE 32 "$SEED" || fail "writing the pattern failed"
must "$NDCTL" inject-error --block=$BAD --count=2 "$NS"
nfit_scrub nfit_test.0
wait_until 30 bb_at_least "$BLK" 1 || fail "no badblocks after ARS"
expect_bb "$BLK" "$BAD 2" || fail "badblocks do not match the injected range"
require_counters "$BLK"
[ "$DRIVER" = rust ] && c0=$(counters_line "$BLK")
sync
echo 3 >/proc/sys/vm/drop_caches

unchanged() {
	expect_bb "$BLK" "$BAD 2" || fail "the record changed"
	[ -n "$(nfit_media_errors "$NS")" ] || fail "the media error is gone"
	sector_reads "$BLK" $BASE 11 "$SEED" || fail "data before the range changed"
	sector_reads "$BLK" $((BAD + 2)) 19 "$SEED" || fail "data after the range changed"
}

if [ "$DRIVER" = c ]; then
	must_err EOPNOTSUPP pmemio write "/dev/$BLK" $OFF 4096 "$NEW" direct rwf_nowait
	unchanged
	log "nd_pmem: RWF_NOWAIT is EOPNOTSUPP (no BLK_FEAT_NOWAIT), nothing changed"
	exit 0
fi

must_err EAGAIN pmemio write "/dev/$BLK" $OFF 4096 "$NEW" direct rwf_nowait
unchanged
expect_eq "counters after the NOWAIT write" "$c0" "$(counters_line "$BLK")" ||
	fail "the NOWAIT write counted something"
log "RWF_NOWAIT write over the poison: EAGAIN, nothing changed"

dsm0=$(counter "$BLK" cleared_dsm)
write_sectors "$BLK" $((BASE + 8)) 8 "$NEW" || fail "the write without RWF_NOWAIT failed"
expect_bb "$BLK" none || fail "the write did not clear the record"
[ -z "$(nfit_media_errors "$NS")" ] || fail "media errors left: $(nfit_media_errors "$NS" | tr '\n' ' ')"
sector_reads "$BLK" $((BASE + 8)) 8 "$NEW" || fail "new data"
expect_counter "$BLK" cleared_dsm $((dsm0 + 1)) || fail "cleared_dsm: expected one page"
log "the same write without RWF_NOWAIT clears through the DSM and writes: $(counters_line "$BLK")"
