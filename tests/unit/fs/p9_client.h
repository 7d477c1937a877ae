/* SPDX-License-Identifier: MIT */
/*
 * A tiny 9P2000.L client for tests and the benchmark: builds one request
 * with the p9w writer, hands it to p9_server_handle() directly (no
 * transport) and reads the reply with the p9r reader.
 */
#ifndef VMM_TESTS_P9_CLIENT_H
#define VMM_TESTS_P9_CLIENT_H

#include <stdint.h>

#include "devices/fs/p9_proto.h"
#include "devices/fs/p9_server.h"

struct p9c {
	struct p9_server *s;
	uint8_t *req, *resp;
	size_t cap;
	struct p9w w; /* the request being built */
	struct p9r r; /* the last reply's body */
	uint8_t rtype;
	uint32_t ecode; /* the last Rlerror's errno, or 0 */
};

void p9c_init(struct p9c *c, struct p9_server *s, size_t cap);
void p9c_destroy(struct p9c *c);
/* Start a request of `type` (tag 1). */
struct p9w *p9c_begin(struct p9c *c, uint8_t type);
/* Send it; returns 0 for the expected reply (type + 1) or the Rlerror errno. */
uint32_t p9c_call(struct p9c *c);

/* Shortcuts: each returns 0 or the Rlerror errno. */
uint32_t p9c_version(struct p9c *c, uint32_t msize, uint32_t *got);
uint32_t p9c_attach(struct p9c *c, uint32_t fid);
uint32_t p9c_walk(struct p9c *c, uint32_t fid, uint32_t newfid, unsigned int n,
		  const char *const *names);
uint32_t p9c_walk1(struct p9c *c, uint32_t fid, uint32_t newfid, const char *name);
uint32_t p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags);
uint32_t p9c_lcreate(struct p9c *c, uint32_t fid, const char *name, uint32_t flags, uint32_t mode);
uint32_t p9c_read(struct p9c *c, uint32_t fid, uint64_t off, uint32_t count, const uint8_t **data,
		  uint32_t *got);
uint32_t p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *data, uint32_t count);
uint32_t p9c_clunk(struct p9c *c, uint32_t fid);
uint32_t p9c_getattr(struct p9c *c, uint32_t fid, uint32_t *mode, uint64_t *size);

#endif /* VMM_TESTS_P9_CLIENT_H */
