#!/bin/bash
# In the guest: load rust_pmem on memmap= pmem, put ext4 -o dax on /dev/pmem0, write and
# read back a file through the page tables (mmap) and read(2), and show what happened.
set -euo pipefail
say() { printf '\n### %s\n' "$*"; }
trap 'echo "demo: FAILED at line $LINENO"' ERR

say "kernel $(uname -r), pmem regions from memmap=: $(grep -o 'memmap=[^ ]*' /proc/cmdline | tr '\n' ' ')"
modprobe nd_e820
KO=${RUST_PMEM_KO:-/src/rust_pmem.ko}
# insmod loads no dependencies (libnvdimm, nd_btt): modprobe them first.
modprobe -a $(modinfo -F depends "$KO" | tr ',' ' ')
insmod "$KO"
for i in $(seq 100); do [ -b /dev/pmem0 ] && [ -b /dev/pmem1 ] && break; sleep 0.1; done
say "namespaces bound to rust_pmem"
ls /sys/bus/nd/drivers/rust_pmem/ | grep namespace
lsblk -o NAME,SIZE,LOG-SEC,PHY-SEC,DAX /dev/pmem0 /dev/pmem1 2>/dev/null || lsblk /dev/pmem0 /dev/pmem1
say "kernel log"
dmesg | grep -E 'rust_pmem|pmem[0-9]|nd_' | grep -vE 'Subtest|ok [0-9]|# rust_pmem' | tail -n 8 || true

say "ext4 with DAX on /dev/pmem0"
mkfs.ext4 -q -F -b 4096 /dev/pmem0
mkdir -p /tmp/pmem0
mount -o dax /dev/pmem0 /tmp/pmem0
grep pmem0 /proc/mounts
python3 - <<'PY'
import mmap, os, hashlib
path = "/tmp/pmem0/hello"
data = os.urandom(1 << 20)
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, len(data))
m = mmap.mmap(fd, len(data), mmap.MAP_SHARED)
m[:] = data          # stores go straight to pmem through the page tables
m.flush(); m.close(); os.close(fd)
print("wrote 1 MiB through a DAX mapping, sha256", hashlib.sha256(data).hexdigest()[:16])
open("/tmp/hello.sha", "w").write(hashlib.sha256(data).hexdigest())
PY
umount /tmp/pmem0
mount -o dax /dev/pmem0 /tmp/pmem0
got=$(sha256sum /tmp/pmem0/hello | cut -d' ' -f1)
echo "after remount, read(2) gives sha256 ${got:0:16}"
[ "$got" = "$(cat /tmp/hello.sha)" ] || { echo "demo: data differs after remount"; exit 1; }
xfs_io -c 'statx -r' /tmp/pmem0/hello 2>/dev/null | grep -E 'stat.attributes' || true
[ -n "$(find /sys/block/pmem0/dax -name write_cache)" ] && echo "dax/write_cache: $(cat /sys/block/pmem0/dax/write_cache)"
umount /tmp/pmem0

say "unload"
rmmod rust_pmem
[ ! -e /dev/pmem0 ] && echo "rust_pmem unloaded, /dev/pmem0 gone"
if dmesg | grep -E 'WARNING:|BUG:|Oops'; then echo "demo: kernel warnings"; exit 1; fi
echo "demo: OK"
