// SPDX-License-Identifier: GPL-2.0
/* Benchmark helper: user-space memcpy bandwidth over a DAX mapping of FILE (created,
 * SIZE bytes) in CHUNK pieces, best of three passes. Prints "read_mbps R write_mbps W". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t size, chunk, off;
	double best_r = 1e9, best_w = 1e9, t;
	char *map, *buf;
	int fd, pass;

	if (argc != 4) {
		fprintf(stderr, "usage: %s FILE SIZE CHUNK\n", argv[0]);
		return 2;
	}
	size = strtoull(argv[2], NULL, 0);
	chunk = strtoull(argv[3], NULL, 0);
	fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, size) || !chunk || size % chunk) {
		perror(argv[1]);
		return 1;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	buf = aligned_alloc(4096, chunk);
	if (map == MAP_FAILED || !buf) {
		perror("mmap");
		return 1;
	}
	memset(buf, 0x5a, chunk);
	for (pass = 0; pass < 3; pass++) {
		t = now();
		for (off = 0; off < size; off += chunk)
			memcpy(map + off, buf, chunk);
		msync(map, size, MS_SYNC);
		t = now() - t;
		best_w = t < best_w ? t : best_w;
		t = now();
		for (off = 0; off < size; off += chunk)
			memcpy(buf, map + off, chunk);
		t = now() - t;
		best_r = t < best_r ? t : best_r;
	}
	printf("read_mbps %.1f write_mbps %.1f\n", size / best_r / 1e6, size / best_w / 1e6);
	return 0;
}
