// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs_write PATH DATA: write DATA to PATH with exactly one write(2) call and
 * report the result ("ok N" and exit 0, or "err ENAME (text)" and exit 1).
 * DATA may contain the escapes \n \t \\ \0 and \xHH; "" writes 0 bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t unescape(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (*s != '\\' || !s[1]) {
			out[n++] = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': out[n++] = '\n'; s++; break;
		case 't': out[n++] = '\t'; s++; break;
		case '0': out[n++] = '\0'; s++; break;
		case 'x': {
			char hex[3] = { 0 };

			strncpy(hex, s + 1, 2);
			out[n++] = (char)strtoul(hex, NULL, 16);
			s += 1 + strlen(hex);
			break;
		}
		default: out[n++] = *s++; break;
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	char *buf;
	size_t len;
	ssize_t r;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: sysfs_write PATH DATA\n");
		return 64;
	}
	buf = malloc(strlen(argv[2]) + 1);
	if (!buf)
		return 64;
	len = unescape(argv[2], buf);
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		printf("err %s (%s) in open\n", strerrorname_np(errno), strerror(errno));
		return 1;
	}
	r = write(fd, buf, len);
	if (r < 0) {
		printf("err %s (%s) in write\n", strerrorname_np(errno), strerror(errno));
		return 1;
	}
	close(fd);
	printf("ok %zd\n", r);
	return 0;
}
