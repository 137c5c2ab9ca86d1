#!/bin/bash
# ext4 (4 KiB blocks) on /dev/pmem0 mounts with -o dax: dax=always in
# /proc/mounts, files have STATX_ATTR_DAX, data survives umount/mount.
set -u
. "$(dirname "$0")/../lib.sh"
require_tools
dax_mount_test ext4
