#!/bin/bash
# Unbind the namespace under a mounted -o dax file system with nothing
# mapped (ext4; xfs -m reflink=0,rmapbt=0): file I/O then fails with an
# error, umount works, no kernel warning; after bind and mount the data is
# intact. Never keeps a file mapped (nd_pmem oopses then).
# timeout: 300
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
on_exit cleanup_mounts

NS=$(dev_ns pmem0)

# fails_cleanly WHAT PMEMIO_ARGS...: the tool reports an errno, nothing else.
fails_cleanly() {
	local what=$1 out
	shift
	out=$(pmemio "$@" 2>&1)
	case $out in
	"err E"*) log "$what after unbind: $out" ;;
	*) fail "$what after unbind: expected an error, got '$out'" ;;
	esac
}

for spec in "ext4" "xfs reflink=0,rmapbt=0"; do
	read -r FS MOPTS <<<"$spec"
	MNT="$MNT_BASE/dax_unbind_$FS"
	SEED=$(random_seed)
	dax_fs_setup "$FS" pmem0 "$MNT" "$MOPTS" || fail "$FS -o dax mount failed"
	must pmemio write "$MNT/f" 0 $((MiB + 4096)) "$SEED" creat fsync
	sync

	exec 3<"$MNT/f" # held open (not mapped) across the unbind
	ns_unbind "$NS" || fail "$FS: unbind under the mount failed"
	if out=$(dd bs=4096 count=1 status=none <&3 2>&1 >/dev/null); then
		fail "$FS: read(2) on a file opened before the unbind succeeded"
	fi
	log "$FS: read of the open file after unbind: ${out:-failed}"
	exec 3<&-
	fails_cleanly "$FS: read" read "$MNT/f" 0 4096
	fails_cleanly "$FS: write" write "$MNT/g" 0 4096 "$SEED" creat fsync
	fs_umount "$MNT" || fail "$FS: umount after unbind failed"

	ns_bind "$NS" || fail "$FS: bind failed"
	dax_mount pmem0 "$MNT" || fail "$FS: mount after bind failed"
	must pmemio verify "$MNT/f" 0 $((MiB + 4096)) "$SEED"
	file_is_dax "$MNT/f" || fail "$MNT/f: no STATX_ATTR_DAX"
	log "$FS: data intact after unbind under the mount, umount, bind, mount"
	fs_umount "$MNT" || fail "umount failed"
done
