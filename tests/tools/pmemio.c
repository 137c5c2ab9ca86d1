// SPDX-License-Identifier: GPL-2.0
/*
 * pmemio: one block-device or file I/O operation with a checkable pattern,
 * reporting the exact result so that shell tests can compare errno values.
 *
 *   pmemio write   PATH OFF LEN SEED [OPTS]  write the pattern of SEED
 *   pmemio verify  PATH OFF LEN SEED [OPTS]  read and compare with the pattern
 *   pmemio read    PATH OFF LEN [OPTS]       read, report the bytes read
 *   pmemio zero    PATH OFF LEN [OPTS]       read and check that all bytes are 0
 *   pmemio zeroout PATH OFF LEN              ioctl(BLKZEROOUT)
 *   pmemio discard PATH OFF LEN              ioctl(BLKDISCARD)
 *   pmemio size    PATH                      ioctl(BLKGETSIZE64) or st_size
 *   pmemio batch                             run the commands on stdin, one a
 *                                            line (without "pmemio"), until
 *                                            one fails; prints only failures
 *
 * OPTS: direct sync dsync creat fsync fdatasync rwf_dsync rwf_sync rwf_nowait
 *       bufoff=N (buffer starts N bytes past a 4 KiB boundary)
 *       chunk=N (bytes per syscall, default min(LEN, 4M))
 *
 * Output (one line): "ok N" (N bytes transferred) and exit 0;
 * "err ENAME (text) in SYSCALL" and exit 1; "short N of LEN" and exit 3
 * (a write or verify transferred less than asked); "mismatch ..." and exit 2;
 * usage errors exit 64.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pattern.h"

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif
#ifndef RWF_SYNC
#define RWF_SYNC 0x00000004
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

static bool quiet;	/* batch mode: print only failures */

struct opts {
	int oflags;
	int rwf;
	bool fsync, fdatasync;
	uint64_t bufoff, chunk;
};

static int fail_errno(const char *what)
{
	int e = errno;

	printf("err %s (%s) in %s\n", errname(e), strerror(e), what);
	return 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pmemio write|verify PATH OFF LEN SEED [OPTS]\n"
		"       pmemio read|zero PATH OFF LEN [OPTS]\n"
		"       pmemio zeroout|discard PATH OFF LEN\n"
		"       pmemio size PATH\n"
		"       pmemio batch  (commands on stdin, one a line)\n"
		"OPTS: direct sync dsync creat fsync fdatasync rwf_dsync rwf_sync\n"
		"      rwf_nowait bufoff=N chunk=N\n");
	exit(64);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "direct"))
			o->oflags |= O_DIRECT;
		else if (!strcmp(a, "sync"))
			o->oflags |= O_SYNC;
		else if (!strcmp(a, "dsync"))
			o->oflags |= O_DSYNC;
		else if (!strcmp(a, "creat"))
			o->oflags |= O_CREAT;
		else if (!strcmp(a, "fsync"))
			o->fsync = true;
		else if (!strcmp(a, "fdatasync"))
			o->fdatasync = true;
		else if (!strcmp(a, "rwf_dsync"))
			o->rwf |= RWF_DSYNC;
		else if (!strcmp(a, "rwf_sync"))
			o->rwf |= RWF_SYNC;
		else if (!strcmp(a, "rwf_nowait"))
			o->rwf |= RWF_NOWAIT;
		else if (!strncmp(a, "bufoff=", 7) && !parse_size(a + 7, &o->bufoff))
			;
		else if (!strncmp(a, "chunk=", 6) && !parse_size(a + 6, &o->chunk) && o->chunk)
			;
		else {
			fprintf(stderr, "pmemio: bad option '%s'\n", a);
			usage();
		}
	}
}

/* One pread/pwrite (or preadv2/pwritev2 when RWF flags are given). */
static ssize_t do_io(bool wr, int fd, void *buf, size_t len, off_t off, int rwf)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	if (rwf)
		return wr ? pwritev2(fd, &iov, 1, off, rwf) : preadv2(fd, &iov, 1, off, rwf);
	return wr ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
}

static int cmd_rw(const char *op, const char *path, uint64_t off, uint64_t len,
		  uint64_t seed, struct opts *o)
{
	bool wr = !strcmp(op, "write");
	bool check = !strcmp(op, "verify") || !strcmp(op, "zero");
	bool zero = !strcmp(op, "zero");
	uint64_t chunk = o->chunk ? o->chunk : (len < (4u << 20) ? len : (4u << 20));
	uint64_t done = 0;
	unsigned char *mem, *buf;
	int fd;

	if (posix_memalign((void **)&mem, 4096, chunk + o->bufoff + 4096)) {
		fprintf(stderr, "pmemio: out of memory\n");
		return 64;
	}
	buf = mem + o->bufoff;
	fd = open(path, (wr ? O_RDWR : O_RDONLY) | o->oflags, 0644);
	if (fd < 0)
		return fail_errno("open");

	while (done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		ssize_t r;

		if (wr)
			pat_fill(buf, off + done, n, seed);
		r = do_io(wr, fd, buf, n, off + done, o->rwf);
		if (r < 0)
			return fail_errno(wr ? (o->rwf ? "pwritev2" : "pwrite") :
					       (o->rwf ? "preadv2" : "pread"));
		if (check) {
			size_t bad = (size_t)-1, i;

			if (zero) {
				for (i = 0; i < (size_t)r; i++)
					if (buf[i]) {
						bad = i;
						break;
					}
			} else {
				bad = pat_check(buf, off + done, r, seed);
			}
			if (bad != (size_t)-1) {
				uint64_t at = off + done + bad;

				printf("mismatch at offset %llu: expected 0x%02x got 0x%02x\n",
				       (unsigned long long)at,
				       zero ? 0 : pat_byte(seed, at), buf[bad]);
				return 2;
			}
		}
		done += r;
		if ((size_t)r < n)
			break;
	}
	if (wr && o->fsync && fsync(fd))
		return fail_errno("fsync");
	if (wr && o->fdatasync && fdatasync(fd))
		return fail_errno("fdatasync");
	if (close(fd))
		return fail_errno("close");
	free(mem);
	if (done < len && strcmp(op, "read")) {
		printf("short %llu of %llu\n", (unsigned long long)done,
		       (unsigned long long)len);
		return 3;
	}
	if (!quiet)
		printf("ok %llu\n", (unsigned long long)done);
	return 0;
}

static int cmd_ioctl(const char *op, const char *path, uint64_t off, uint64_t len)
{
	uint64_t range[2] = { off, len };
	unsigned long req = !strcmp(op, "zeroout") ? BLKZEROOUT : BLKDISCARD;
	int fd = open(path, O_RDWR);

	if (fd < 0)
		return fail_errno("open");
	if (ioctl(fd, req, range))
		return fail_errno(req == BLKZEROOUT ? "ioctl(BLKZEROOUT)" : "ioctl(BLKDISCARD)");
	close(fd);
	if (!quiet)
		printf("ok %llu\n", (unsigned long long)len);
	return 0;
}

static int cmd_size(const char *path)
{
	uint64_t size;
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail_errno("open");
	if (fstat(fd, &st))
		return fail_errno("fstat");
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size))
			return fail_errno("ioctl(BLKGETSIZE64)");
	} else {
		size = st.st_size;
	}
	printf("%llu\n", (unsigned long long)size);
	return 0;
}

static int run(int argc, char **argv);

/* batch: one command a line on stdin; stop at the first that fails. */
static int cmd_batch(void)
{
	char line[4096], copy[4096], *args[32], *tok, *save;
	long n = 0, ran = 0;
	int argc, rc;

	while (fgets(line, sizeof(line), stdin)) {
		n++;
		strcpy(copy, line);
		copy[strcspn(copy, "\n")] = 0;
		args[0] = "pmemio";
		argc = 1;
		for (tok = strtok_r(line, " \t\n", &save); tok && argc < 31;
		     tok = strtok_r(NULL, " \t\n", &save))
			args[argc++] = tok;
		if (argc == 1)
			continue;
		args[argc] = NULL;
		ran++;
		rc = run(argc, args);
		if (rc) {
			printf("batch line %ld failed: %s\n", n, copy);
			return rc;
		}
	}
	printf("ok %ld commands\n", ran);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "batch")) {
		quiet = true;
		return cmd_batch();
	}
	return run(argc, argv);
}

static int run(int argc, char **argv)
{
	struct opts o = { 0 };
	uint64_t off, len, seed = 0;
	const char *op;
	int nargs;

	if (argc < 3)
		usage();
	op = argv[1];
	if (!strcmp(op, "size"))
		return cmd_size(argv[2]);
	if (argc < 5 || parse_size(argv[3], &off) || parse_size(argv[4], &len))
		usage();
	if (!strcmp(op, "zeroout") || !strcmp(op, "discard"))
		return cmd_ioctl(op, argv[2], off, len);
	if (!strcmp(op, "write") || !strcmp(op, "verify")) {
		if (argc < 6 || parse_size(argv[5], &seed))
			usage();
		nargs = 6;
	} else if (!strcmp(op, "read") || !strcmp(op, "zero")) {
		nargs = 5;
	} else {
		usage();
	}
	parse_opts(argc - nargs, argv + nargs, &o);
	return cmd_rw(op, argv[2], off, len, seed, &o);
}
