#!/bin/bash
# `make run`: provision if needed, build rust_pmem, boot a VM with memmap= pmem and show
# the driver's main job (tests/guest/demo.sh): a DAX filesystem on /dev/pmem0.
. "$(dirname "$0")/lib.sh"
bash "$REPO/scripts/build-module.sh"
log "booting the VM (TCG)"
bash "$REPO/scripts/vm.sh" --driver rust --timeout 600 -- bash tests/guest/demo.sh | tee "$REPO/build/run.log"
grep -q '^demo: OK$' "$REPO/build/run.log" || die "the demo failed (log: build/run.log)"
log "make run: done"
