// SPDX-License-Identifier: GPL-2.0
/*
 * statx_dax FILE: report whether statx(2) says FILE is accessed through DAX.
 * Prints "dax 1" and exits 0 if STATX_ATTR_DAX is set, "dax 0" and exits 1 if
 * it is clear; exits 2 on errors or if the kernel does not report the bit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

int main(int argc, char **argv)
{
	struct statx stx;

	if (argc != 2) {
		fprintf(stderr, "usage: statx_dax FILE\n");
		return 64;
	}
	if (statx(AT_FDCWD, argv[1], 0, STATX_BASIC_STATS, &stx)) {
		printf("err %s (%s) in statx\n", strerrorname_np(errno), strerror(errno));
		return 2;
	}
	if (!(stx.stx_attributes_mask & STATX_ATTR_DAX)) {
		printf("err STATX_ATTR_DAX not in stx_attributes_mask (0x%llx)\n",
		       (unsigned long long)stx.stx_attributes_mask);
		return 2;
	}
	if (stx.stx_attributes & STATX_ATTR_DAX) {
		printf("dax 1\n");
		return 0;
	}
	printf("dax 0\n");
	return 1;
}
