// SPDX-License-Identifier: GPL-2.0
/*
 * poison: helpers of the poison tests.
 *
 *   poison sector FILE OFF [any]
 *       fsync FILE and print the disk sector (512-byte units, relative to the
 *       start of the block device) that holds byte OFF of FILE, from FIEMAP.
 *       Fails unless OFF is in a written extent ("any": also unwritten ones).
 *   poison mmap-read FILE OFF
 *       In a child: map FILE (MAP_SHARED, read-only) and load the byte at OFF.
 *       Prints "ok byte=0xNN" or "sigbus code=NAME addr=load|page|0x... lsb=N"
 *       (SIGBUS caught by an SA_SIGINFO handler; si_addr is the loaded byte's
 *       address, the page's start, or printed), or "killed by SIGNAME".
 *   poison hwpoison FILE OFF
 *       In a child: map FILE (MAP_SHARED, read-write), load the page of OFF
 *       (so it is mapped), madvise(MADV_HWPOISON) that page, then load it
 *       again. Prints one line:
 *       "madvise=ok|ENAME signal=<sigbus ...|none> then=<ok byte=..|sigbus ...>"
 *   poison hwpoison-range FILE OFF NPAGES
 *       In a child: map NPAGES pages of FILE from the page of OFF (MAP_SHARED,
 *       read-only), madvise(MADV_HWPOISON) over all of them without touching
 *       them first (madvise's get_user_pages faults each page in, as for any
 *       program), then load byte OFF again. Prints one line as hwpoison does;
 *       a signal's addr is "load", "page" (the first page), "page+N" (page N
 *       of the mapping) or printed.
 *   poison pfn FILE OFF
 *       Map the page of OFF of FILE (MAP_SHARED, read-only), load byte OFF and
 *       print the page frame number the mapping shows in /proc/self/pagemap
 *       (decimal; needs CAP_SYS_ADMIN, else the kernel shows 0: an error).
 *   poison devcmp DEV SECTOR LEN SEED FILEOFF
 *       O_DIRECT read of LEN bytes of DEV at SECTOR*512, compared with the
 *       pattern of SEED at the absolute offset FILEOFF (as pmemio wrote it
 *       into a file). Prints "ok N", "err ENAME ..." or "mismatch ...".
 *
 * Exit: 0 when a result line was printed (the shell compares it), 1 on an
 * error of the operation itself ("err ..."), 2 on a mismatch, 64 on usage.
 */
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pattern.h"

#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR 4
#endif
#ifndef BUS_MCEERR_AO
#define BUS_MCEERR_AO 5
#endif

static int fail_errno(const char *what)
{
	int e = errno;

	printf("err %s (%s) in %s\n", errname(e), strerror(e), what);
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: poison sector FILE OFF [any]\n"
			"       poison mmap-read FILE OFF\n"
			"       poison hwpoison FILE OFF\n"
			"       poison hwpoison-range FILE OFF NPAGES\n"
			"       poison pfn FILE OFF\n"
			"       poison devcmp DEV SECTOR LEN SEED FILEOFF\n");
	exit(64);
}

static uint64_t num(const char *s)
{
	uint64_t v;

	if (parse_size(s, &v))
		usage();
	return v;
}

/* ---------------------------------------------------------------- sector */

static int cmd_sector(const char *path, uint64_t off, bool any)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[1];
	} m;
	struct fiemap_extent *e = &m.fm.fm_extents[0];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail_errno("open");
	memset(&m, 0, sizeof(m));
	m.fm.fm_start = off;
	m.fm.fm_length = 1;
	m.fm.fm_flags = FIEMAP_FLAG_SYNC;
	m.fm.fm_extent_count = 1;
	if (ioctl(fd, FS_IOC_FIEMAP, &m.fm))
		return fail_errno("ioctl(FS_IOC_FIEMAP)");
	close(fd);
	if (m.fm.fm_mapped_extents < 1 || e->fe_logical > off ||
	    e->fe_logical + e->fe_length <= off) {
		printf("err ENODATA (offset %llu of %s is not mapped) in fiemap\n",
		       (unsigned long long)off, path);
		return 1;
	}
	if (e->fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
			   FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_INLINE |
			   FIEMAP_EXTENT_NOT_ALIGNED) ||
	    (!any && (e->fe_flags & FIEMAP_EXTENT_UNWRITTEN))) {
		printf("err EINVAL (extent flags 0x%x at offset %llu) in fiemap\n",
		       e->fe_flags, (unsigned long long)off);
		return 1;
	}
	printf("%llu\n", (unsigned long long)((e->fe_physical + (off - e->fe_logical)) >> 9));
	return 0;
}

/* ------------------------------------------------------- mapped accesses */

/* What the child saw, in memory shared with the parent. */
struct report {
	int mapped;
	int madvise_errno; /* -1: not called */
	int nsig;
	int code[2];
	int lsb[2];
	uintptr_t addr[2];
	uintptr_t page, load; /* addresses of the mapped page and of the loaded byte */
	size_t len; /* bytes mapped from page */
	int nsig_madvise; /* signals handled by the time madvise returned */
	int then; /* 0 not tried, 1 ok, 2 sigbus */
	unsigned char byte;
	char err[160];
};

static struct report *rep;
static sigjmp_buf jb;
static volatile sig_atomic_t in_access;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (rep->nsig < 2) {
		rep->code[rep->nsig] = si->si_code;
		rep->addr[rep->nsig] = (uintptr_t)si->si_addr;
		rep->lsb[rep->nsig] = si->si_addr_lsb;
	}
	rep->nsig++;
	if (in_access) {
		in_access = 0;
		siglongjmp(jb, 1);
	}
}

static const char *code_name(int c)
{
	switch (c) {
	case BUS_ADRALN: return "BUS_ADRALN";
	case BUS_ADRERR: return "BUS_ADRERR";
	case BUS_OBJERR: return "BUS_OBJERR";
	case BUS_MCEERR_AR: return "BUS_MCEERR_AR";
	case BUS_MCEERR_AO: return "BUS_MCEERR_AO";
	default: return "BUS_?";
	}
}

static void print_sig(int i)
{
	printf("sigbus code=%s", code_name(rep->code[i]));
	if (rep->addr[i] == rep->load)
		printf(" addr=load");
	else if (rep->addr[i] == rep->page)
		printf(" addr=page");
	else if (rep->addr[i] > rep->page && rep->addr[i] < rep->page + rep->len &&
		 !((rep->addr[i] - rep->page) % (uintptr_t)sysconf(_SC_PAGESIZE)))
		printf(" addr=page+%lu",
		       (unsigned long)((rep->addr[i] - rep->page) / sysconf(_SC_PAGESIZE)));
	else
		printf(" addr=0x%lx(page 0x%lx load 0x%lx)", (unsigned long)rep->addr[i],
		       (unsigned long)rep->page, (unsigned long)rep->load);
	if (rep->code[i] == BUS_MCEERR_AR || rep->code[i] == BUS_MCEERR_AO)
		printf(" lsb=%d", rep->lsb[i]);
}

/* Load one byte at p; 1 if it worked, 2 if SIGBUS. */
static int load(volatile unsigned char *p)
{
	if (sigsetjmp(jb, 1))
		return 2;
	in_access = 1;
	rep->byte = *p;
	in_access = 0;
	return 1;
}

/* What a child does with its mapping. */
enum mode {
	MODE_READ,	/* mmap-read: one load */
	MODE_HWPOISON,	/* hwpoison: load, MADV_HWPOISON on the page, load */
	MODE_RANGE,	/* hwpoison-range: MADV_HWPOISON on npages untouched pages, load */
};

static void on_sigbus_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

static void child(const char *path, uint64_t off, enum mode mode, uint64_t npages)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t moff = off & ~(uint64_t)(pg - 1);
	size_t len = mode == MODE_RANGE ? npages * pg : (size_t)pg;
	bool rw = mode == MODE_HWPOISON;
	unsigned char *map;
	int fd;

	on_sigbus_setup();

	fd = open(path, rw ? O_RDWR : O_RDONLY);
	if (fd < 0) {
		snprintf(rep->err, sizeof(rep->err), "err %s in open", errname(errno));
		_exit(1);
	}
	map = mmap(NULL, len, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, moff);
	if (map == MAP_FAILED) {
		snprintf(rep->err, sizeof(rep->err), "err %s in mmap", errname(errno));
		_exit(1);
	}
	rep->mapped = 1;
	rep->page = (uintptr_t)map;
	rep->len = len;
	rep->load = (uintptr_t)(map + (off - moff));
	if (mode == MODE_READ) {
		rep->then = load(map + (off - moff));
		_exit(0);
	}
	/* hwpoison: fault the page in first, as a program that uses it would have. */
	if (mode == MODE_HWPOISON && load(map) != 1) {
		snprintf(rep->err, sizeof(rep->err), "err SIGBUS on the first load of the page");
		_exit(1);
	}
	rep->nsig = 0;
	rep->madvise_errno = madvise(map, len, MADV_HWPOISON) ? errno : 0;
	rep->nsig_madvise = rep->nsig;
	/* A signal sent during madvise has been handled on the way out of it. */
	rep->then = load(map + (off - moff));
	_exit(0);
}

static int cmd_mapped(const char *path, uint64_t off, enum mode mode, uint64_t npages)
{
	bool hwpoison = mode != MODE_READ;
	pid_t pid;
	int st;

	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED)
		return fail_errno("mmap(report)");
	memset(rep, 0, sizeof(*rep));
	rep->madvise_errno = -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return fail_errno("fork");
	if (pid == 0)
		child(path, off, mode, npages);
	if (waitpid(pid, &st, 0) < 0)
		return fail_errno("waitpid");
	if (WIFSIGNALED(st)) {
		printf("killed by %s\n", sigabbrev_np(WTERMSIG(st)) ?: "?");
		return 0;
	}
	if (WEXITSTATUS(st)) {
		printf("%s\n", rep->err[0] ? rep->err : "err child failed");
		return 1;
	}
	if (!hwpoison) {
		if (rep->then == 1) {
			printf("ok byte=0x%02x\n", rep->byte);
		} else {
			print_sig(0);
			printf("\n");
		}
		return 0;
	}
	printf("madvise=%s", rep->madvise_errno ? errname(rep->madvise_errno) : "ok");
	if (rep->nsig_madvise == 0) {
		printf(" signal=none");
	} else {
		printf(" signal=");
		print_sig(0);
		if (rep->nsig_madvise > 1)
			printf(" (%d signals)", rep->nsig_madvise);
	}
	printf(" then=");
	if (rep->then == 1)
		printf("ok byte=0x%02x", rep->byte);
	else if (rep->nsig_madvise < 2)
		print_sig(rep->nsig_madvise);
	else
		printf("sigbus");
	printf("\n");
	return 0;
}

/* -------------------------------------------------------------------- pfn */

static int cmd_pfn(const char *path, uint64_t off)
{
	static struct report self;
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t moff = off & ~(uint64_t)(pg - 1), ent, pfn;
	unsigned char *map;
	int fd, pm;

	rep = &self;
	on_sigbus_setup();
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return fail_errno("open");
	map = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, moff);
	if (map == MAP_FAILED)
		return fail_errno("mmap");
	if (load(map + (off - moff)) != 1) {
		printf("err SIGBUS (code %s) on the load of offset %llu\n", code_name(self.code[0]),
		       (unsigned long long)off);
		return 1;
	}
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0)
		return fail_errno("open(/proc/self/pagemap)");
	if (pread(pm, &ent, sizeof(ent), (off_t)((uintptr_t)map / pg * sizeof(ent))) !=
	    (ssize_t)sizeof(ent))
		return fail_errno("pread(/proc/self/pagemap)");
	close(pm);
	munmap(map, pg);
	close(fd);
	if (!(ent >> 63 & 1)) {
		printf("err ENODATA (page not present after the load) in pagemap\n");
		return 1;
	}
	pfn = ent & ((1ULL << 55) - 1);
	if (!pfn) {
		printf("err EPERM (pagemap shows no pfn: needs CAP_SYS_ADMIN) in pagemap\n");
		return 1;
	}
	printf("%llu\n", (unsigned long long)pfn);
	return 0;
}

/* ----------------------------------------------------------------- devcmp */

static int cmd_devcmp(const char *dev, uint64_t sector, uint64_t len, uint64_t seed,
		      uint64_t fileoff)
{
	unsigned char *buf;
	size_t bad;
	ssize_t r;
	int fd;

	if (posix_memalign((void **)&buf, 4096, len + 4096))
		return 64;
	fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd < 0)
		return fail_errno("open");
	r = pread(fd, buf, len, sector * 512);
	if (r < 0)
		return fail_errno("pread");
	close(fd);
	if ((uint64_t)r != len) {
		printf("short %zd of %llu\n", r, (unsigned long long)len);
		return 2;
	}
	bad = pat_check(buf, fileoff, len, seed);
	if (bad != (size_t)-1) {
		printf("mismatch at sector %llu + %zu: expected 0x%02x got 0x%02x\n",
		       (unsigned long long)sector, bad, pat_byte(seed, fileoff + bad), buf[bad]);
		return 2;
	}
	printf("ok %llu\n", (unsigned long long)len);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "sector") && (argc == 4 || (argc == 5 && !strcmp(argv[4], "any"))))
		return cmd_sector(argv[2], num(argv[3]), argc == 5);
	if (!strcmp(argv[1], "mmap-read") && argc == 4)
		return cmd_mapped(argv[2], num(argv[3]), MODE_READ, 1);
	if (!strcmp(argv[1], "hwpoison") && argc == 4)
		return cmd_mapped(argv[2], num(argv[3]), MODE_HWPOISON, 1);
	if (!strcmp(argv[1], "hwpoison-range") && argc == 5) {
		uint64_t n = num(argv[4]);

		if (!n || n > 1024)
			usage();
		return cmd_mapped(argv[2], num(argv[3]), MODE_RANGE, n);
	}
	if (!strcmp(argv[1], "pfn") && argc == 4)
		return cmd_pfn(argv[2], num(argv[3]));
	if (!strcmp(argv[1], "devcmp") && argc == 7)
		return cmd_devcmp(argv[2], num(argv[3]), num(argv[4]), num(argv[5]), num(argv[6]));
	usage();
	return 64;
}
