# SPDX-License-Identifier: GPL-2.0
#
# rust_pmem. Two roles:
#  - Kbuild (with KERNELRELEASE set): in-tree beside drivers/nvdimm, or `make -C $KDIR M=$PWD`.
#  - the user's entry point: make [module|run|check|check-c|clean], see README.md.

ifneq ($(KERNELRELEASE),)

obj-$(CONFIG_BLK_DEV_PMEM_RUST) += rust_pmem.o
# A composite module cannot contain an object named like itself, so the crate root
# rust_pmem.rs is compiled to rust_pmem_crate.o (the crate is still named rust_pmem).
rust_pmem-y := rust_pmem_crate.o pmem_glue.o
ccflags-y += -I$(srctree)/drivers/nvdimm
# RUST_PMEM_TEST=1: the test build (debugfs latent-poison injection).
ifeq ($(RUST_PMEM_TEST),1)
rustflags-y += --cfg rust_pmem_test
ccflags-y += -DRUST_PMEM_TEST
endif
# RUST_PMEM_KUNIT=1: the KUnit suites (where the kernel has CONFIG_KUNIT); without it the
# module carries none, as the production build.
ifeq ($(RUST_PMEM_KUNIT),1)
rustflags-y += --cfg rust_pmem_kunit
endif
# RUST_PMEM_NFIT=1: the nfit_test build (implies the test build). As tools/testing/nvdimm
# relinks pmem.c, the mapping calls of this module's own objects are wrapped at its
# `ld -r`, so on nfit_test's emulated regions they reach nfit_test_iomap.ko; elsewhere
# the wrappers call the real functions. Needs KBUILD_EXTRA_SYMBOLS with the __wrap_*
# and get_nfit_res exports of that module (see tests/ndctl/build.sh).
ifeq ($(RUST_PMEM_NFIT),1)
ldflags-y += --wrap=devm_memremap --wrap=devm_memunmap --wrap=devm_memremap_pages \
	--wrap=__devm_request_region --wrap=__devm_release_region \
	--wrap=memremap --wrap=memunmap
ccflags-y += -DRUST_PMEM_NFIT -DRUST_PMEM_TEST -I$(srctree)/tools/testing/nvdimm
rustflags-y += --cfg rust_pmem_nfit --cfg rust_pmem_test
endif

$(obj)/rust_pmem_crate.o: $(src)/rust_pmem.rs FORCE
	+$(call if_changed_rule,rustc_o_rs)

else

SHELL := /bin/bash
# Build against your own kernel tree: make KDIR=/path/to/linux-7.3 [CLIPPY=1]
KDIR ?=

.PHONY: all module run check check-c check-debug check-ndctl check-dkms bench provision rustfmt rustfmtcheck clean

ifneq ($(KDIR),)
all module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) CONFIG_BLK_DEV_PMEM_RUST=m modules
else
all module:
	bash scripts/build-module.sh
endif

provision:
	bash scripts/provision.sh

run:
	bash scripts/run.sh

# rust_pmem's suite (memmap, nvdimm, virtio, nfit); check-c runs it on nd_pmem, the reference;
# DRIVERS="rust c" make check runs both.
check:
	bash tests/run.sh

check-c:
	DRIVERS=c bash tests/run.sh

# The rust-pmem-dkms package on Debian's stock kernel: build, lintian, apt install, dkms,
# modprobe in a VM (tests/dkms.sh).
check-dkms:
	bash tests/dkms.sh

# The debug kernel runs rust_pmem's suite on both kinds of pmem (DRIVERS="rust c" adds
# nd_pmem's).
check-debug:
	FLAVOUR=debug DRIVERS="$${DRIVERS:-rust}" PMEMS="$${PMEMS:-memmap nvdimm}" bash tests/run.sh

# ndctl's own tests, under nfit_test and on real pmem (memmap=, a QEMU NVDIMM), on
# rust_pmem and nd_pmem (tests/ndctl).
check-ndctl:
	PMEMS="$${PMEMS:-nfit real}" DRIVERS="$${DRIVERS:-rust c}" NDCTL_TESTS=all bash tests/run.sh

bench:
	bash scripts/bench.sh

rustfmt rustfmtcheck:
	bash scripts/build-module.sh $@

clean:
	rm -rf build .*.cmd *.o *.ko *.mod *.mod.c *.mod.o *.d .*.d modules.order Module.symvers \
		.tmp_versions *.rmeta .cache.mk
	rm -f tests/bench/*.o tests/bench/*.ko tests/bench/*.mod* tests/bench/.*.cmd \
		tests/bench/modules.order tests/bench/Module.symvers

endif
