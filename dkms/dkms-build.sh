#!/bin/bash
# DKMS build of rust_pmem for kernel release $1: the Rust metadata its headers lack is
# recreated from the installed linux-source of the same version (rust-metadata.sh, once
# per release, under /var/cache/rust-pmem-dkms/RELEASE), then the production module is
# built against it. A kernel whose compilers or source are not here fails with a message
# naming what differs.
set -euo pipefail
release=${1:?usage: dkms-build.sh KERNEL_RELEASE}
here=$(cd "$(dirname "$0")" && pwd)
hdr=/lib/modules/$release/build
cache=/var/cache/rust-pmem-dkms/$release
series=$(echo "$release" | cut -d. -f1-2)
tarball=/usr/src/linux-source-$series.tar.xz
[ -r "$tarball" ] || { echo "rust-pmem: no $tarball: install linux-source-$series" >&2; exit 1; }
bash "$here/rust-metadata.sh" "$release" "$hdr" "$tarball" "$cache"
# shellcheck disable=SC2046
make -C "$cache/linux" M="$here" CONFIG_BLK_DEV_PMEM_RUST=m $(cat "$cache/make-args") modules
