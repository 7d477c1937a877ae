/* SPDX-License-Identifier: MIT */
/*
 * The 9P2000.L wire format: message types, and a bounds-checked reader and
 * writer over one message buffer. Pure functions on memory: no file, no
 * thread, no guest; the server (p9_server.c) and the fuzz target use them.
 *
 * Every field of a request is hostile. A reader remembers the first
 * overrun (p9r.bad) instead of failing each call, so a handler reads all
 * its fields and checks once: a short message, a string running past the
 * end, or a count larger than what follows all set `bad`, and the server
 * answers Rlerror(EPROTO) for it. Strings are copied out NUL-terminated and
 * refused if they contain a NUL (a name "a\0b" would mean "a" to libc).
 *
 * Integers are little-endian (9P: "least significant byte first").
 * Sources: the 9P2000.L protocol description (Linux
 * Documentation/filesystems/9p.rst points to it) and Linux
 * include/net/9p/9p.h.
 */
#ifndef VMM_DEVICES_FS_P9_PROTO_H
#define VMM_DEVICES_FS_P9_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* size[4] type[1] tag[2] */
#define P9_HDR_SIZE 7
/* Rread/Rwrite/Treaddir overhead: header + count[4] (and Twrite's fid[4]
 * offset[8]): Linux's P9_IOHDRSZ. */
#define P9_IOHDRSZ  24
#define P9_NOTAG    0xffffU
#define P9_NOFID    0xffffffffU
/* Twalk carries at most 16 names (9P: MAXWELEM). */
#define P9_MAXWELEM 16
/* The longest name or path string we accept from a guest. A path element
 * longer than NAME_MAX fails on the host anyway; symlink targets and
 * version strings may be longer, up to PATH_MAX. */
#define P9_MAX_STR  4096

enum p9_type {
	P9_TLERROR = 6, /* never sent; Rlerror = 7 */
	P9_RLERROR = 7,
	P9_TSTATFS = 8,
	P9_TLOPEN = 12,
	P9_TLCREATE = 14,
	P9_TSYMLINK = 16,
	P9_TMKNOD = 18,
	P9_TRENAME = 20,
	P9_TREADLINK = 22,
	P9_TGETATTR = 24,
	P9_TSETATTR = 26,
	P9_TXATTRWALK = 30,
	P9_TXATTRCREATE = 32,
	P9_TREADDIR = 40,
	P9_TFSYNC = 50,
	P9_TLOCK = 52,
	P9_TGETLOCK = 54,
	P9_TLINK = 70,
	P9_TMKDIR = 72,
	P9_TRENAMEAT = 74,
	P9_TUNLINKAT = 76,
	P9_TVERSION = 100,
	P9_TAUTH = 102,
	P9_TATTACH = 104,
	P9_TFLUSH = 108,
	P9_TWALK = 110,
	P9_TREAD = 116,
	P9_TWRITE = 118,
	P9_TCLUNK = 120,
	P9_TREMOVE = 122,
};

/* qid.type bits */
#define P9_QTDIR     0x80
#define P9_QTSYMLINK 0x02
#define P9_QTFILE    0x00

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

/* A request being read. */
struct p9r {
	const uint8_t *buf;
	size_t len, pos;
	bool bad; /* a read ran past the end, or a string was malformed */
};

/* A reply being written into a buffer of fixed capacity. */
struct p9w {
	uint8_t *buf;
	size_t cap, pos;
	bool overflow; /* a write did not fit: the reply is not sent as is */
};

/* The header of a message: size[4] type[1] tag[2]. Returns 0, or -EPROTO
 * when len < 7 or the size field disagrees with len. */
int p9_parse_header(const uint8_t *buf, size_t len, uint8_t *type, uint16_t *tag)
	__attribute__((warn_unused_result));

void p9r_init(struct p9r *r, const uint8_t *buf, size_t len);
uint8_t p9r_u8(struct p9r *r);
uint16_t p9r_u16(struct p9r *r);
uint32_t p9r_u32(struct p9r *r);
uint64_t p9r_u64(struct p9r *r);
/* A string s[2] into dst (NUL-terminated, cap bytes including the NUL);
 * too long for dst or containing a NUL: bad. */
void p9r_str(struct p9r *r, char *dst, size_t cap);
/* A pointer to the next n bytes (NULL and bad if fewer remain). */
const uint8_t *p9r_bytes(struct p9r *r, size_t n);

void p9w_init(struct p9w *w, uint8_t *buf, size_t cap);
void p9w_u8(struct p9w *w, uint8_t v);
void p9w_u16(struct p9w *w, uint16_t v);
void p9w_u32(struct p9w *w, uint32_t v);
void p9w_u64(struct p9w *w, uint64_t v);
void p9w_str(struct p9w *w, const char *s);
void p9w_qid(struct p9w *w, const struct p9_qid *q);
/* Room for n more bytes: a pointer to fill them in, or NULL (overflow). */
uint8_t *p9w_reserve(struct p9w *w, size_t n);
/* Start a reply (size filled in by p9w_finish). */
void p9w_begin(struct p9w *w, uint8_t type, uint16_t tag);
/* Write the size field; returns the reply's length, or 0 on overflow. */
size_t p9w_finish(struct p9w *w);
/* A whole Rlerror(ecode) reply into buf; returns its length (11), or 0 if
 * cap < 11. */
size_t p9_encode_lerror(uint8_t *buf, size_t cap, uint16_t tag, uint32_t ecode);

#endif /* VMM_DEVICES_FS_P9_PROTO_H */
