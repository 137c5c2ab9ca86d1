#!/bin/bash
# Bad I/O is refused with nd_pmem's errors and changes nothing:
# misaligned O_DIRECT -> EINVAL; write at/past the end -> ENOSPC; read at the
# end -> 0 bytes; BLKDISCARD -> EOPNOTSUPP; BLKZEROOUT zeroes exactly its
# range; read-only (blockdev --setro, region read_only) -> EPERM.
# After each refused request a known area is checked to be unchanged.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools

DEV=/dev/pmem0
NS=$(dev_ns pmem0)
REGION=$(ns_region "$NS")
SIZE=$(dev_size pmem0)
K_OFF=$((MiB))
K_LEN=$((MiB))
SEED=$(random_seed)
OTHER=$(random_seed)

restore() {
	blockdev --setrw $DEV 2>/dev/null
	if [ "$(region_ro "$REGION")" != 0 ]; then
		region_set_ro "$REGION" 0
		ns_rebind "$NS"
	fi
}
on_exit restore

known_intact() { must pmemio verify $DEV $K_OFF $K_LEN "$SEED" direct; }

# refused ERRNO PMEMIO_ARGS...: the request fails with ERRNO, the area is intact.
refused() {
	must_err "$@"
	known_intact
	log "refused with $1: ${*:2}"
}

# returns EXPECTED PMEMIO_ARGS...: pmemio prints EXPECTED.
returns() {
	local want=$1 out
	shift
	out=$(pmemio "$@" 2>&1)
	expect_eq "result of pmemio $*" "$want" "$out" || fail "unexpected result"
	known_intact
	log "pmemio $*: $out"
}

must pmemio write $DEV $K_OFF $K_LEN "$SEED" direct
known_intact

log "-- misaligned O_DIRECT"
for a in "$((K_OFF + 1)) 4096" "$((K_OFF + 256)) 4096" "$((K_OFF + 4096)) 4095" \
	"$((K_OFF + 4096)) 100" "$((K_OFF + 4096)) 4609"; do
	read -r off len <<<"$a"
	refused EINVAL pmemio write $DEV "$off" "$len" "$OTHER" direct
	refused EINVAL pmemio read $DEV "$off" "$len" direct
done
for b in 1 8 256; do
	refused EINVAL pmemio write $DEV $((K_OFF + 4096)) 4096 "$OTHER" direct bufoff=$b
	refused EINVAL pmemio read $DEV $((K_OFF + 4096)) 4096 direct bufoff=$b
done
# Controls: a 512-aligned buffer and request are fine (same data rewritten).
returns "ok 4096" write $DEV $((K_OFF + 512)) 4096 "$SEED" direct bufoff=512
returns "ok 512" read $DEV $((K_OFF + 512)) 512 direct bufoff=512

log "-- end of the device ($SIZE bytes)"
for opts in direct ""; do
	# shellcheck disable=SC2086
	refused ENOSPC pmemio write $DEV "$SIZE" 4096 "$OTHER" $opts
	# shellcheck disable=SC2086
	refused ENOSPC pmemio write $DEV $((SIZE + MiB)) 4096 "$OTHER" $opts
	# shellcheck disable=SC2086
	returns "ok 0" read $DEV "$SIZE" 4096 $opts
	# shellcheck disable=SC2086
	returns "ok 0" read $DEV $((SIZE + 4096)) 4096 $opts
done
# A request crossing the end is cut at the end.
returns "short 2048 of 4096" write $DEV $((SIZE - 2048)) 4096 "$OTHER" direct
returns "ok 2048" read $DEV $((SIZE - 2048)) 4096 direct
must pmemio verify $DEV $((SIZE - 2048)) 2048 "$OTHER" direct

log "-- BLKDISCARD, BLKZEROOUT"
refused EOPNOTSUPP pmemio discard $DEV $K_OFF 4096
refused EOPNOTSUPP pmemio discard $DEV 0 "$SIZE"
refused EINVAL pmemio zeroout $DEV $((K_OFF + 1)) 4096
refused EINVAL pmemio zeroout $DEV $K_OFF 1000
refused EINVAL pmemio zeroout $DEV $((SIZE - 4096)) 8192
Z_OFF=$((K_OFF + 64 * 1024 + 512))
Z_LEN=$((8192 + 512))
must pmemio zeroout $DEV $Z_OFF $Z_LEN
must pmemio zero $DEV $Z_OFF $Z_LEN direct
must pmemio verify $DEV $K_OFF $((Z_OFF - K_OFF)) "$SEED" direct
must pmemio verify $DEV $((Z_OFF + Z_LEN)) $((K_OFF + K_LEN - Z_OFF - Z_LEN)) "$SEED" direct
log "BLKZEROOUT zeroed [$Z_OFF, +$Z_LEN), neighbours unchanged"
# The page cache sees the zeroes too.
must pmemio zero $DEV $Z_OFF $Z_LEN
must pmemio write $DEV $Z_OFF $Z_LEN "$SEED" direct
known_intact

log "-- blockdev --setro"
blockdev --setro $DEV || fail "blockdev --setro failed"
expect_eq "/sys/block/pmem0/ro after --setro" 1 "$(cat /sys/block/pmem0/ro)" || fail "not read-only"
refused EPERM pmemio write $DEV $K_OFF 4096 "$OTHER" direct
refused EPERM pmemio write $DEV $K_OFF 4096 "$OTHER"
refused EPERM pmemio zeroout $DEV $K_OFF 4096
blockdev --setrw $DEV || fail "blockdev --setrw failed"
returns "ok 4096" write $DEV $K_OFF 4096 "$SEED" direct

log "-- $REGION read_only"
region_set_ro "$REGION" 1 || fail "cannot set $REGION read_only"
# nd_pmem follows the region at once (NVDIMM_REVALIDATE_REGION) and at probe.
expect_eq "/sys/block/pmem0/ro after $REGION read_only=1" 1 "$(cat /sys/block/pmem0/ro)" ||
	fail "disk did not follow the region's read_only"
refused EPERM pmemio write $DEV $K_OFF 4096 "$OTHER" direct
ns_rebind "$NS" || fail "rebind failed"
expect_eq "/sys/block/pmem0/ro after rebind of a read-only region" 1 "$(cat /sys/block/pmem0/ro)" ||
	fail "disk is not read-only after rebind"
refused EPERM pmemio write $DEV $K_OFF 4096 "$OTHER" direct
refused EPERM pmemio write $DEV $K_OFF 4096 "$OTHER"
refused EPERM pmemio zeroout $DEV $K_OFF 4096
region_set_ro "$REGION" 0 || fail "cannot clear $REGION read_only"
expect_eq "/sys/block/pmem0/ro after $REGION read_only=0" 0 "$(cat /sys/block/pmem0/ro)" ||
	fail "disk did not follow the region's read_only"
ns_rebind "$NS" || fail "rebind failed"
expect_eq "/sys/block/pmem0/ro after rebind" 0 "$(cat /sys/block/pmem0/ro)" || fail "still read-only"
returns "ok 4096" write $DEV $K_OFF 4096 "$SEED" direct
