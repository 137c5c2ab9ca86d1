// SPDX-License-Identifier: GPL-2.0
/*
 * fail_nth N PATH DATA: write DATA to PATH with one write(2) call, with the
 * kernel's fault injection armed to fail the N-th fault point of that call
 * (/proc/thread-self/fail-nth, Documentation/fault-injection/fault-injection.rst:
 * failslab and fail_page_alloc count their allocations that pass their debugfs
 * filters). PATH is opened before arming, so only the write counts. Afterwards
 * fail-nth is read back and disarmed.
 *
 * Prints "ok N left=L" (exit 0) or "err ENAME (text) left=L" (exit 1), where L
 * is fail-nth after the write: 0 means the N-th fault point was reached and
 * failed, L > 0 that the write passed only N - L fault points and none failed.
 * Exit 2 if the fault injection file cannot be used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char arm[32], left[32] = "", zero[] = "0";
	ssize_t r, n;
	size_t len;
	int fd, nth, err;

	if (argc != 4) {
		fprintf(stderr, "usage: fail_nth N PATH DATA\n");
		return 64;
	}
	snprintf(arm, sizeof(arm), "%lu", strtoul(argv[1], NULL, 0));
	len = strlen(argv[3]);
	nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth < 0) {
		printf("err %s (%s) opening /proc/thread-self/fail-nth\n",
		       strerrorname_np(errno), strerror(errno));
		return 2;
	}
	fd = open(argv[2], O_WRONLY);
	if (fd < 0) {
		printf("err %s (%s) in open\n", strerrorname_np(errno), strerror(errno));
		return 2;
	}
	/* Touch the buffers now: no page fault between arming and the write. */
	memset(left, 0, sizeof(left));
	if (write(nth, arm, strlen(arm)) < 0) {
		printf("err %s (%s) arming fail-nth\n", strerrorname_np(errno), strerror(errno));
		return 2;
	}
	r = write(fd, argv[3], len);
	err = errno;
	n = pread(nth, left, sizeof(left) - 1, 0);
	/* Disarm (a no-op if the fault fired). */
	if (write(nth, zero, 1) < 0 || n <= 0) {
		printf("err %s (%s) reading/disarming fail-nth\n", strerrorname_np(errno),
		       strerror(errno));
		return 2;
	}
	left[strcspn(left, "\n")] = 0;
	close(fd);
	if (r < 0) {
		printf("err %s (%s) left=%s\n", strerrorname_np(err), strerror(err), left);
		return 1;
	}
	printf("ok %zd left=%s\n", r, left);
	return 0;
}
