/* SPDX-License-Identifier: MIT */
#include "base/iov.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* A walk over the pieces of [off, off + len) of a list, one per non-empty
 * segment it touches. Every function below is this walk plus one action. */
struct iov_cursor {
	const struct iovec *iov;
	unsigned int cnt;
	unsigned int i;
	size_t off;  /* still to skip, from iov[i] on */
	size_t left; /* still to visit */
};

static bool iov_next(struct iov_cursor *c, uint8_t **piece, size_t *piece_len)
{
	for (; c->i < c->cnt && c->left > 0; c->i++) {
		size_t seg = c->iov[c->i].iov_len;

		if (c->off >= seg) { /* also drops empty segments */
			c->off -= seg;
			continue;
		}
		*piece = (uint8_t *)c->iov[c->i].iov_base + c->off;
		*piece_len = seg - c->off < c->left ? seg - c->off : c->left;
		c->left -= *piece_len;
		c->off = 0;
		c->i++;
		return true;
	}
	return false;
}

static struct iov_cursor iov_cursor_at(const struct iovec *iov, unsigned int cnt, size_t off,
				       size_t len)
{
	return (struct iov_cursor){ .iov = iov, .cnt = cnt, .off = off, .left = len };
}

/* What iov_move does with each piece of the range. */
enum iov_action { IOV_COPY_OUT, IOV_COPY_IN, IOV_FILL_ZERO };

static size_t iov_move(const struct iovec *iov, unsigned int cnt, size_t off, size_t len,
		       enum iov_action act, void *buf)
{
	struct iov_cursor c = iov_cursor_at(iov, cnt, off, len);
	size_t done = 0, n;
	uint8_t *p;

	while (iov_next(&c, &p, &n)) {
		switch (act) {
		case IOV_COPY_OUT:
			memcpy((uint8_t *)buf + done, p, n);
			break;
		case IOV_COPY_IN:
			memcpy(p, (const uint8_t *)buf + done, n);
			break;
		case IOV_FILL_ZERO:
			memset(p, 0, n);
			break;
		}
		done += n;
	}
	return done;
}

size_t iov_size(const struct iovec *iov, unsigned int cnt)
{
	size_t sum = 0;
	unsigned int i;

	for (i = 0; i < cnt; i++) {
		if (__builtin_add_overflow(sum, iov[i].iov_len, &sum))
			return SIZE_MAX;
	}
	return sum;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int cnt, size_t off, void *buf, size_t len)
{
	return iov_move(iov, cnt, off, len, IOV_COPY_OUT, buf);
}

size_t iov_from_buf(const struct iovec *iov, unsigned int cnt, size_t off, const void *buf,
		    size_t len)
{
	return iov_move(iov, cnt, off, len, IOV_COPY_IN, (void *)buf);
}

size_t iov_zero(const struct iovec *iov, unsigned int cnt, size_t off, size_t len)
{
	return iov_move(iov, cnt, off, len, IOV_FILL_ZERO, NULL);
}

unsigned int iov_window(const struct iovec *iov, unsigned int cnt, size_t off, size_t len,
			struct iovec *dst)
{
	struct iov_cursor c = iov_cursor_at(iov, cnt, off, len);
	unsigned int k = 0;
	size_t n;
	uint8_t *p;

	while (iov_next(&c, &p, &n))
		dst[k++] = (struct iovec){ .iov_base = p, .iov_len = n };
	return k;
}
