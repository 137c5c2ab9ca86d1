# shellcheck shell=bash
# Helpers of our own nfit_test cases (tests/ndctl/cases), sourced after
# tests/guest/lib.sh. The guest runner (tests/ndctl/guest.sh) has set up the module
# directory and, on rust, loaded rust_pmem's nfit_test build.
NDCTL=${NDCTL:-$NDCTL_BUILD/ndctl/ndctl}

# nfit_start: nfit_test loaded, nfit_test.0's labels reset and its regions enabled (as
# ndctl's own tests start); on exit its namespaces are destroyed and nfit_test removed.
nfit_start() {
	modprobe nfit_test || fail "modprobe nfit_test failed"
	on_exit nfit_cleanup
	"$NDCTL" disable-region -b nfit_test.0 all >/dev/null &&
		"$NDCTL" init-labels -f -b nfit_test.0 all >/dev/null &&
		"$NDCTL" enable-region -b nfit_test.0 all >/dev/null || fail "cannot reset nfit_test.0"
}

nfit_cleanup() {
	"$NDCTL" destroy-namespace -f -b nfit_test.0 all >/dev/null 2>&1
	"$NDCTL" disable-region -b nfit_test.0 all >/dev/null 2>&1
	"$NDCTL" disable-region -b nfit_test.1 all >/dev/null 2>&1
	modprobe -r nfit_test
}

# nfit_scrub BUS: run ARS on BUS and wait for it to finish.
nfit_scrub() { must "$NDCTL" start-scrub "$1" && must "$NDCTL" wait-scrub "$1"; }

# nfit_media_errors NS: the media errors ndctl lists for NS, "offset length" a line.
nfit_media_errors() {
	"$NDCTL" list --media-errors -n "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for ns in d if isinstance(d, list) else [d]:
    for b in ns.get("badblocks", []):
        print(b["offset"], b["length"])'
}

# bb_at_least DEV N: DEV's badblocks list has N ranges or more (for wait_until).
bb_at_least() { [ "$(bb_list "$1" | grep -c .)" -ge "$2" ]; }

# nfit_namespace MODE: nfit_start, then a MODE namespace (raw, fsdax) on nfit_test.0;
# sets NS (its name), BLK (its disk) and NS_SECTORS (its size in sectors, from ndctl).
nfit_namespace() {
	local json
	nfit_start
	json=$("$NDCTL" create-namespace -b nfit_test.0 -t pmem -m "$1") || fail "create-namespace -m $1 failed"
	NS=$(nv_json_field dev <<<"$json")
	BLK=$(nv_json_field blockdev <<<"$json")
	NS_SECTORS=$(($(nv_json_field size <<<"$json") / SECTOR_SIZE))
	log "$1 namespace $NS: /dev/$BLK, $NS_SECTORS sectors"
}
