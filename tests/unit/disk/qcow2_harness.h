/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 driver tests' harness (test_qcow2_format.c, test_qcow2_io.c):
 * a private mkdtemp directory per test (cmocka setup/teardown), images
 * created and opened in it, byte patterns, a request that runs to
 * completion, and the shell for qemu-img.
 *
 * Test scaffolding: misuse fails the running cmocka test.
 */
#ifndef VMM_TESTS_QCOW2_HARNESS_H
#define VMM_TESTS_QCOW2_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/disk/disk.h"
#include "devices/disk/qcow2.h"

#define MiB (1024ULL * 1024)

/* Per-test state: the directory, and the last error message. */
struct fx {
	char dir[256];
	char err[512];
};

/* cmocka group setup/teardown: a fresh directory under $TMPDIR, removed after. */
int qh_setup(void **state);
int qh_teardown(void **state);
/* `name` inside the test's directory (one of 8 rotating buffers). */
char *qh_path(struct fx *f, const char *name);
uint64_t qh_fsize(const char *p);
/* qcow2_create() of `name` (cbits 0: default; backing and bfmt may be NULL). */
void qh_create(struct fx *f, const char *name, uint64_t size, unsigned int cbits,
	       const char *backing, const char *bfmt);
/* disk_open() of `name` with the default engine. */
struct disk *qh_open(struct fx *f, const char *name, bool ro);
/* A deterministic pattern of n bytes, different per seed. */
void qh_fill(uint8_t *b, size_t n, unsigned int seed);
/* Whether all n bytes are v. */
bool qh_all_bytes(const uint8_t *b, size_t n, uint8_t v);
bool qh_have_qemu_img(void);
/* system() of the formatted command; its exit status, or -1. */
int qh_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A raw image opened without format= refuses a guest write of `hdr` (512
 * bytes: another format's header) to sector 0, and takes it elsewhere. */
void qh_probed_raw_refuses(struct fx *f, const uint8_t *hdr);

/* Completions counted into an inflight (req->opaque). */
struct inflight {
	int done, err;
};
void qh_req_done(struct disk_req *req, int ret);
/* One DISCARD / WRITE_ZEROES request, drained; its result. */
int qh_zreq(struct disk *d, enum disk_op opc, uint64_t off, uint64_t len, bool unmap);

#endif
