/* SPDX-License-Identifier: MIT */
/*
 * A tiny 9P2000.L client over p9_server_handle() (see p9_client.h).
 */
#include "p9_client.h"

#include <stdlib.h>
#include <string.h>

void p9c_init(struct p9c *c, struct p9_server *s, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->cap = cap;
	c->req = malloc(cap);
	c->resp = malloc(cap);
	if (!c->req || !c->resp)
		abort();
}

void p9c_destroy(struct p9c *c)
{
	free(c->req);
	free(c->resp);
}

struct p9w *p9c_begin(struct p9c *c, uint8_t type)
{
	p9w_init(&c->w, c->req, c->cap);
	p9w_begin(&c->w, type, 1);
	return &c->w;
}

uint32_t p9c_call(struct p9c *c)
{
	uint8_t want = (uint8_t)(c->req[4] + 1);
	size_t len = p9w_finish(&c->w), rlen;
	uint16_t tag;

	if (!len)
		abort();
	rlen = p9_server_handle(c->s, c->req, len, c->resp, c->cap);
	if (p9_parse_header(c->resp, rlen, &c->rtype, &tag))
		abort();
	p9r_init(&c->r, c->resp + P9_HDR_SIZE, rlen - P9_HDR_SIZE);
	c->ecode = 0;
	if (c->rtype == P9_RLERROR) {
		c->ecode = p9r_u32(&c->r);
		return c->ecode;
	}
	return c->rtype == want ? 0 : 0xffff;
}

uint32_t p9c_version(struct p9c *c, uint32_t msize, uint32_t *got)
{
	struct p9w *w = p9c_begin(c, P9_TVERSION);
	char v[32];
	uint32_t ret;

	p9w_u32(w, msize);
	p9w_str(w, "9P2000.L");
	ret = p9c_call(c);
	if (!ret && got) {
		*got = p9r_u32(&c->r);
		p9r_str(&c->r, v, sizeof(v));
	}
	return ret;
}

uint32_t p9c_attach(struct p9c *c, uint32_t fid)
{
	struct p9w *w = p9c_begin(c, P9_TATTACH);

	p9w_u32(w, fid);
	p9w_u32(w, P9_NOFID);
	p9w_str(w, "root");
	p9w_str(w, "");
	p9w_u32(w, 0);
	return p9c_call(c);
}

uint32_t p9c_walk(struct p9c *c, uint32_t fid, uint32_t newfid, unsigned int n,
		  const char *const *names)
{
	struct p9w *w = p9c_begin(c, P9_TWALK);
	unsigned int i;

	p9w_u32(w, fid);
	p9w_u32(w, newfid);
	p9w_u16(w, (uint16_t)n);
	for (i = 0; i < n; i++)
		p9w_str(w, names[i]);
	return p9c_call(c);
}

uint32_t p9c_walk1(struct p9c *c, uint32_t fid, uint32_t newfid, const char *name)
{
	uint32_t ret = p9c_walk(c, fid, newfid, 1, &name);

	/* A walk of one name that returns no qid did not happen. */
	if (!ret && p9r_u16(&c->r) != 1)
		return 0xfffe;
	return ret;
}

uint32_t p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags)
{
	struct p9w *w = p9c_begin(c, P9_TLOPEN);

	p9w_u32(w, fid);
	p9w_u32(w, flags);
	return p9c_call(c);
}

uint32_t p9c_lcreate(struct p9c *c, uint32_t fid, const char *name, uint32_t flags, uint32_t mode)
{
	struct p9w *w = p9c_begin(c, P9_TLCREATE);

	p9w_u32(w, fid);
	p9w_str(w, name);
	p9w_u32(w, flags);
	p9w_u32(w, mode);
	p9w_u32(w, 0);
	return p9c_call(c);
}

uint32_t p9c_read(struct p9c *c, uint32_t fid, uint64_t off, uint32_t count, const uint8_t **data,
		  uint32_t *got)
{
	struct p9w *w = p9c_begin(c, P9_TREAD);
	uint32_t ret;

	p9w_u32(w, fid);
	p9w_u64(w, off);
	p9w_u32(w, count);
	ret = p9c_call(c);
	if (!ret) {
		*got = p9r_u32(&c->r);
		*data = p9r_bytes(&c->r, *got);
	}
	return ret;
}

uint32_t p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *data, uint32_t count)
{
	struct p9w *w = p9c_begin(c, P9_TWRITE);
	uint8_t *p;

	p9w_u32(w, fid);
	p9w_u64(w, off);
	p9w_u32(w, count);
	p = p9w_reserve(w, count);
	if (p)
		memcpy(p, data, count);
	return p9c_call(c);
}

uint32_t p9c_clunk(struct p9c *c, uint32_t fid)
{
	struct p9w *w = p9c_begin(c, P9_TCLUNK);

	p9w_u32(w, fid);
	return p9c_call(c);
}

uint32_t p9c_getattr(struct p9c *c, uint32_t fid, uint32_t *mode, uint64_t *size)
{
	struct p9w *w = p9c_begin(c, P9_TGETATTR);
	uint32_t ret;

	p9w_u32(w, fid);
	p9w_u64(w, 0x7ff);
	ret = p9c_call(c);
	if (!ret) {
		(void)p9r_u64(&c->r);	    /* valid */
		(void)p9r_bytes(&c->r, 13); /* qid */
		*mode = p9r_u32(&c->r);
		(void)p9r_bytes(&c->r, 4 + 4 + 8 + 8); /* uid gid nlink rdev */
		*size = p9r_u64(&c->r);
	}
	return ret;
}
