/* SPDX-License-Identifier: MIT */
/*
 * The 9P2000.L wire format (see p9_proto.h).
 */
#include "devices/fs/p9_proto.h"

#include <errno.h>
#include <string.h>

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int p9_parse_header(const uint8_t *buf, size_t len, uint8_t *type, uint16_t *tag)
{
	if (len < P9_HDR_SIZE || get_le32(buf) != len)
		return -EPROTO;
	*type = buf[4];
	*tag = (uint16_t)(buf[5] | buf[6] << 8);
	return 0;
}

void p9r_init(struct p9r *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
	r->bad = false;
}

const uint8_t *p9r_bytes(struct p9r *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->len - r->pos) {
		r->bad = true;
		return NULL;
	}
	p = r->buf + r->pos;
	r->pos += n;
	return p;
}

static uint64_t get_le(struct p9r *r, unsigned int n)
{
	const uint8_t *p = p9r_bytes(r, n);
	uint64_t v = 0;
	unsigned int i;

	if (!p)
		return 0;
	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t p9r_u8(struct p9r *r)
{
	return (uint8_t)get_le(r, 1);
}

uint16_t p9r_u16(struct p9r *r)
{
	return (uint16_t)get_le(r, 2);
}

uint32_t p9r_u32(struct p9r *r)
{
	return (uint32_t)get_le(r, 4);
}

uint64_t p9r_u64(struct p9r *r)
{
	return get_le(r, 8);
}

void p9r_str(struct p9r *r, char *dst, size_t cap)
{
	uint16_t n = p9r_u16(r);
	const uint8_t *p = p9r_bytes(r, n);

	dst[0] = '\0';
	if (!p)
		return;
	if ((size_t)n >= cap || memchr(p, '\0', n)) {
		r->bad = true;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

void p9w_init(struct p9w *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->pos = 0;
	w->overflow = false;
}

uint8_t *p9w_reserve(struct p9w *w, size_t n)
{
	uint8_t *p;

	if (w->overflow || n > w->cap - w->pos) {
		w->overflow = true;
		return NULL;
	}
	p = w->buf + w->pos;
	w->pos += n;
	return p;
}

static void put(struct p9w *w, uint64_t v, unsigned int n)
{
	uint8_t *p = p9w_reserve(w, n);

	if (p)
		put_le(p, v, n);
}

void p9w_u8(struct p9w *w, uint8_t v)
{
	put(w, v, 1);
}

void p9w_u16(struct p9w *w, uint16_t v)
{
	put(w, v, 2);
}

void p9w_u32(struct p9w *w, uint32_t v)
{
	put(w, v, 4);
}

void p9w_u64(struct p9w *w, uint64_t v)
{
	put(w, v, 8);
}

void p9w_str(struct p9w *w, const char *s)
{
	size_t n = strlen(s);
	uint8_t *p;

	if (n > 0xffff) {
		w->overflow = true;
		return;
	}
	p9w_u16(w, (uint16_t)n);
	p = p9w_reserve(w, n);
	if (p)
		memcpy(p, s, n);
}

void p9w_qid(struct p9w *w, const struct p9_qid *q)
{
	p9w_u8(w, q->type);
	p9w_u32(w, q->version);
	p9w_u64(w, q->path);
}

void p9w_begin(struct p9w *w, uint8_t type, uint16_t tag)
{
	w->pos = 0;
	w->overflow = false;
	p9w_u32(w, 0);
	p9w_u8(w, type);
	p9w_u16(w, tag);
}

size_t p9w_finish(struct p9w *w)
{
	if (w->overflow || w->pos < P9_HDR_SIZE || w->pos > 0xffffffffU)
		return 0;
	put_le(w->buf, w->pos, 4);
	return w->pos;
}

size_t p9_encode_lerror(uint8_t *buf, size_t cap, uint16_t tag, uint32_t ecode)
{
	struct p9w w;

	p9w_init(&w, buf, cap);
	p9w_begin(&w, P9_RLERROR, tag);
	p9w_u32(&w, ecode);
	return p9w_finish(&w);
}
