#!/bin/bash
# MAP_SHARED_VALIDATE|MAP_SYNC is accepted on ext4 and xfs mounted -o dax
# (the driver's dax device is synchronous); stores through it without msync
# reach the media (munmap, umount, unbind/bind, mount, verify), and the sync
# faults' metadata commits reach the region's flush (lib.sh's flush_watch).
# On virtio-pmem the region is asynchronous: MAP_SYNC is refused with
# EOPNOTSUPP there (as nd_pmem refuses it: no synchronous dax device), DAX
# mappings work without it, and their msync reaches the host's flush.
# Mounted with -o dax=never the same mapping fails with EOPNOTSUPP.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
on_exit 'flush_watch_stop; cleanup_mounts'

NS=$(dev_ns pmem0)

for FS in ext4 xfs; do
	MNT="$MNT_BASE/dax_map_sync_$FS"
	SEED=$(random_seed)
	dax_fs_setup $FS pmem0 "$MNT" || fail "$FS -o dax mount failed"
	must pmemio write "$MNT/probe" 0 65536 "$SEED" creat fsync
	mnt_is_dax "$MNT" || fail "$FS: not a DAX mount: $(mnt_opts "$MNT")"
	if [ "$PMEM" = virtio ]; then
		must_err EOPNOTSUPP dax_mmap probe-sync "$MNT/probe"
		log "$FS -o dax on virtio-pmem: MAP_SYNC refused with EOPNOTSUPP"
		flush_watch_start pmem0
		must dax_mmap write "$MNT/s" 0 $((2 * MiB)) "$SEED"
		must dax_mmap write "$MNT/s" $((2 * MiB + 4096 + 100)) 10000 "$SEED"
		flush_watch_take
		log "$FS: DAX stores and msync: region flushes (preflush fua) $FLUSH_SEEN"
		read -r p f <<<"$FLUSH_SEEN"
		[ $((p + f)) -ge 2 ] || fail "$FS: each msync must reach the host's flush"
	else
		out=$(dax_mmap probe-sync "$MNT/probe" 2>&1) || fail "$FS -o dax: MAP_SYNC refused: $out"
		log "$FS -o dax: $out"
		flush_watch_start pmem0
		must dax_mmap write "$MNT/s" 0 $((2 * MiB)) "$SEED" sync nomsync
		flush_watch_take
		log "$FS: MAP_SYNC stores (allocating faults): region flushes (preflush fua) $FLUSH_SEEN"
		read -r p f <<<"$FLUSH_SEEN"
		[ $((p + f)) -ge 1 ] || fail "$FS: the sync faults' metadata commit did not reach the region's flush"
		must dax_mmap write "$MNT/s" $((2 * MiB + 4096 + 100)) 10000 "$SEED" sync nomsync
	fi
	flush_watch_stop
	fs_umount "$MNT" || fail "umount failed"
	ns_rebind "$NS" || fail "rebind failed"
	dax_mount pmem0 "$MNT" || fail "mount after rebind failed"
	must pmemio verify "$MNT/s" 0 $((2 * MiB)) "$SEED"
	must pmemio verify "$MNT/s" $((2 * MiB + 4096 + 100)) 10000 "$SEED"
	log "$FS: DAX stores intact after umount, rebind, mount"
	fs_umount "$MNT" || fail "umount failed"

	fs_mount pmem0 "$MNT" dax=never || fail "mount -o dax=never failed"
	! mnt_is_dax "$MNT" || fail "-o dax=never mount shows dax: $(mnt_opts "$MNT")"
	out=$(statx_dax "$MNT/probe" 2>&1)
	expect_eq "statx DAX of a file on a dax=never mount" "dax 0" "$out" || fail "file is DAX"
	must_err EOPNOTSUPP dax_mmap probe-sync "$MNT/probe"
	log "$FS -o dax=never: MAP_SYNC refused with EOPNOTSUPP"
	fs_umount "$MNT" || fail "umount failed"
done
