#!/bin/bash
# The platform clear command end to end, on nfit_test.0 (its emulated bus implements
# ARS, error injection and the clear-error DSM). A raw namespace gets a pattern;
# `ndctl inject-error` plants 2 bad sectors inside one page; after ARS they show in
# badblocks and in `ndctl list --media-errors`, and O_DIRECT reads over them fail EIO.
# A 1 KiB O_DIRECT write exactly over them succeeds: the records and the media errors
# are gone, the sectors read back the new data and the rest of the page its old data,
# and the range does not come back when the region is disabled and enabled again.
# On rust_pmem the write went through the `dsm` backend (MOVDIR64B is absent under
# TCG): cleared_dsm +1 (one page), failed_clears unchanged.
set -u
. /src/tests/guest/lib.sh
. /src/tests/ndctl/lib.sh

nfit_namespace raw
[ "$DRIVER" = rust ] && { expect_eq backend dsm "$(cat "$(rust_dbg "$BLK")/backend")" || fail "wrong backend"; }

SEED=$(random_seed)
NEW=$(random_seed)
BASE=$((NS_SECTORS / 2 / 8 * 8)) # 4 pages from the middle
BAD=$((BASE + 8 + 3))           # sectors 3..4 of page 1
write_sectors "$BLK" $BASE 32 "$SEED" || fail "writing the pattern failed"
[ "$DRIVER" = rust ] && { dsm0=$(counter "$BLK" cleared_dsm); fc0=$(counter "$BLK" failed_clears); }

must "$NDCTL" inject-error --block=$BAD --count=2 "$NS"
nfit_scrub nfit_test.0
wait_until 30 bb_at_least "$BLK" 1 || fail "no badblocks after ARS"
expect_bb "$BLK" "$BAD 2" || fail "badblocks do not match the injected range"
nfit_media_errors "$NS" | grep -q . || fail "ndctl list --media-errors shows nothing"
log "after ARS: badblocks '$(bb_show "$BLK")', media errors: $(nfit_media_errors "$NS" | tr '\n' ' ')"
sector_eio "$BLK" $BAD 2 || fail "reads over the bad range do not fail"

write_sectors "$BLK" $BAD 2 "$NEW" || fail "the write over the bad range failed"
expect_bb "$BLK" none || fail "the write did not clear the record"
[ -z "$(nfit_media_errors "$NS")" ] || fail "media errors left: $(nfit_media_errors "$NS" | tr '\n' ' ')"
sector_reads "$BLK" $BAD 2 "$NEW" || fail "new data"
sector_reads "$BLK" $((BASE + 8)) 3 "$SEED" || fail "old data before the range in the page"
sector_reads "$BLK" $((BAD + 2)) 3 "$SEED" || fail "old data after the range in the page"
sector_reads "$BLK" $BASE 8 "$SEED" || fail "page 0"
sector_reads "$BLK" $((BASE + 16)) 16 "$SEED" || fail "pages 2-3"
if [ "$DRIVER" = rust ]; then
	expect_counter "$BLK" cleared_dsm $((dsm0 + 1)) || fail "cleared_dsm: expected one page"
	expect_counter "$BLK" failed_clears "$fc0" || fail "failed_clears moved"
	log "counters: $(counters_line "$BLK")"
fi
log "cleared through the platform: record, media error and data as expected"

must "$NDCTL" disable-region -b nfit_test.0 all
must "$NDCTL" enable-region -b nfit_test.0 all
wait_until 10 test -b "/dev/$BLK" || fail "/dev/$BLK did not come back"
expect_bb "$BLK" none || fail "the cleared range came back after re-enabling the region"
sector_reads "$BLK" $BAD 2 "$NEW" || fail "new data after re-enabling"
