/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface of rust_pmem's C glue (pmem_glue.c). glue.rs mirrors it for Rust: keep the
 * two in step.
 */
#ifndef RUST_PMEM_GLUE_H
#define RUST_PMEM_GLUE_H

#include <linux/memremap.h>
#include <linux/rwsem.h>
#include <linux/types.h>

struct badblocks;
struct bio;
struct bvec_iter;
struct dax_device;
struct device;
struct gendisk;
struct iov_iter;
struct kernfs_node;
struct nd_namespace_common;
struct page;

/* What the Rust side learns about a mapped namespace. */
struct rpmem_map_info {
	void *virt_addr;
	u64 phys_addr;
	u64 size;
	u64 data_offset;
	u64 pfn_pad;
	u64 bb_start;		/* physical range scanned for badblocks */
	u64 bb_end;
	u32 sector_size;
	int nid;
	bool pagemap;		/* struct pages exist: fs-dax possible */
	bool sync;		/* is_nvdimm_sync(): MAP_SYNC allowed */
	bool has_cache;		/* nvdimm_has_cache() */
};

/* The dev_pagemap, devm-owned; its memory_failure op calls back into Rust. */
struct rpmem_pgmap {
	struct dev_pagemap pgmap;
	u64 phys_addr;
	u64 data_offset;
	/*
	 * Rust device data, NULL outside attach..remove. memory_failure() reads it and
	 * calls into it under owner_lock held for reading; clearing it takes owner_lock for
	 * writing, so remove waits for notifications in flight.
	 */
	void *owner;
	struct rw_semaphore owner_lock;
};

struct rpmem_disk_cfg {
	u32 logical_block_size;
	int nid;
	bool fua;
	bool dax;
	bool nowait;
	u64 sectors;
};

/* struct rpmem_bio_info flags. */
#define RPMEM_BIO_WRITE		(1u << 0)
#define RPMEM_BIO_DATA		(1u << 1)
#define RPMEM_BIO_PREFLUSH	(1u << 2)
#define RPMEM_BIO_FUA		(1u << 3)
#define RPMEM_BIO_NOWAIT	(1u << 4)
#define RPMEM_BIO_ACCT		(1u << 5)	/* the queue has iostats on */

struct rpmem_bio_info {
	u32 flags;
	u32 size;		/* bytes */
	u64 sector;
	struct bvec_iter iter;	/* where bio_for_each_segment() starts */
};

/* One single-page segment of a bio, as bio_for_each_segment() yields it. */
struct rpmem_seg {
	struct page *page;
	u32 offset;
	u32 len;
	u64 sector;
};

/* rpmem_clear_caps() bits. */
#define RPMEM_CLEAR_MOVDIR64B	(1u << 0)	/* the CPU has MOVDIR64B */
#define RPMEM_CLEAR_LEGACY	(1u << 1)	/* no bus commands (e820): nothing to clear */
#define RPMEM_CLEAR_DSM		(1u << 2)	/* the bus has ND_CMD_CLEAR_ERROR */

/* Implemented in Rust (nd.rs, block.rs, dax_ops.rs): the kernel's calls into the driver. */
int rpmem_rs_probe(struct device *dev);
void rpmem_rs_remove(struct device *dev);
void rpmem_rs_notify(struct device *dev, int event);
void rpmem_rs_submit_bio(void *data, struct bio *bio, const struct rpmem_bio_info *info);
long rpmem_rs_direct_access(void *data, pgoff_t pgoff, long nr_pages, int mode,
			    void **kaddr, unsigned long *pfn);
int rpmem_rs_zero_page_range(void *data, pgoff_t pgoff, size_t nr_pages);
size_t rpmem_rs_recovery_write(void *data, pgoff_t pgoff, void *addr, size_t bytes,
			       struct iov_iter *iter);
int rpmem_rs_memory_failure(void *data, u64 offset, u64 len, int mf_flags);
struct dax_device *rpmem_rs_disk_dax(void *data);

/* Implemented in C: the driver's calls into the kernel. */
int rpmem_driver_register(void);
void rpmem_driver_unregister(void);
struct nd_namespace_common *rpmem_common_probe(struct device *dev);
bool rpmem_is_btt(struct device *dev);
bool rpmem_is_pfn(struct device *dev);
int rpmem_attach_btt(struct nd_namespace_common *ndns);
void rpmem_detach_btt(struct device *dev);
int rpmem_raw_enable(struct device *dev, struct nd_namespace_common *ndns);
void rpmem_raw_disable(struct device *dev, struct nd_namespace_common *ndns);
int rpmem_btt_probe(struct device *dev, struct nd_namespace_common *ndns);
int rpmem_pfn_probe(struct device *dev, struct nd_namespace_common *ndns);
int rpmem_dax_probe(struct device *dev, struct nd_namespace_common *ndns);
void rpmem_btt_revalidate_region(struct device *dev);
void *rpmem_get_drvdata(struct device *dev);
void rpmem_set_drvdata(struct device *dev, void *data);
int rpmem_flush(struct device *dev, struct bio *bio);
int rpmem_has_flush(struct device *dev);
int rpmem_map_namespace(struct device *dev, struct nd_namespace_common *ndns,
			struct rpmem_map_info *info, struct rpmem_pgmap **pgmap_out);
void rpmem_pgmap_set_owner(struct rpmem_pgmap *p, void *owner);
struct gendisk *rpmem_alloc_disk(struct nd_namespace_common *ndns,
				 const struct rpmem_disk_cfg *cfg, void *private_data);
int rpmem_add_disk(struct device *dev, struct gendisk *disk);
void rpmem_del_disk(struct gendisk *disk);
void rpmem_put_disk(struct gendisk *disk);
void rpmem_check_and_set_ro(struct gendisk *disk);
struct badblocks *rpmem_badblocks_new(struct device *dev);
void rpmem_badblocks_populate(struct device *dev, struct badblocks *bb, u64 start, u64 end);
bool rpmem_badblocks_check(struct badblocks *bb, u64 sector, u64 nr, u64 *first_bad,
			   u64 *num_bad);
int *rpmem_badblocks_count(struct badblocks *bb);
void rpmem_badblocks_clear(struct badblocks *bb, u64 sector, u64 nr);
void rpmem_disk_set_bb(struct gendisk *disk, struct badblocks *bb);
struct kernfs_node *rpmem_bb_state_get(struct gendisk *disk);
void rpmem_bb_state_put(struct kernfs_node *kn);
void rpmem_bb_state_notify(struct kernfs_node *kn);
long rpmem_clear_poison(struct device *dev, u64 phys, u32 len);
void rpmem_page_present(void *virt_addr, u64 phys);
bool rpmem_in_direct_map(void *virt_addr);
bool rpmem_page_offline(void *virt_addr, u64 phys);
void *rpmem_alias_map(u64 phys);
void rpmem_alias_unmap(void *alias);
void rpmem_invalidate(void *addr, u32 len);
void rpmem_store_fence(void);
void rpmem_btt_revalidate_poison(struct device *dev);
int rpmem_mf_sw_simulated(void);
void rpmem_copy_to_page(struct page *page, u32 off, const void *src, u32 len);
void rpmem_badblocks_set(struct badblocks *bb, u64 sector, u64 nr);
u32 rpmem_clear_caps(struct device *dev);
unsigned long rpmem_copy_mc(void *dst, const void *src, u32 len);
void rpmem_store_flushcache(void *dst, const void *src, u32 len);
void rpmem_store_movdir64b(void *dst, const void *src, u32 len);
void rpmem_copy_from_page(void *dst, struct page *page, u32 off, u32 len);
size_t rpmem_copy_from_iter(void *dst, size_t bytes, struct iov_iter *i);
const char *rpmem_disk_name(struct gendisk *disk);
struct dax_device *rpmem_alloc_dax(void *private, bool sync);
int rpmem_dax_add_host(struct dax_device *dax_dev, struct gendisk *disk);
void rpmem_dax_remove_host(struct gendisk *disk);
void rpmem_dax_write_cache(struct dax_device *dax_dev, bool wc);
void rpmem_kill_dax(struct dax_device *dax_dev);
void rpmem_put_dax(struct dax_device *dax_dev);
int rpmem_dax_notify_failure(struct dax_device *dax_dev, u64 offset, u64 len, int mf_flags);
bool rpmem_bio_next(struct bio *bio, struct bvec_iter *iter, struct rpmem_seg *seg);
unsigned long rpmem_bio_start_acct(struct bio *bio);
void rpmem_bio_end_acct(struct bio *bio, unsigned long start);
void rpmem_bio_endio(struct bio *bio, int err);
void rpmem_copy_page_to_pmem(void *dst, struct page *page, u32 off, u32 len);
unsigned long rpmem_copy_mc_to_bio(struct bio *bio, const struct bvec_iter *start,
				   const void *src, u32 len);
void rpmem_copy_bio_to_pmem(void *dst, struct bio *bio, const struct bvec_iter *start, u32 len);
size_t rpmem_copy_from_iter_flushcache(void *addr, size_t bytes, struct iov_iter *i);
struct page *rpmem_zero_page(void);

#ifdef RUST_PMEM_TEST
void rpmem_test_machine_check(void *virt_addr, u64 phys);
int rpmem_test_bus_add_poison(struct device *dev, u64 phys, u64 len);
void rpmem_test_bus_forget_poison(struct device *dev, u64 phys, u64 len);
int rpmem_test_memory_failure(u64 phys);
#endif

#ifdef RUST_PMEM_NFIT
bool rpmem_nfit_pfn(void *kaddr, u64 phys, unsigned long *pfn);
#endif

#endif /* RUST_PMEM_GLUE_H */
