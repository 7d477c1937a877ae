/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the 9P2000.L server (devices/fs) on a scratch
 * directory, fed a sequence of fuzzed messages after a fixed Tversion and
 * Tattach(fid 0), so inputs reach the file-system operations quickly.
 *
 * Input: [flags u8] then messages, each [len u16][len bytes]. The size
 * field of each message is set to its length unless flags bit 0 says to
 * keep the fuzzer's own (to reach the header checks too); bit 1 makes the
 * share read-only. Checked after every message: the reply is a well-formed
 * message no longer than the buffer; and after every input: nothing
 * appeared next to the share (a file created outside it would be an
 * escape), whose parent holds only "share" and a planted "outside" file
 * that a symlink in the share points at.
 */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "devices/fs/p9_proto.h"
#include "devices/fs/p9_server.h"

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

#define MAX_MSGS 64
#define RESP_CAP 65536

static char top[64], share[96];
static uint8_t resp[RESP_CAP];
static uint8_t msg[65536 + 8];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)chmod(path, 0700);
	remove(path);
	return 0;
}

/* A fresh share: a file, a directory, and symlinks out of it. */
static void make_share(void)
{
	char p[160];
	FILE *f;

	nftw(share, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	CHECK(mkdir(share, 0755) == 0);
	snprintf(p, sizeof(p), "%s/file", share);
	f = fopen(p, "w");
	CHECK(f);
	fputs("data\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/dir", share);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/out", share);
	CHECK(symlink("../outside", p) == 0);
	snprintf(p, sizeof(p), "%s/abs", share);
	CHECK(symlink(top, p) == 0);
}

static void check_outside(void)
{
	struct dirent *e;
	DIR *d = opendir(top);
	unsigned int n = 0;

	CHECK(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		CHECK(!strcmp(e->d_name, "share") || !strcmp(e->d_name, "outside"));
		n++;
	}
	closedir(d);
	CHECK(n == 2);
}

static void send_msg(struct p9_server *s, const uint8_t *m, size_t len)
{
	size_t n = p9_server_handle(s, m, len, resp, sizeof(resp));
	uint8_t type;
	uint16_t tag;

	CHECK(n <= sizeof(resp));
	CHECK(n > 0 && p9_parse_header(resp, n, &type, &tag) == 0);
	CHECK(type & 1); /* an R-message */
}

static void prelude(struct p9_server *s)
{
	struct p9w w;

	p9w_init(&w, msg, sizeof(msg));
	p9w_begin(&w, P9_TVERSION, P9_NOTAG);
	p9w_u32(&w, 8192);
	p9w_str(&w, "9P2000.L");
	send_msg(s, msg, p9w_finish(&w));
	p9w_begin(&w, P9_TATTACH, 1);
	p9w_u32(&w, 0);
	p9w_u32(&w, P9_NOFID);
	p9w_str(&w, "fuzz");
	p9w_str(&w, "");
	p9w_u32(&w, 0);
	send_msg(s, msg, p9w_finish(&w));
}

/* libFuzzer ends with exit(): leave no scratch directory behind. */
static void remove_top(void)
{
	nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[160];
	FILE *f;

	(void)argc;
	(void)argv;
	strcpy(top, "/tmp/fuzz_9p.XXXXXX");
	CHECK(mkdtemp(top));
	atexit(remove_top);
	snprintf(share, sizeof(share), "%s/share", top);
	snprintf(p, sizeof(p), "%s/outside", top);
	f = fopen(p, "w");
	CHECK(f);
	fputs("secret\n", f);
	fclose(f);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p9_server *s;
	char err[256];
	size_t pos = 1;
	unsigned int n;
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	make_share();
	if (p9_server_create(&(struct p9_server_params){ .dir = share,
							 .readonly = flags & 2,
							 .max_msize = 65536,
							 .max_fids = 64 },
			     &s, err, sizeof(err)))
		abort();
	prelude(s);
	for (n = 0; n < MAX_MSGS && size - pos >= 2; n++) {
		size_t len = (size_t)(data[pos] | data[pos + 1] << 8);

		pos += 2;
		if (len > size - pos)
			len = size - pos;
		memcpy(msg, data + pos, len);
		pos += len;
		if (!(flags & 1) && len >= 4) {
			msg[0] = (uint8_t)len;
			msg[1] = (uint8_t)(len >> 8);
			msg[2] = 0;
			msg[3] = 0;
		}
		send_msg(s, msg, len);
	}
	p9_server_destroy(s);
	check_outside();
	return 0;
}
