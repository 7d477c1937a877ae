/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the stream backend's deframer (devices/net/stream.h),
 * the one place where bytes from a stream peer decide lengths.
 *
 * Input layout:
 *   0  u16 max frame length (little-endian; 0 means NETBE_FRAME_MAX)
 *   2  u8  chunk size for the second pass (mod 64, plus 1)
 *   3  .. the stream
 *
 * The stream is cut into frames twice: once whole, once arriving in chunks
 * into a buffer the way the backend's rbuf fills (frames cut out as soon as
 * they are whole, the rest moved to the front). Both passes must give the
 * same frames and stop at the same place; every frame must lie inside what
 * was received and have a length in 1..max. AddressSanitizer catches any
 * read outside the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/net/stream.h"

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

#define FUZZ_MAX_FRAMES 4096

struct cut {
	size_t off[FUZZ_MAX_FRAMES], len[FUZZ_MAX_FRAMES];
	size_t n;
	bool bad; /* ended at a bad length */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whole: every frame of s[0..len) from the start. */
static void cut_whole(const uint8_t *s, size_t len, size_t max, struct cut *c)
{
	size_t pos = 0, flen = 0;

	while (c->n < FUZZ_MAX_FRAMES) {
		ssize_t used = netbe_stream_deframe(s + pos, len - pos, max, &flen);

		if (used < 0) {
			CHECK(used == -EPROTO);
			c->bad = true;
			return;
		}
		if (used == 0)
			return;
		CHECK((size_t)used == NETBE_STREAM_HDR_LEN + flen);
		CHECK(flen >= 1 && flen <= max && (size_t)used <= len - pos);
		c->off[c->n] = pos + NETBE_STREAM_HDR_LEN;
		c->len[c->n++] = flen;
		pos += (size_t)used;
	}
}

/* In chunks of `chunk` bytes into a buffer of 2 * (4 + max) bytes. */
static void cut_chunks(const uint8_t *s, size_t len, size_t max, size_t chunk, struct cut *c,
		       uint8_t *buf, size_t bufsize)
{
	size_t fed = 0, head = 0, tail = 0, consumed = 0, flen = 0;

	while (c->n < FUZZ_MAX_FRAMES) {
		ssize_t used = netbe_stream_deframe(buf + head, tail - head, max, &flen);

		if (used < 0) {
			c->bad = true;
			return;
		}
		if (used > 0) {
			c->off[c->n] = consumed + NETBE_STREAM_HDR_LEN;
			c->len[c->n++] = flen;
			CHECK(!memcmp(buf + head + NETBE_STREAM_HDR_LEN,
				      s + consumed + NETBE_STREAM_HDR_LEN, flen));
			head += (size_t)used;
			consumed += (size_t)used;
			continue;
		}
		if (fed == len)
			return;
		if (head) {
			memmove(buf, buf + head, tail - head);
			tail -= head;
			head = 0;
		}
		/* a partial frame always leaves room (the backend's rule) */
		CHECK(tail < bufsize);
		{
			size_t n = len - fed < chunk ? len - fed : chunk;

			if (n > bufsize - tail)
				n = bufsize - tail;
			memcpy(buf + tail, s + fed, n);
			tail += n;
			fed += n;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cut a, b;
	size_t max, chunk, bufsize;
	uint8_t *buf;
	size_t i;

	if (size < 3)
		return 0;
	max = (size_t)data[0] | (size_t)data[1] << 8;
	if (!max)
		max = NETBE_FRAME_MAX;
	chunk = (size_t)(data[2] % 64) + 1;
	data += 3;
	size -= 3;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	bufsize = 2 * (NETBE_STREAM_HDR_LEN + max);
	buf = malloc(bufsize);
	if (!buf)
		return 0;
	cut_whole(data, size, max, &a);
	cut_chunks(data, size, max, chunk, &b, buf, bufsize);
	free(buf);
	CHECK(a.n == b.n && a.bad == b.bad);
	for (i = 0; i < a.n; i++)
		CHECK(a.off[i] == b.off[i] && a.len[i] == b.len[i]);
	return 0;
}
