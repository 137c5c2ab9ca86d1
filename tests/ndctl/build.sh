#!/bin/bash
# Everything the ndctl runs need, built against the cached base kernel:
#  - the kernel's nfit_test modules (tools/testing/nvdimm), built once per kernel in
#    their own output directory beside the kernel tree (the tree itself is untouched);
#  - rust_pmem's nfit_test build (RUST_PMEM_NFIT=1), from a copy of the sources, so
#    the in-place builds of the repository are untouched: build/ndctl/rust_pmem.ko;
#  - the stand-in nd_pmem for rust_pmem's runs (tests/ndctl/stub);
#  - a module directory per driver, build/ndctl/mods-{c,rust}/lib/modules/0.0.0: the
#    kernel's modules, except those nfit_test replaces, which are in extra/ (where
#    ndctl's test core insists on finding them); the guest points /lib/modules at it;
#  - ndctl's test suite (scripts/ndctl.sh).
# Writes build/ndctl/env (paths for the guest).
. "$(dirname "$0")/../../scripts/lib.sh"

KEY=$(kernel_key base)
KD=/kbuild/$KEY/linux
NT=/kbuild/$KEY/nfit_test
OUT=/src/build/ndctl
[ -e "$ROOT$KD/../built" ] || die "no base kernel built: run scripts/provision.sh"

# The kernel options tools/testing/nvdimm's config_check.c insists on (all =m).
for opt in LIBNVDIMM BLK_DEV_PMEM ND_BTT ND_PFN ACPI_NFIT DEV_DAX DEV_DAX_PMEM X86_PMEM_LEGACY; do
	grep -qx "CONFIG_$opt=m" "$ROOT$KD/.config" ||
		die "nfit_test needs CONFIG_$opt=m in the kernel config (kernel/config.fragment); it is: $(grep "CONFIG_$opt[=\ ]" "$ROOT$KD/.config" || echo unset)"
done

if [ ! -e "$ROOT$NT/built" ]; then
	log "nfit_test: building tools/testing/nvdimm (log: $CACHE/nfit_test-build.log)"
	in_root /bin/sh -c "set -e; rm -rf $NT; mkdir -p $NT/obj/tools/testing/nvdimm
		make -C $KD M=$KD/tools/testing/nvdimm MO=$NT/obj/tools/testing/nvdimm -j$(nproc) modules
		touch $NT/built" >"$CACHE/nfit_test-build.log" 2>&1 || {
		tail -n 30 "$CACHE/nfit_test-build.log" >&2
		die "building nfit_test failed (log: $CACHE/nfit_test-build.log)"
	}
fi
NTO=$NT/obj/tools/testing/nvdimm

log "nfit_test: rust_pmem's nfit_test build and the nd_pmem stand-in"
in_root /bin/bash -c "set -e
	rm -rf $OUT && mkdir -p $OUT/src $OUT/stub
	cp /src/*.rs /src/*.c /src/*.h /src/Makefile /src/Kconfig $OUT/src/
	cp /src/tests/ndctl/stub/* $OUT/stub/
	# Only the wrappers and get_nfit_res: libnvdimm's exports are in the kernel's own
	# Module.symvers already.
	grep -P '\t(__wrap_\w+|get_nfit_res)\t' $NTO/Module.symvers >$OUT/iomap.symvers
	make -s -C $KD M=$OUT/src CONFIG_BLK_DEV_PMEM_RUST=m RUST_PMEM_NFIT=1 ${CLIPPY:+CLIPPY=1} \
		KBUILD_EXTRA_SYMBOLS=$OUT/iomap.symvers modules
	cp $OUT/src/rust_pmem.ko $OUT/rust_pmem.ko
	# The wraps must have caught every mapping call (a call made elsewhere, e.g. through
	# the kernel crate, would escape them silently).
	if nm -u $OUT/src/rust_pmem.o | grep -Ew '(devm_memremap|devm_memremap_pages|__devm_request_region|memremap)$'; then
		echo 'unwrapped mapping calls in the nfit_test build' >&2; exit 1
	fi
	make -s -C $KD M=$OUT/stub modules" >&2 || die "building rust_pmem's nfit_test variant failed"

# The module directories.
for drv in c rust; do
	in_root /bin/bash -c "set -e
		M=$OUT/mods-$drv/lib/modules/0.0.0
		mkdir -p \$M/kernel \$M/extra
		for ko in \$(find $NTO -name '*.ko'); do cp \$ko \$M/extra/; done
		[ $drv = rust ] && cp $OUT/stub/nd_pmem.ko \$M/extra/nd_pmem.ko
		sed 's/\.o\$/.ko/' $KD/modules.order | while read -r ko; do
			[ -e \$M/extra/\$(basename \$ko) ] && continue
			mkdir -p \$M/kernel/\$(dirname \$ko)
			ln -s $KD/\$ko \$M/kernel/\$ko
		done
		cp $KD/modules.builtin $KD/modules.builtin.modinfo \$M/
		sed 's/\.o\$/.ko/; s|^|kernel/|' $KD/modules.order >\$M/modules.order
		depmod -a -b $OUT/mods-$drv -F $KD/System.map 0.0.0
		modinfo -b $OUT/mods-$drv -k 0.0.0 -n nfit_test | grep -q /extra/
		modinfo -b $OUT/mods-$drv -k 0.0.0 -n nd_pmem | grep -q /extra/" >&2 ||
		die "assembling the $drv module directory failed"
done

NDCTL_BUILD=$(bash "$REPO/scripts/ndctl.sh") || die "ndctl's test suite did not build"
cat >"$REPO/build/ndctl/env" <<-EOF
	NDCTL_BUILD=$NDCTL_BUILD
	NDCTL_SRC=${NDCTL_BUILD%/build}/src
	NDCTL_MODS=$OUT/mods-\$DRIVER/lib/modules/0.0.0
	NDCTL_RUST_KO=$OUT/rust_pmem.ko
EOF
log "nfit_test: ready (build/ndctl)"
