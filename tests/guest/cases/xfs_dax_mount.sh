#!/bin/bash
# xfs (reflink=0) on /dev/pmem0 mounts with -o dax: dax=always in
# /proc/mounts, files have STATX_ATTR_DAX, data survives umount/mount.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
dax_mount_test xfs
