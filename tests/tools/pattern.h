/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deterministic data pattern shared by the test tools.
 *
 * The byte at absolute offset P of a pattern with seed S is byte (P % 8) of
 * the little-endian 64-bit word mix(S, P / 8). Because the pattern depends on
 * the absolute offset, data written to the wrong place is detected as well
 * as corrupted data.
 */
#ifndef PATTERN_H
#define PATTERN_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t pat_word(uint64_t seed, uint64_t widx)
{
	uint64_t x = (seed * 0x9E3779B97F4A7C15ULL) ^ (widx + 0x632BE59BD9B4E019ULL);

	/* splitmix64 finalizer */
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBULL;
	x ^= x >> 31;
	return x;
}

static inline unsigned char pat_byte(uint64_t seed, uint64_t pos)
{
	return (unsigned char)(pat_word(seed, pos >> 3) >> ((pos & 7) * 8));
}

/* Fill buf with the pattern of seed for the absolute range [off, off+len). */
static inline void pat_fill(unsigned char *buf, uint64_t off, size_t len, uint64_t seed)
{
	size_t i = 0;

	while (i < len && ((off + i) & 7)) {
		buf[i] = pat_byte(seed, off + i);
		i++;
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t w = pat_word(seed, (off + i) >> 3);
		int b;

		for (b = 0; b < 8; b++)
			buf[i + b] = (unsigned char)(w >> (b * 8));
	}
	for (; i < len; i++)
		buf[i] = pat_byte(seed, off + i);
}

/*
 * Compare buf with the pattern; return the index of the first differing byte
 * or (size_t)-1 if all match.
 */
static inline size_t pat_check(const unsigned char *buf, uint64_t off, size_t len, uint64_t seed)
{
	size_t i = 0;

	while (i < len && ((off + i) & 7)) {
		if (buf[i] != pat_byte(seed, off + i))
			return i;
		i++;
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t w = pat_word(seed, (off + i) >> 3);
		int b;

		for (b = 0; b < 8; b++)
			if (buf[i + b] != (unsigned char)(w >> (b * 8)))
				return i + b;
	}
	for (; i < len; i++)
		if (buf[i] != pat_byte(seed, off + i))
			return i;
	return (size_t)-1;
}

/* Parse an unsigned number with an optional K/M/G suffix (binary units). */
static inline int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static inline const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

#endif
