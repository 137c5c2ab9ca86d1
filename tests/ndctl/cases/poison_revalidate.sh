#!/bin/bash
# NVDIMM_REVALIDATE_POISON: with a namespace bound (fsdax on nfit_test.0), poison
# injected with `ndctl inject-error` and found by ARS shows in the disk's badblocks
# without a rebind (the bus notifies the region, the driver re-reads the bus's poison
# list), and reads over it then fail EIO at once: from the record, not from touching
# the media (rust_pmem: machine_checks unchanged). Injecting more while the first range
# is recorded adds it; clearing both by writes leaves nothing.
set -u
. /src/tests/guest/lib.sh
. /src/tests/ndctl/lib.sh

nfit_namespace fsdax
expect_bb "$BLK" none || fail "new namespace has badblocks"
require_counters "$BLK"
[ "$DRIVER" = rust ] && mc0=$(counter "$BLK" machine_checks)

# ndctl inject-error counts sectors from the start of the namespace, the disk starts
# after the fsdax info block and reservation: the ranges are read back from badblocks.
must "$NDCTL" inject-error --block=$((NS_SECTORS / 2)) --count=8 "$NS"
nfit_scrub nfit_test.0
wait_until 30 bb_at_least "$BLK" 1 || fail "ARS found the poison but the disk's badblocks stayed empty"
read -r S1 N1 <<<"$(bb_list "$BLK" | head -n1)"
log "after ARS, without a rebind: badblocks '$(bb_show "$BLK")'"
[ "$N1" -ge 1 ] || fail "empty range"
sector_eio "$BLK" "$S1" "$N1" || fail "a read over the new range does not fail"
[ "$DRIVER" = rust ] && { expect_counter "$BLK" machine_checks "$mc0" || fail "the read touched the media"; }

must "$NDCTL" inject-error --block=$((NS_SECTORS * 3 / 4)) --count=1 "$NS"
nfit_scrub nfit_test.0
wait_until 30 bb_at_least "$BLK" 2 || fail "the second range did not show: '$(bb_show "$BLK")'"
log "second injection: badblocks '$(bb_show "$BLK")'"

while read -r s n; do
	zero_sectors "$BLK" "$s" "$n" || fail "clearing write over $s+$n failed"
done < <(bb_list "$BLK")
expect_bb "$BLK" none || fail "records left after the writes"
[ -z "$(nfit_media_errors "$NS")" ] || fail "media errors left: $(nfit_media_errors "$NS" | tr '\n' ' ')"
