#!/bin/bash
# ext4 -o dax: a written, synced file whose first page is recorded bad (sysfs,
# the 8 sectors FIEMAP gives for it). After umount/mount (nothing cached or
# mapped), a load from a mapping of that page in a child process gets SIGBUS
# with si_code BUS_MCEERR_AR at the loaded address (direct_access returns
# -EHWPOISON, the fault VM_FAULT_HWPOISON), again on a second try; read(2) of
# the page fails with EIO; the second page reads and maps fine. No oops (the
# runner checks the kernel log). Clean-up: umount, write zeroes over the range
# through the block device; then the page maps and reads as zeroes.
set -u
. "$(dirname "$0")/../lib.sh"
poison_test_setup pmem0

MNT="$MNT_BASE/dax_mmap_sigbus"
SEED=$(random_seed)
F="$MNT/f"
dax_fs_setup ext4 pmem0 "$MNT" || fail "ext4 -o dax mount failed"
must pmemio write "$F" 0 65536 "$SEED" creat fsync
S=$(file_sector "$F" 0) || fail "no sector for $F offset 0"
[ $((S % 8)) = 0 ] || fail "first block of $F at sector $S: not page aligned"
log "$F page 0 is sectors $S..$((S + 7))"
sector_reads pmem0 "$S" 8 "$SEED" 0 || fail "FIEMAP sector does not hold the file's data"

out=$(poison mmap-read "$F" 100)
[[ $out == "ok byte="* ]] || fail "mapped load before poisoning: $out"

bb_add pmem0 "$S" 8
dax_remount pmem0 "$MNT" || fail "remount failed"

for try in 1 2; do
	out=$(poison mmap-read "$F" 100)
	log "mapped load of the bad page (try $try): $out"
	case $out in
	"sigbus code=BUS_MCEERR_AR addr=load lsb="*) ;;
	*) fail "expected SIGBUS BUS_MCEERR_AR at the loaded address, got '$out'" ;;
	esac
done
out=$(poison mmap-read "$F" $((4096 + 100)))
[[ $out == "ok byte="* ]] || fail "mapped load of the good second page: $out"
must_err EIO pmemio read "$F" 0 4096
must pmemio verify "$F" 4096 61440 "$SEED"
must dax_mmap verify "$F" 4096 61440 "$SEED"
expect_bb pmem0 "$S 8" || fail "record changed"
log "bad page: SIGBUS (BUS_MCEERR_AR) when mapped, EIO on read; the rest of the file is fine"

fs_umount "$MNT" || fail "umount failed"
zero_sectors pmem0 "$S" 8 || fail "writing zeroes over the bad page failed"
expect_bb pmem0 none || fail "write over the range did not clear it"
dax_mount pmem0 "$MNT" || fail "mount after the clear failed"
out=$(poison mmap-read "$F" 100)
[ "$out" = "ok byte=0x00" ] || fail "mapped load after the clear: $out"
must pmemio zero "$F" 0 4096
must pmemio verify "$F" 4096 61440 "$SEED"
log "after zeroing through the block device: the page maps and reads zeroes"
fs_umount "$MNT" || fail "umount failed"
