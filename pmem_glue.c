// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of rust_pmem: the parts of libnvdimm, the block layer and DAX that Linux 7.3
 * has no Rust bindings for (nd.h is private to drivers/nvdimm, dax.h, badblocks.h and
 * bio iteration are not in rust/bindings).
 *
 * Every function here is mechanism only: it wraps one kernel service or a macro/inline
 * the Rust side cannot reach. Policy (what to probe, how to serve I/O, DAX and poison)
 * lives in the Rust crate, which declares these functions in glue.rs and calls them only
 * from its thin wrapper modules. Callbacks from the kernel land in rpmem_rs_*(),
 * defined in Rust.
 */

#include <linux/blkdev.h>
#include <linux/badblocks.h>
#include <linux/dax.h>
#include <linux/highmem.h>
#include <linux/kstrtox.h>
#include <linux/libnvdimm.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nd.h>
#include <linux/set_memory.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include <asm/cacheflush.h>
#ifdef CONFIG_X86
#include <asm/cpufeature.h>
#include <asm/special_insns.h>
#endif
#include "pmem.h"
#include "btt.h"
#include "pfn.h"
#include "nd.h"
#include "nd-core.h"
#include "pmem_glue.h"

/* ---- nd bus driver ------------------------------------------------------------- */

static void rpmem_shutdown(struct device *dev)
{
	nvdimm_flush(to_nd_region(dev->parent), NULL);
}

static void rpmem_notify(struct device *dev, enum nvdimm_event event)
{
	rpmem_rs_notify(dev, event);
}

MODULE_ALIAS_ND_DEVICE(ND_DEVICE_NAMESPACE_IO);
MODULE_ALIAS_ND_DEVICE(ND_DEVICE_NAMESPACE_PMEM);
static struct nd_device_driver rpmem_driver = {
	.probe = rpmem_rs_probe,
	.remove = rpmem_rs_remove,
	.notify = rpmem_notify,
	.shutdown = rpmem_shutdown,
	.drv = {
		.name = "rust_pmem",
	},
	.type = ND_DRIVER_NAMESPACE_IO | ND_DRIVER_NAMESPACE_PMEM,
};

int rpmem_driver_register(void)
{
	return __nd_driver_register(&rpmem_driver, THIS_MODULE, KBUILD_MODNAME);
}

void rpmem_driver_unregister(void)
{
	driver_unregister(&rpmem_driver.drv);
}

/* ---- namespace probing (the steps of nd_pmem_probe) ------------------------------ */

struct nd_namespace_common *rpmem_common_probe(struct device *dev)
{
	return nvdimm_namespace_common_probe(dev);
}

bool rpmem_is_btt(struct device *dev) { return is_nd_btt(dev); }
bool rpmem_is_pfn(struct device *dev) { return is_nd_pfn(dev); }

int rpmem_attach_btt(struct nd_namespace_common *ndns)
{
	return nvdimm_namespace_attach_btt(ndns);
}

void rpmem_detach_btt(struct device *dev)
{
	nvdimm_namespace_detach_btt(to_nd_btt(dev));
}

int rpmem_raw_enable(struct device *dev, struct nd_namespace_common *ndns)
{
	return devm_namespace_enable(dev, ndns, nd_info_block_reserve());
}

void rpmem_raw_disable(struct device *dev, struct nd_namespace_common *ndns)
{
	devm_namespace_disable(dev, ndns);
}

int rpmem_btt_probe(struct device *dev, struct nd_namespace_common *ndns)
{
	return nd_btt_probe(dev, ndns);
}

int rpmem_pfn_probe(struct device *dev, struct nd_namespace_common *ndns)
{
	return nd_pfn_probe(dev, ndns);
}

int rpmem_dax_probe(struct device *dev, struct nd_namespace_common *ndns)
{
	return nd_dax_probe(dev, ndns);
}

void rpmem_btt_revalidate_region(struct device *dev)
{
	nvdimm_check_and_set_ro(to_nd_btt(dev)->btt->btt_disk);
}

void *rpmem_get_drvdata(struct device *dev) { return dev_get_drvdata(dev); }
void rpmem_set_drvdata(struct device *dev, void *data) { dev_set_drvdata(dev, data); }

/* ---- region services ------------------------------------------------------------- */

int rpmem_flush(struct device *dev, struct bio *bio)
{
	return nvdimm_flush(to_nd_region(dev->parent), bio);
}

int rpmem_has_flush(struct device *dev)
{
	if (!IS_ENABLED(CONFIG_ARCH_HAS_UACCESS_FLUSHCACHE))
		return -ENXIO;
	return nvdimm_has_flush(to_nd_region(dev->parent));
}

/* ---- mapping the namespace (pmem_attach_disk's resource part) -------------------- */

static int rpmem_pagemap_memory_failure(struct dev_pagemap *pgmap, unsigned long pfn,
					unsigned long nr_pages, int mf_flags)
{
	struct rpmem_pgmap *p = container_of(pgmap, struct rpmem_pgmap, pgmap);
	u64 offset = PFN_PHYS(pfn) - p->phys_addr - p->data_offset;
	int rc = -ENXIO;

	/* Held across the call: rpmem_pgmap_set_owner(p, NULL) waits for us. */
	down_read(&p->owner_lock);
	if (p->owner)
		rc = rpmem_rs_memory_failure(p->owner, offset, (u64)nr_pages << PAGE_SHIFT,
					     mf_flags);
	up_read(&p->owner_lock);
	return rc;
}

static const struct dev_pagemap_ops rpmem_pagemap_ops = {
	.memory_failure = rpmem_pagemap_memory_failure,
};

/*
 * Enable the namespace, parse a pfn info block if this is a pfn claim, reserve and map
 * the memory (with struct pages where the region or the pfn block asks for them).
 * All resources are devm-owned by @dev and released after remove().
 * Returns the pagemap handle (or NULL when there are no struct pages) via @pgmap_out.
 */
int rpmem_map_namespace(struct device *dev, struct nd_namespace_common *ndns,
			struct rpmem_map_info *info, struct rpmem_pgmap **pgmap_out)
{
	struct nd_namespace_io *nsio = to_nd_namespace_io(&ndns->dev);
	struct nd_region *nd_region = to_nd_region(dev->parent);
	struct resource *res = &nsio->res;
	struct nd_pfn *nd_pfn = NULL;
	struct rpmem_pgmap *p;
	void *addr;
	int rc;

	memset(info, 0, sizeof(*info));
	*pgmap_out = NULL;
	p = devm_kzalloc(dev, sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	init_rwsem(&p->owner_lock);

	rc = devm_namespace_enable(dev, ndns, nd_info_block_reserve());
	if (rc)
		return rc;
	if (is_nd_pfn(dev)) {
		nd_pfn = to_nd_pfn(dev);
		rc = nvdimm_setup_pfn(nd_pfn, &p->pgmap);
		if (rc)
			return rc;
	}
	devm_namespace_disable(dev, ndns);

	info->phys_addr = res->start;
	info->size = resource_size(res);
	info->sector_size = pmem_sector_size(ndns);
	info->nid = dev_to_node(dev);
	info->sync = is_nvdimm_sync(nd_region);
	info->has_cache = nvdimm_has_cache(nd_region);

	if (!devm_request_mem_region(dev, res->start, resource_size(res),
				     dev_name(&ndns->dev))) {
		dev_warn(dev, "could not reserve region %pR\n", res);
		return -EBUSY;
	}

	p->phys_addr = res->start;
	if (nd_pfn) {
		p->pgmap.type = MEMORY_DEVICE_FS_DAX;
		p->pgmap.ops = &rpmem_pagemap_ops;
		p->data_offset = le64_to_cpu(nd_pfn->pfn_sb->dataoff);
		addr = devm_memremap_pages(dev, &p->pgmap);
		info->data_offset = p->data_offset;
		info->pfn_pad = resource_size(res) - range_len(&p->pgmap.range);
		info->bb_start = p->pgmap.range.start + p->data_offset;
		info->bb_end = p->pgmap.range.end;
		info->pagemap = true;
	} else if (pmem_should_map_pages(dev)) {
		p->pgmap.range.start = res->start;
		p->pgmap.range.end = res->end;
		p->pgmap.nr_range = 1;
		p->pgmap.type = MEMORY_DEVICE_FS_DAX;
		p->pgmap.ops = &rpmem_pagemap_ops;
		addr = devm_memremap_pages(dev, &p->pgmap);
		info->bb_start = res->start;
		info->bb_end = res->end;
		info->pagemap = true;
	} else {
		addr = devm_memremap(dev, res->start, resource_size(res), ARCH_MEMREMAP_PMEM);
		info->bb_start = res->start;
		info->bb_end = res->end;
	}
	if (IS_ERR(addr))
		return PTR_ERR(addr);
	info->virt_addr = addr;
	if (info->pagemap)
		*pgmap_out = p;
	return 0;
}

/* Setting NULL waits for memory_failure() calls that still use the old owner. */
void rpmem_pgmap_set_owner(struct rpmem_pgmap *p, void *owner)
{
	down_write(&p->owner_lock);
	p->owner = owner;
	up_write(&p->owner_lock);
}

/* ---- gendisk ----------------------------------------------------------------------- */

/*
 * Everything the driver asks of a new bio, handed to the Rust side with the bio: each
 * call out of it is a function call pmem.c's inlined accessors do not make, on a path
 * run per 4k I/O.
 */
static void rpmem_bio_info(struct bio *bio, struct rpmem_bio_info *info)
{
	info->flags = (op_is_write(bio_op(bio)) ? RPMEM_BIO_WRITE : 0) |
		      (bio_has_data(bio) ? RPMEM_BIO_DATA : 0) |
		      (bio->bi_opf & REQ_PREFLUSH ? RPMEM_BIO_PREFLUSH : 0) |
		      (bio->bi_opf & REQ_FUA ? RPMEM_BIO_FUA : 0) |
		      (bio->bi_opf & REQ_NOWAIT ? RPMEM_BIO_NOWAIT : 0) |
		      (blk_queue_io_stat(bio->bi_bdev->bd_disk->queue) ? RPMEM_BIO_ACCT : 0);
	info->sector = bio->bi_iter.bi_sector;
	info->size = bio->bi_iter.bi_size;
	info->iter = bio->bi_iter;
}

static void rpmem_submit_bio(struct bio *bio)
{
	struct rpmem_bio_info info;

	rpmem_bio_info(bio, &info);
	rpmem_rs_submit_bio(bio->bi_bdev->bd_disk->private_data, bio, &info);
}

static const struct block_device_operations rpmem_fops = {
	.owner = THIS_MODULE,
	.submit_bio = rpmem_submit_bio,
};

struct gendisk *rpmem_alloc_disk(struct nd_namespace_common *ndns,
				 const struct rpmem_disk_cfg *cfg, void *private_data)
{
	struct queue_limits lim = {
		.logical_block_size	= cfg->logical_block_size,
		.physical_block_size	= PAGE_SIZE,
		.max_hw_sectors		= UINT_MAX,
		.features		= BLK_FEAT_WRITE_CACHE | BLK_FEAT_SYNCHRONOUS,
	};
	struct gendisk *disk;

	if (cfg->nowait)
		lim.features |= BLK_FEAT_NOWAIT;
	if (cfg->fua)
		lim.features |= BLK_FEAT_FUA;
	if (cfg->dax)
		lim.features |= BLK_FEAT_DAX;
	disk = blk_alloc_disk(&lim, cfg->nid);
	if (IS_ERR(disk))
		return disk;
	disk->fops = &rpmem_fops;
	disk->private_data = private_data;
	nvdimm_namespace_disk_name(ndns, disk->disk_name);
	set_capacity(disk, cfg->sectors);
	return disk;
}

static ssize_t write_cache_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct dax_device *dax_dev = rpmem_rs_disk_dax(dev_to_disk(dev)->private_data);

	return sysfs_emit(buf, "%d\n", !!dax_write_cache_enabled(dax_dev));
}

/* As pmem.c: kstrtobool() decides, an unparsable value is -EINVAL and changes nothing. */
static ssize_t write_cache_store(struct device *dev, struct device_attribute *attr,
				 const char *buf, size_t len)
{
	struct dax_device *dax_dev = rpmem_rs_disk_dax(dev_to_disk(dev)->private_data);
	bool write_cache;
	int rc;

	rc = kstrtobool(buf, &write_cache);
	if (rc)
		return rc;
	if (!dax_dev)
		return -ENXIO;
	dax_write_cache(dax_dev, write_cache);
	return len;
}
static DEVICE_ATTR_RW(write_cache);

static struct attribute *rpmem_dax_attributes[] = {
	&dev_attr_write_cache.attr,
	NULL,
};

static umode_t rpmem_dax_visible(struct kobject *kobj, struct attribute *a, int n)
{
	if (!IS_ENABLED(CONFIG_ARCH_HAS_PMEM_API) && a == &dev_attr_write_cache.attr)
		return 0;
	return a->mode;
}

static const struct attribute_group rpmem_dax_attribute_group = {
	.name		= "dax",
	.attrs		= rpmem_dax_attributes,
	.is_visible	= rpmem_dax_visible,
};

static const struct attribute_group *rpmem_attribute_groups[] = {
	&rpmem_dax_attribute_group,
	NULL,
};

int rpmem_add_disk(struct device *dev, struct gendisk *disk)
{
	return device_add_disk(dev, disk, rpmem_attribute_groups);
}

void rpmem_del_disk(struct gendisk *disk)
{
	del_gendisk(disk);
}

void rpmem_put_disk(struct gendisk *disk)
{
	put_disk(disk);
}

void rpmem_check_and_set_ro(struct gendisk *disk)
{
	nvdimm_check_and_set_ro(disk);
}

/* ---- badblocks and poison ------------------------------------------------------- */

/* A devm-owned badblocks table for @dev (freed after remove, after the disk). */
struct badblocks *rpmem_badblocks_new(struct device *dev)
{
	struct badblocks *bb = devm_kzalloc(dev, sizeof(*bb), GFP_KERNEL);

	if (!bb)
		return ERR_PTR(-ENOMEM);
	if (devm_init_badblocks(dev, bb))
		return ERR_PTR(-ENOMEM);
	return bb;
}

/* Adds the bus's known bad ranges within [start, end] (physical) to @bb. */
void rpmem_badblocks_populate(struct device *dev, struct badblocks *bb, u64 start, u64 end)
{
	struct range range = { .start = start, .end = end };

	nvdimm_badblocks_populate(to_nd_region(dev->parent), bb, &range);
}

/* True when [sector, sector + nr) overlaps a bad range; the first one is returned. */
bool rpmem_badblocks_check(struct badblocks *bb, u64 sector, u64 nr, u64 *first_bad,
			   u64 *num_bad)
{
	sector_t first, num;

	if (!READ_ONCE(bb->count))
		return false;
	if (!badblocks_check(bb, sector, nr, &first, &num))
		return false;
	*first_bad = first;
	*num_bad = num;
	return true;
}

/* Where @bb keeps its count, for a READ_ONCE() without a call per I/O. */
int *rpmem_badblocks_count(struct badblocks *bb)
{
	return &bb->count;
}

void rpmem_badblocks_clear(struct badblocks *bb, u64 sector, u64 nr)
{
	badblocks_clear(bb, sector, nr);
}

void rpmem_disk_set_bb(struct gendisk *disk, struct badblocks *bb)
{
	disk->bb = bb;
}

/* The disk's "badblocks" sysfs node, for change notifications (NULL if absent). */
struct kernfs_node *rpmem_bb_state_get(struct gendisk *disk)
{
	return sysfs_get_dirent(disk_to_dev(disk)->kobj.sd, "badblocks");
}

void rpmem_bb_state_put(struct kernfs_node *kn)
{
	sysfs_put(kn);
}

void rpmem_bb_state_notify(struct kernfs_node *kn)
{
	sysfs_notify_dirent(kn);
}

/* The platform's clear-error for [phys, phys + len): bytes cleared, or -errno. */
long rpmem_clear_poison(struct device *dev, u64 phys, u32 len)
{
	return nvdimm_clear_poison(dev, phys, len);
}

/* Whether @virt_addr is in the kernel's direct map (pmem mapped with struct pages). */
bool rpmem_in_direct_map(void *virt_addr)
{
	return !is_vmalloc_addr(virt_addr);
}

/*
 * Whether the page at @virt_addr is out of the kernel's direct map: set_mce_nospec()
 * took it out after a machine check. That outlives an unbind and bind of the
 * namespace (memory hot-remove skips non-present PTEs, hot-add keeps existing ones),
 * while the new struct page has lost PG_hwpoison, so the page table is asked, not the
 * flag.
 */
bool rpmem_page_offline(void *virt_addr, u64 phys)
{
#ifdef CONFIG_X86
	unsigned int level;
	pte_t *pte;

	if (is_vmalloc_addr(virt_addr))
		return false;
	pte = lookup_address((unsigned long)virt_addr, &level);
	return !pte || !pte_present(*pte);
#else
	if (is_vmalloc_addr(virt_addr))
		return false;
	return PageHWPoison(pfn_to_page(PHYS_PFN(phys)));
#endif
}

/*
 * After the bus cleared the page's poison: clear its HWPoison state and map it again in
 * the direct map (pmem_mkpage_present(), which only looks at the flag; a page a machine
 * check took out before a rebind has lost the flag but not the unmapping).
 */
void rpmem_page_present(void *virt_addr, u64 phys)
{
	unsigned long pfn = PHYS_PFN(phys);
	bool poisoned;

	if (is_vmalloc_addr(virt_addr))
		return;
	poisoned = test_and_clear_pmem_poison(pfn_to_page(pfn));
	if (poisoned || rpmem_page_offline(virt_addr, phys))
		clear_mce_nospec(pfn);
}

/*
 * A private mapping of one page in the direct map (which may have the page unmapped),
 * for the clear engine and for reads of a poisoned page's good sectors. Sleeps.
 */
void *rpmem_alias_map(u64 phys)
{
	struct page *page = pfn_to_page(PHYS_PFN(phys));

	return vmap(&page, 1, VM_MAP, PAGE_KERNEL);
}

void rpmem_alias_unmap(void *alias)
{
	vunmap(alias);
}

/* Drops the CPU's cached copies of [addr, addr + len) before pmem is written there. */
void rpmem_invalidate(void *addr, u32 len)
{
	arch_invalidate_pmem(addr, len);
}

/* Orders earlier non-temporal stores to pmem before later stores. */
void rpmem_store_fence(void)
{
	wmb();
}

/* NVDIMM_REVALIDATE_POISON on a btt: refresh the namespace's badblocks (pmem.c). */
void rpmem_btt_revalidate_poison(struct device *dev)
{
	struct nd_btt *nd_btt = to_nd_btt(dev);
	struct nd_namespace_common *ndns = nd_btt->ndns;
	struct nd_namespace_io *nsio = to_nd_namespace_io(&ndns->dev);
	struct range range = { .start = nsio->res.start, .end = nsio->res.end };

	nvdimm_badblocks_populate(to_nd_region(ndns->dev.parent), &nsio->bb, &range);
}

/* MF_SW_SIMULATED: memory_failure() raised by software (MADV_HWPOISON, hwpoison-inject). */
int rpmem_mf_sw_simulated(void)
{
	return MF_SW_SIMULATED;
}

void rpmem_badblocks_set(struct badblocks *bb, u64 sector, u64 nr)
{
	badblocks_set(bb, sector, nr, 1);
}

/* How this device can clear poison: a mask of RPMEM_CLEAR_*. */
u32 rpmem_clear_caps(struct device *dev)
{
	struct nd_region *nd_region = to_nd_region(dev->parent);
	struct nvdimm_bus_descriptor *nd_desc =
		to_nd_desc(to_nvdimm_bus(nd_region->dev.parent));
	u32 caps = 0;

#ifdef CONFIG_X86
	if (boot_cpu_has(X86_FEATURE_MOVDIR64B))
		caps |= RPMEM_CLEAR_MOVDIR64B;
#endif
	if (!nd_desc->ndctl)
		caps |= RPMEM_CLEAR_LEGACY;
	else if (test_bit(ND_CMD_CLEAR_ERROR, &nd_desc->cmd_mask))
		caps |= RPMEM_CLEAR_DSM;
	return caps;
}

/* ---- buffers (the clear engine's bounce page) --------------------------------------- */

/* Machine-check-safe copy from pmem to a kernel buffer; returns the bytes NOT copied. */
unsigned long rpmem_copy_mc(void *dst, const void *src, u32 len)
{
	return copy_mc_to_kernel(dst, src, len);
}

/* Non-temporal copy of a kernel buffer to pmem. */
void rpmem_store_flushcache(void *dst, const void *src, u32 len)
{
	memcpy_flushcache(dst, src, len);
}

/*
 * 64-byte direct stores (MOVDIR64B): each replaces a whole cache line on the media
 * without reading it, which is what clears poison. @dst and @len must be 64-byte
 * aligned; only called where the CPU has the instruction.
 */
void rpmem_store_movdir64b(void *dst, const void *src, u32 len)
{
#ifdef CONFIG_X86
	u32 i;

	for (i = 0; i < len; i += 64)
		movdir64b(dst + i, src + i);
	wmb();
#else
	memcpy_flushcache(dst, src, len);
#endif
}

void rpmem_copy_from_page(void *dst, struct page *page, u32 off, u32 len)
{
	void *mem = kmap_local_page(page);

	memcpy(dst, mem + off, len);
	kunmap_local(mem);
}

void rpmem_copy_to_page(struct page *page, u32 off, const void *src, u32 len)
{
	void *mem = kmap_local_page(page);

	memcpy(mem + off, src, len);
	kunmap_local(mem);
	flush_dcache_page(page);
}

size_t rpmem_copy_from_iter(void *dst, size_t bytes, struct iov_iter *i)
{
	return copy_from_iter(dst, bytes, i);
}

const char *rpmem_disk_name(struct gendisk *disk)
{
	return disk->disk_name;
}

/* ---- DAX device ------------------------------------------------------------------- */

static long rpmem_dax_direct_access(struct dax_device *dax_dev, pgoff_t pgoff, long nr_pages,
				    enum dax_access_mode mode, void **kaddr, unsigned long *pfn)
{
	return rpmem_rs_direct_access(dax_get_private(dax_dev), pgoff, nr_pages, mode, kaddr, pfn);
}

static int rpmem_dax_zero_page_range(struct dax_device *dax_dev, pgoff_t pgoff, size_t nr_pages)
{
	return rpmem_rs_zero_page_range(dax_get_private(dax_dev), pgoff, nr_pages);
}

static size_t rpmem_dax_recovery_write(struct dax_device *dax_dev, pgoff_t pgoff, void *addr,
				       size_t bytes, struct iov_iter *iter)
{
	return rpmem_rs_recovery_write(dax_get_private(dax_dev), pgoff, addr, bytes, iter);
}

static const struct dax_operations rpmem_dax_ops = {
	.direct_access = rpmem_dax_direct_access,
	.zero_page_range = rpmem_dax_zero_page_range,
	.recovery_write = rpmem_dax_recovery_write,
};

/* alloc_dax() with what pmem.c sets on it; ERR_PTR on failure. */
struct dax_device *rpmem_alloc_dax(void *private, bool sync)
{
	struct dax_device *dax_dev = alloc_dax(private, &rpmem_dax_ops);

	if (IS_ERR(dax_dev))
		return dax_dev;
	set_dax_nocache(dax_dev);
	set_dax_nomc(dax_dev);
	if (sync)
		set_dax_synchronous(dax_dev);
	return dax_dev;
}

int rpmem_dax_add_host(struct dax_device *dax_dev, struct gendisk *disk)
{
	return dax_add_host(dax_dev, disk);
}

void rpmem_dax_remove_host(struct gendisk *disk)
{
	dax_remove_host(disk);
}

void rpmem_dax_write_cache(struct dax_device *dax_dev, bool wc)
{
	dax_write_cache(dax_dev, wc);
}

/* No new users; waits for current ones. */
void rpmem_kill_dax(struct dax_device *dax_dev)
{
	kill_dax(dax_dev);
}

void rpmem_put_dax(struct dax_device *dax_dev)
{
	put_dax(dax_dev);
}

int rpmem_dax_notify_failure(struct dax_device *dax_dev, u64 offset, u64 len, int mf_flags)
{
	return dax_holder_notify_failure(dax_dev, offset, len, mf_flags);
}

/* ---- bio --------------------------------------------------------------------------- */

bool rpmem_bio_next(struct bio *bio, struct bvec_iter *iter, struct rpmem_seg *seg)
{
	struct bio_vec bv;

	if (!iter->bi_size)
		return false;
	bv = bio_iter_iovec(bio, *iter);
	seg->page = bv.bv_page;
	seg->offset = bv.bv_offset;
	seg->len = bv.bv_len;
	seg->sector = iter->bi_sector;
	bio_advance_iter_single(bio, iter, bv.bv_len);
	return true;
}

/* Returns the start time for rpmem_bio_end_acct() (never 0). */
unsigned long rpmem_bio_start_acct(struct bio *bio)
{
	return bio_start_io_acct(bio) | 1;
}

void rpmem_bio_end_acct(struct bio *bio, unsigned long start)
{
	if (start)
		bio_end_io_acct(bio, start);
}

void rpmem_bio_endio(struct bio *bio, int err)
{
	if (err)
		bio->bi_status = errno_to_blk_status(err);
	bio_endio(bio);
}

/* ---- data movement ------------------------------------------------------------------ */

/*
 * The whole of a bio's data from @start on, @len bytes of it, in one call: read from
 * pmem machine-check safe (returns the bytes of @len not copied), or written to pmem
 * with non-temporal stores. One call per bio instead of two per page, as pmem.c's
 * inlined bio_for_each_segment() loop; the caller has checked the range and badblocks.
 */
unsigned long rpmem_copy_mc_to_bio(struct bio *bio, const struct bvec_iter *start,
				   const void *src, u32 len)
{
	struct bvec_iter iter = *start;
	u32 done = 0;

	while (iter.bi_size && done < len) {
		struct bio_vec bv = bio_iter_iovec(bio, iter);
		u32 chunk = min(bv.bv_len, len - done);
		void *mem = kmap_local_page(bv.bv_page);
		unsigned long rem = copy_mc_to_kernel(mem + bv.bv_offset, src + done, chunk);

		kunmap_local(mem);
		flush_dcache_page(bv.bv_page);
		if (rem)
			return len - done - chunk + rem;
		done += chunk;
		bio_advance_iter_single(bio, &iter, chunk);
	}
	return len - done;
}

void rpmem_copy_bio_to_pmem(void *dst, struct bio *bio, const struct bvec_iter *start, u32 len)
{
	struct bvec_iter iter = *start;
	u32 done = 0;

	while (iter.bi_size && done < len) {
		struct bio_vec bv = bio_iter_iovec(bio, iter);
		u32 chunk = min(bv.bv_len, len - done);
		void *mem;

		flush_dcache_page(bv.bv_page);
		mem = kmap_local_page(bv.bv_page);
		memcpy_flushcache(dst + done, mem + bv.bv_offset, chunk);
		kunmap_local(mem);
		done += chunk;
		bio_advance_iter_single(bio, &iter, chunk);
	}
}

/* Non-temporal copy from a page into pmem. */
void rpmem_copy_page_to_pmem(void *dst, struct page *page, u32 off, u32 len)
{
	void *mem;

	flush_dcache_page(page);
	mem = kmap_local_page(page);
	memcpy_flushcache(dst, mem + off, len);
	kunmap_local(mem);
}

size_t rpmem_copy_from_iter_flushcache(void *addr, size_t bytes, struct iov_iter *i)
{
	return _copy_from_iter_flushcache(addr, bytes, i);
}

struct page *rpmem_zero_page(void)
{
	return ZERO_PAGE(0);
}

/* ---- test build only (RUST_PMEM_TEST=1): hardware behaviour for the suite ---------- */

#ifdef RUST_PMEM_TEST
/*
 * What the x86 MCE path does to a pmem page after a machine check that a copy_mc
 * survived (memory_failure() marks it HWPoison, uc_decode_notifier() unmaps it from the
 * direct map): a later plain access faults, as on hardware.
 */
void rpmem_test_machine_check(void *virt_addr, u64 phys)
{
	unsigned long pfn = PHYS_PFN(phys);

	if (is_vmalloc_addr(virt_addr))
		return;
	if (!TestSetPageHWPoison(pfn_to_page(pfn)))
		set_mce_nospec(pfn);
}

static struct nvdimm_bus *rpmem_bus(struct device *dev)
{
	return to_nvdimm_bus(to_nd_region(dev->parent)->dev.parent);
}

/* Platform poison: on the bus's list, it outlives unbind, reload and ARS. */
int rpmem_test_bus_add_poison(struct device *dev, u64 phys, u64 len)
{
	return nvdimm_bus_add_badrange(rpmem_bus(dev), phys, len);
}

void rpmem_test_bus_forget_poison(struct device *dev, u64 phys, u64 len)
{
	struct nvdimm_bus *bus = rpmem_bus(dev);

	while (len) {
		unsigned int n = min_t(u64, len, SZ_1G);

		badrange_forget(&bus->badrange, phys, n);
		phys += n;
		len -= n;
	}
}

/* A failure reported by hardware (no MF_SW_SIMULATED), through the kernel's path. */
int rpmem_test_memory_failure(u64 phys)
{
	return memory_failure(PHYS_PFN(phys), 0);
}
#endif

/* ---- nfit_test build only (RUST_PMEM_NFIT=1, see nfit_test.rs) -------------------- */

#ifdef RUST_PMEM_NFIT
#include "test/nfit_test.h"

/* The pfn of the vmalloc page behind @kaddr if @phys is nfit_test's emulated memory. */
bool rpmem_nfit_pfn(void *kaddr, u64 phys, unsigned long *pfn)
{
	if (!get_nfit_res(phys))
		return false;
	*pfn = page_to_pfn(vmalloc_to_page(kaddr));
	return true;
}
#endif
