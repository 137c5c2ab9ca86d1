#!/bin/bash
# /sys/block/pmem0/dax/write_cache: reads "0"/"1", takes what kstrtobool
# takes (first character: 0/1, y/n, t/f, e/d, on/off), refuses anything else
# with EINVAL leaving the value alone, and is reset by a rebind.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools

F=/sys/block/pmem0/dax/write_cache
NS=$(dev_ns pmem0)
[ -f $F ] || fail "$F missing"
INITIAL=$(cat $F)
# nd_pmem: dax_write_cache(nvdimm_has_cache(region)), 1 for an e820 region
expect_eq "initial $F" 1 "$INITIAL" || fail "unexpected initial value"
on_exit 'echo "$INITIAL" >$F'

# set VALUE EXPECTED: writing VALUE (escapes allowed) is accepted, reads EXPECTED.
set_to() {
	local out
	out=$(sysfs_write $F "$1" 2>&1) || fail "writing '$1' to $F: $out"
	expect_eq "$F after writing '$1'" "$2" "$(cat $F)" || fail "wrong value"
}

# rejected VALUE: writing VALUE fails with EINVAL, the value is unchanged.
rejected() {
	local before
	before=$(cat $F)
	must_err EINVAL sysfs_write $F "$1"
	expect_eq "$F after refused '$1'" "$before" "$(cat $F)" || fail "value changed"
}

set_to 0 0
set_to 1 1
set_to '0\n' 0
set_to '1\n' 1
for v in 0 1; do
	set_to $v $v
	for bad in 2 '2\n' x 'x\n' '\n' ' 1' o 'o\n' ox -1; do
		rejected "$bad"
	done
	# An empty write never reaches the driver (sysfs returns 0): no change.
	out=$(sysfs_write $F '' 2>&1)
	case $out in "ok 0" | "err EINVAL"*) ;; *) fail "empty write: $out" ;; esac
	expect_eq "$F after an empty write" $v "$(cat $F)" || fail "value changed"
done
log "2, x, newline, ' 1', o, ox, -1 rejected with EINVAL; empty write ignored"

for pair in enable:1 nope:0 on:1 off:0 yes:1 disable:0 'Y\n':1 'N\n':0 true:1 false:0 \
	'on\n':1 'OFF\n':0 1x:1 0x:0; do
	set_to "${pair%:*}" "${pair##*:}"
done
log "enable, nope, on, off, yes, disable, Y, N, true, false, 1x, 0x accepted"

set_to 0 0
ns_rebind "$NS" || fail "rebind failed"
expect_eq "$F after rebind" "$INITIAL" "$(cat $F)" || fail "not reset by probe"
