#!/bin/bash
# 50 (debug kernel: 10) unbind/bind cycles of namespace0.0 with an I/O check each
# time: data written before each unbind reads back after the bind, so do all earlier
# pieces at the end. With kmemleak, no leak report may name the driver.
# timeout: 600
set -u
. "$(dirname "$0")/../lib.sh"
require_tools

CYCLES=${REBIND_CYCLES:-$(reps 50 10)}
NS=$(dev_ns pmem0)
DEV=/dev/$(ns_dev "$NS")
SEED=$(random_seed)
LEN=$((4096 + 512))

piece_off() { echo $((64 * MiB + $1 * 256 * 1024 + 512)); }

for i in $(seq 1 "$CYCLES"); do
	must pmemio write "$DEV" "$(piece_off "$i")" $LEN "$SEED" direct
	ns_unbind "$NS" || fail "cycle $i: unbind failed"
	ns_bind "$NS" || fail "cycle $i: bind failed"
	must pmemio verify "$DEV" "$(piece_off "$i")" $LEN "$SEED" direct
	must pmemio verify "$DEV" "$(piece_off 1)" $LEN "$SEED"
done
for i in $(seq 1 "$CYCLES"); do
	must pmemio verify "$DEV" "$(piece_off "$i")" $LEN "$SEED" direct
done
log "$CYCLES unbind/bind cycles of $NS, all pieces intact"
kmemleak_check || fail "kmemleak reports"
