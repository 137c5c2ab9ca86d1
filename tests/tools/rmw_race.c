// SPDX-License-Identifier: GPL-2.0
/*
 * rmw_race: a write beside a sector being cleared must not be undone.
 *
 *   rmw_race DEV PAGE_SECTOR BAD_IDX OTHER_IDX ROUNDS DELAY_US
 *
 * DEV is a pmem block device, opened O_RDWR|O_DIRECT. PAGE_SECTOR (a multiple
 * of 8) is the first sector of one 4 KiB page of DEV; BAD_IDX and OTHER_IDX
 * (0..7, different) are two sectors of that page. Each of ROUNDS rounds:
 *
 *   1. the whole page is written with a pattern of this round ("before" data);
 *   2. sector PAGE_SECTOR+BAD_IDX is recorded bad: "SECTOR 1" is written to
 *      DEV's badblocks file (/sys/dev/block/MAJ:MIN/badblocks, the same file as
 *      /sys/block/NAME/badblocks), which must then list it;
 *   3. thread A writes 512 bytes (a pattern of this round, "A") over the bad
 *      sector: the driver clears it, rust_pmem by rewriting the whole page;
 *      thread B waits until A is about to call pwrite, then DELAY_US/3
 *      microseconds more (DELAY_US 0: no wait), and writes 512 bytes (a pattern
 *      of this round, "B") to sector PAGE_SECTOR+OTHER_IDX;
 *   4. both writes must succeed; then the page is read back: the bad sector
 *      must hold A, the other sector B (its write completed before the read),
 *      the six remaining sectors their "before" data; and the badblocks file
 *      must no longer list the bad sector.
 *
 * DELAY_US is the pause the driver takes inside the rewrite (rust_pmem's test
 * build: debugfs rewrite_delay_us, set by the caller): B's write is then issued
 * during that pause. The patterns are pattern.h's, at the sectors' absolute
 * offsets, with seeds made of a random run id, the round and the role, so that
 * a sector's content names the write it came from.
 *
 * A data mismatch does not stop the run: the first 5 are printed, as
 * "lost write in round N: ..." (B's sector does not hold B's data) or
 * "bad data in round N: ..." (another sector is wrong), and the rounds go on.
 * Last line: "ok ROUNDS rounds overlap=N b_first=N paused=N a_avg_us=N
 * round_avg_us=N" and exit 0, or "lost writes in K of ROUNDS rounds, bad data
 * in J more (first: round R) overlap=N b_first=N paused=N" and exit 2.
 * overlap: rounds in which B's write was issued before A's returned; b_first:
 * B's returned first; paused: A's write took DELAY_US or more (DELAY_US 0:
 * always counted); a_avg_us, round_avg_us: mean time of A's write, of a round.
 * Errors (a failed or short write or read, a bad sector not recorded or not
 * cleared): "err ..." and exit 1, at once. Usage errors (also PAGE_SECTOR not a
 * multiple of 8, ROUNDS 0 or over 2^22, DELAY_US over 1000000) exit 64.
 * Threads: pthreads (in libc since glibc 2.34, so the Makefile's plain build
 * links).
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"

#define SECTOR 512
#define PAGE 4096
#define NSECT (PAGE / SECTOR)
#define MAX_ROUNDS (1ULL << 22)
#define MAX_DELAY_US 1000000ULL
#define SHOW_MISMATCHES 5

enum role { BEFORE, ROLE_A, ROLE_B };

static int fd;
static char bbpath[64];
static uint64_t run_id;
static uint64_t page_sector;
static unsigned int bad_idx, other_idx;
static uint64_t delay_us;

/* One round's race, shared by main and the two threads. */
struct race {
	unsigned char *buf_a, *buf_b;
	atomic_int a_started;
	struct timespec a_t0, a_t1, b_t0, b_t1; /* a_t0 published by a_started */
	ssize_t a_ret, b_ret;
	int a_errno, b_errno;
};

static void usage(void)
{
	fprintf(stderr, "usage: rmw_race DEV PAGE_SECTOR BAD_IDX OTHER_IDX ROUNDS DELAY_US\n");
	exit(64);
}

static uint64_t num(const char *s)
{
	uint64_t v;

	if (parse_size(s, &v))
		usage();
	return v;
}

#define SETUP UINT64_MAX /* the round of fail_errno() before the first round */

static int fail_errno(const char *what, uint64_t round)
{
	int e = errno;

	printf("err %s (%s) in %s", errname(e), strerror(e), what);
	if (round != SETUP)
		printf(" (round %llu)", (unsigned long long)round);
	printf("\n");
	return 1;
}

static uint64_t seed_of(enum role role, uint64_t round)
{
	return (run_id << 24) + (round << 2) + role;
}

static uint64_t sector_off(unsigned int idx)
{
	return (page_sector + idx) * SECTOR;
}

static int64_t ts_us(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000LL + (b->tv_nsec - a->tv_nsec) / 1000;
}

/* ----------------------------------------------------------- badblocks */

/* Record SECTOR bad; 0 or -1 (errno set). */
static int bb_record(uint64_t sector)
{
	char line[32];
	int n, bfd;
	ssize_t w;

	n = snprintf(line, sizeof(line), "%llu 1\n", (unsigned long long)sector);
	bfd = open(bbpath, O_WRONLY);
	if (bfd < 0)
		return -1;
	w = write(bfd, line, n);
	if (w < 0) {
		int e = errno;

		close(bfd);
		errno = e;
		return -1;
	}
	close(bfd);
	if (w != n) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * Read the badblocks file into text (NUL-terminated, newlines as ','); 1 if a
 * range in it covers [first, first + n), 0 if none touches it, -1 on an error.
 * Any overlap counts as "listed".
 */
static int bb_lists(uint64_t first, uint64_t n, char *text, size_t size)
{
	size_t len = 0;
	ssize_t r = 0;
	char *p;
	int bfd, found = 0;

	bfd = open(bbpath, O_RDONLY);
	if (bfd < 0)
		return -1;
	while (len + 1 < size && (r = read(bfd, text + len, size - 1 - len)) > 0)
		len += r;
	if (r < 0 && len + 1 < size) {
		int e = errno;

		close(bfd);
		errno = e;
		return -1;
	}
	close(bfd);
	text[len] = 0;
	for (p = text; *p;) {
		unsigned long long s, l;

		if (sscanf(p, "%llu %llu", &s, &l) == 2 && s < first + n && first < s + l)
			found = 1;
		p = strchr(p, '\n');
		if (!p)
			break;
		*p++ = ',';
	}
	if (len && text[len - 1] == ',')
		text[len - 1] = 0;
	if (!len)
		snprintf(text, size, "none");
	return found;
}

/* --------------------------------------------------------------- race */

static void *thread_a(void *arg)
{
	struct race *rc = arg;

	clock_gettime(CLOCK_MONOTONIC, &rc->a_t0);
	atomic_store_explicit(&rc->a_started, 1, memory_order_release);
	rc->a_ret = pwrite(fd, rc->buf_a, SECTOR, sector_off(bad_idx));
	rc->a_errno = errno;
	clock_gettime(CLOCK_MONOTONIC, &rc->a_t1);
	return NULL;
}

static void *thread_b(void *arg)
{
	struct race *rc = arg;
	struct timespec at;

	while (!atomic_load_explicit(&rc->a_started, memory_order_acquire))
		sched_yield();
	if (delay_us) {
		uint64_t ns = rc->a_t0.tv_nsec + delay_us / 3 * 1000;

		at.tv_sec = rc->a_t0.tv_sec + ns / 1000000000;
		at.tv_nsec = ns % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
			;
	}
	clock_gettime(CLOCK_MONOTONIC, &rc->b_t0);
	rc->b_ret = pwrite(fd, rc->buf_b, SECTOR, sector_off(other_idx));
	rc->b_errno = errno;
	clock_gettime(CLOCK_MONOTONIC, &rc->b_t1);
	return NULL;
}

/* ------------------------------------------------------------- checks */

/* What the sector at idx holds: the name of the write whose data it is. */
static const char *identify(const unsigned char *buf, unsigned int idx, uint64_t round)
{
	static const char *const names[2][3] = {
		{ "its data from before this round's writes", "A's data of this round",
		  "B's data of this round" },
		{ "the data from before the previous round's writes",
		  "A's data of the previous round", "B's data of the previous round" },
	};
	uint64_t off = sector_off(idx);
	unsigned int back, role;
	int i;

	for (back = 0; back < 2 && back <= round; back++)
		for (role = BEFORE; role <= ROLE_B; role++)
			if (pat_check(buf, off, SECTOR, seed_of(role, round - back)) == (size_t)-1)
				return names[back][role];
	for (i = 0; i < SECTOR && !buf[i]; i++)
		;
	return i == SECTOR ? "zeroes" : "data of no write of this run";
}

/* Check one sector of the page read back; 0 if it holds want's data. */
static int check_sector(const unsigned char *page, unsigned int idx, enum role want,
			uint64_t round, const struct race *rc, bool show)
{
	static const char *const want_name[] = { "its data from before this round's writes",
						 "A's data (written over the bad sector)",
						 "B's data (its write completed)" };
	const unsigned char *buf = page + idx * SECTOR;
	size_t bad = pat_check(buf, sector_off(idx), SECTOR, seed_of(want, round));

	if (bad == (size_t)-1)
		return 0;
	if (!show)
		return 1;
	printf("%s in round %llu: sector %llu (page sector %u, %s) holds %s, expected %s "
	       "(first wrong byte %zu); A's write +0..+%lld us, B's write +%lld..+%lld us\n",
	       want == ROLE_B ? "lost write" : "bad data", (unsigned long long)round,
	       (unsigned long long)(page_sector + idx), idx,
	       idx == bad_idx ? "the bad one" : idx == other_idx ? "B's" : "kept",
	       identify(buf, idx, round), want_name[want], bad,
	       (long long)ts_us(&rc->a_t0, &rc->a_t1), (long long)ts_us(&rc->a_t0, &rc->b_t0),
	       (long long)ts_us(&rc->a_t0, &rc->b_t1));
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t rounds, round, devsize, lost = 0, wrong = 0, first_bad = 0;
	uint64_t overlap = 0, b_first = 0, paused = 0;
	int64_t a_total_us = 0;
	unsigned char *page, *buf_a, *buf_b;
	struct timespec run_t0, run_t1;
	char bbtext[8192];
	struct stat st;
	unsigned int i;
	int shown = 0, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 7)
		usage();
	page_sector = num(argv[2]);
	bad_idx = num(argv[3]);
	other_idx = num(argv[4]);
	rounds = num(argv[5]);
	delay_us = num(argv[6]);
	if (page_sector % NSECT || bad_idx >= NSECT || other_idx >= NSECT ||
	    bad_idx == other_idx || !rounds || rounds > MAX_ROUNDS || delay_us > MAX_DELAY_US)
		usage();

	if (posix_memalign((void **)&page, PAGE, PAGE) ||
	    posix_memalign((void **)&buf_a, PAGE, SECTOR) ||
	    posix_memalign((void **)&buf_b, PAGE, SECTOR)) {
		printf("err ENOMEM in posix_memalign\n");
		return 1;
	}
	if (getrandom(&run_id, sizeof(run_id), 0) != sizeof(run_id))
		run_id = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	run_id &= 0xffffffffULL;

	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0)
		return fail_errno("open", SETUP);
	if (fstat(fd, &st))
		return fail_errno("fstat", SETUP);
	if (!S_ISBLK(st.st_mode)) {
		printf("err ENOTBLK (%s is not a block device) in fstat\n", argv[1]);
		return 1;
	}
	snprintf(bbpath, sizeof(bbpath), "/sys/dev/block/%u:%u/badblocks", major(st.st_rdev),
		 minor(st.st_rdev));
	if (ioctl(fd, BLKGETSIZE64, &devsize))
		return fail_errno("ioctl(BLKGETSIZE64)", SETUP);
	if ((page_sector + NSECT) * SECTOR > devsize) {
		printf("err EINVAL (page at sector %llu is past the end, %llu bytes) in setup\n",
		       (unsigned long long)page_sector, (unsigned long long)devsize);
		return 1;
	}
	rc = bb_lists(page_sector, NSECT, bbtext, sizeof(bbtext));
	if (rc < 0)
		return fail_errno(bbpath, SETUP);
	if (rc) {
		printf("err EEXIST (the page already has recorded bad sectors: %s) in setup\n",
		       bbtext);
		return 1;
	}
	printf("run %08llx: %s page at sector %llu, bad sector +%u, B's sector +%u, %llu rounds, "
	       "B starts %llu us after A\n",
	       (unsigned long long)run_id, argv[1], (unsigned long long)page_sector, bad_idx,
	       other_idx, (unsigned long long)rounds, (unsigned long long)(delay_us / 3));

	clock_gettime(CLOCK_MONOTONIC, &run_t0);
	for (round = 0; round < rounds; round++) {
		struct race race = { .buf_a = buf_a, .buf_b = buf_b };
		pthread_t ta, tb;
		ssize_t r;
		int e, bad_here = 0;

		for (i = 0; i < NSECT; i++)
			pat_fill(page + i * SECTOR, sector_off(i), SECTOR, seed_of(BEFORE, round));
		r = pwrite(fd, page, PAGE, sector_off(0));
		if (r < 0)
			return fail_errno("pwrite of the page's data", round);
		if (r != PAGE) {
			printf("err short %zd of %d in pwrite of the page's data (round %llu)\n", r,
			       PAGE, (unsigned long long)round);
			return 1;
		}
		if (bb_record(page_sector + bad_idx))
			return fail_errno(bbpath, round);
		rc = bb_lists(page_sector + bad_idx, 1, bbtext, sizeof(bbtext));
		if (rc < 0)
			return fail_errno(bbpath, round);
		if (!rc) {
			printf("err ENOENT (sector %llu not listed after recording it: %s) in %s "
			       "(round %llu)\n",
			       (unsigned long long)(page_sector + bad_idx), bbtext, bbpath,
			       (unsigned long long)round);
			return 1;
		}

		pat_fill(buf_a, sector_off(bad_idx), SECTOR, seed_of(ROLE_A, round));
		pat_fill(buf_b, sector_off(other_idx), SECTOR, seed_of(ROLE_B, round));
		atomic_init(&race.a_started, 0);
		e = pthread_create(&ta, NULL, thread_a, &race);
		if (e) {
			errno = e;
			return fail_errno("pthread_create", round);
		}
		e = pthread_create(&tb, NULL, thread_b, &race);
		if (e) {
			errno = e;
			/* A is running: let it finish before leaving. */
			pthread_join(ta, NULL);
			return fail_errno("pthread_create", round);
		}
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);

		if (race.a_ret != SECTOR || race.b_ret != SECTOR) {
			bool a_bad = race.a_ret != SECTOR;
			ssize_t ret = a_bad ? race.a_ret : race.b_ret;
			const char *what = a_bad ? "A's pwrite over the bad sector"
						 : "B's pwrite beside the bad sector";

			if (ret >= 0) {
				printf("err short %zd of %d in %s (round %llu)\n", ret, SECTOR, what,
				       (unsigned long long)round);
				return 1;
			}
			errno = a_bad ? race.a_errno : race.b_errno;
			return fail_errno(what, round);
		}
		a_total_us += ts_us(&race.a_t0, &race.a_t1);
		if (ts_us(&race.b_t0, &race.a_t1) > 0)
			overlap++;
		if (ts_us(&race.b_t1, &race.a_t1) > 0)
			b_first++;
		if ((uint64_t)ts_us(&race.a_t0, &race.a_t1) >= delay_us)
			paused++;

		r = pread(fd, page, PAGE, sector_off(0));
		if (r < 0)
			return fail_errno("pread of the page", round);
		if (r != PAGE) {
			printf("err short %zd of %d in pread of the page (round %llu)\n", r, PAGE,
			       (unsigned long long)round);
			return 1;
		}
		if (check_sector(page, other_idx, ROLE_B, round, &race, shown < SHOW_MISMATCHES)) {
			lost++;
			bad_here = 1;
			shown++;
		}
		for (i = 0; i < NSECT; i++) {
			if (i == other_idx)
				continue;
			if (check_sector(page, i, i == bad_idx ? ROLE_A : BEFORE, round, &race,
					 shown < SHOW_MISMATCHES)) {
				if (!bad_here)
					wrong++;
				bad_here = 1;
				shown++;
			}
		}
		if (bad_here && lost + wrong == 1)
			first_bad = round;

		rc = bb_lists(page_sector + bad_idx, 1, bbtext, sizeof(bbtext));
		if (rc < 0)
			return fail_errno(bbpath, round);
		if (rc) {
			printf("err EEXIST (sector %llu still recorded after A's write over it: %s) "
			       "in %s (round %llu)\n",
			       (unsigned long long)(page_sector + bad_idx), bbtext, bbpath,
			       (unsigned long long)round);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &run_t1);
	close(fd);
	free(page);
	free(buf_a);
	free(buf_b);

	if (lost || wrong) {
		printf("lost writes in %llu of %llu rounds, bad data in %llu more (first: round %llu) "
		       "overlap=%llu b_first=%llu paused=%llu\n",
		       (unsigned long long)lost, (unsigned long long)rounds,
		       (unsigned long long)wrong, (unsigned long long)first_bad,
		       (unsigned long long)overlap, (unsigned long long)b_first,
		       (unsigned long long)paused);
		return 2;
	}
	printf("ok %llu rounds overlap=%llu b_first=%llu paused=%llu a_avg_us=%lld "
	       "round_avg_us=%lld\n",
	       (unsigned long long)rounds, (unsigned long long)overlap,
	       (unsigned long long)b_first, (unsigned long long)paused,
	       (long long)(a_total_us / (int64_t)rounds),
	       (long long)(ts_us(&run_t0, &run_t1) / (int64_t)rounds));
	return 0;
}
