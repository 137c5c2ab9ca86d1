// SPDX-License-Identifier: GPL-2.0
/*
 * dax_mmap: write or check a file through a shared mapping.
 *
 *   dax_mmap write  FILE OFF LEN SEED [sync] [nomsync]
 *       Extend FILE to at least OFF+LEN, map it MAP_SHARED (with "sync":
 *       MAP_SHARED_VALIDATE|MAP_SYNC), store the pattern of SEED with plain
 *       CPU stores, msync(MS_SYNC) unless "nomsync", munmap.
 *   dax_mmap verify FILE OFF LEN SEED
 *       Map FILE read-only and compare the mapping with the pattern.
 *   dax_mmap probe-sync FILE
 *       Try mmap(MAP_SHARED_VALIDATE|MAP_SYNC) of the first page of FILE
 *       (which must be at least one page long).
 *
 * Output: "ok ..." and exit 0; "err ENAME (text) in SYSCALL" and exit 1;
 * "mismatch ..." and exit 2; usage errors exit 64.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pattern.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

static int fail_errno(const char *what)
{
	int e = errno;

	printf("err %s (%s) in %s\n", errname(e), strerror(e), what);
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: dax_mmap write FILE OFF LEN SEED [sync] [nomsync]\n"
			"       dax_mmap verify FILE OFF LEN SEED\n"
			"       dax_mmap probe-sync FILE\n");
	exit(64);
}

static int probe_sync(const char *path)
{
	int fd = open(path, O_RDWR);
	void *p;

	if (fd < 0)
		return fail_errno("open");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (p == MAP_FAILED)
		return fail_errno("mmap(MAP_SYNC)");
	munmap(p, 4096);
	close(fd);
	printf("ok MAP_SYNC mapping accepted\n");
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t off, len, seed, moff, mlen;
	bool wr, sync = false, do_msync = true;
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *map;
	struct stat st;
	int fd, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "probe-sync"))
		return probe_sync(argv[2]);
	if (argc < 6 || parse_size(argv[3], &off) || parse_size(argv[4], &len) ||
	    parse_size(argv[5], &seed) || !len)
		usage();
	if (!strcmp(argv[1], "write"))
		wr = true;
	else if (!strcmp(argv[1], "verify"))
		wr = false;
	else
		usage();
	for (i = 6; i < argc; i++) {
		if (wr && !strcmp(argv[i], "sync"))
			sync = true;
		else if (wr && !strcmp(argv[i], "nomsync"))
			do_msync = false;
		else
			usage();
	}

	fd = open(argv[2], wr ? O_RDWR | O_CREAT : O_RDONLY, 0644);
	if (fd < 0)
		return fail_errno("open");
	if (fstat(fd, &st))
		return fail_errno("fstat");
	if (wr && (uint64_t)st.st_size < off + len && ftruncate(fd, off + len))
		return fail_errno("ftruncate");
	if (!wr && (uint64_t)st.st_size < off + len) {
		printf("mismatch: file is %lld bytes, expected at least %llu\n",
		       (long long)st.st_size, (unsigned long long)(off + len));
		return 2;
	}

	moff = off & ~(uint64_t)(pg - 1);
	mlen = off + len - moff;
	map = mmap(NULL, mlen, wr ? PROT_READ | PROT_WRITE : PROT_READ,
		   sync ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED, fd, moff);
	if (map == MAP_FAILED)
		return fail_errno(sync ? "mmap(MAP_SYNC)" : "mmap");

	if (wr) {
		pat_fill(map + (off - moff), off, len, seed);
		if (do_msync && msync(map, mlen, MS_SYNC))
			return fail_errno("msync");
	} else {
		size_t bad = pat_check(map + (off - moff), off, len, seed);

		if (bad != (size_t)-1) {
			printf("mismatch at offset %llu: expected 0x%02x got 0x%02x\n",
			       (unsigned long long)(off + bad), pat_byte(seed, off + bad),
			       map[off - moff + bad]);
			return 2;
		}
	}
	if (munmap(map, mlen))
		return fail_errno("munmap");
	if (close(fd))
		return fail_errno("close");
	printf("ok %llu\n", (unsigned long long)len);
	return 0;
}
