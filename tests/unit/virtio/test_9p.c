/* SPDX-License-Identifier: MIT */
/*
 * virtio-9p through the mmio transport and a fake guest: the mount tag in
 * the config space, requests and replies through the ring with the worker
 * pool (several outstanding), a malformed chain answered with Rlerror and
 * counted, and Tflush.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/fs/p9_proto.h"
#include "devices/virtio/9p.h"
#include "tests/unit/virtio/fake_guest.h"

#define NREQ 16

struct p9dev {
	char dir[64];
	struct event_loop el;
	struct fake_guest g;
	struct fg_vring vr;
	struct virtio_mmio t;
	struct p9_server *s;
	struct virtio_9p *d;
	uint64_t out[NREQ], in[NREQ]; /* one request/reply buffer pair per slot */
};

static int setup(void **state)
{
	struct p9dev *x = calloc(1, sizeof(*x));
	char err[256];

	strcpy(x->dir, "/tmp/test_9p.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	assert_int_equal(el_init(&x->el), 0);
	fg_init(&x->g, 8 << 20);
	assert_int_equal(p9_server_create(&(struct p9_server_params){ .dir = x->dir }, &x->s, err,
					  sizeof(err)),
			 0);
	assert_int_equal(virtio_9p_create(&(struct virtio_9p_params){ .server = x->s,
								      .tag = "hostshare",
								      .el = &x->el },
					  &x->d, err, sizeof(err)),
			 0);
	assert_int_equal(virtio_mmio_init(&x->t, virtio_9p_dev(x->d),
					  &(struct virtio_mmio_params){ .mem = &x->g.mem,
									.el = &x->el,
									.irq = &x->g.irq.line,
									.base = 0 }),
			 0);
	fg_vring_init(&x->g, &x->vr, 64);
	assert_int_equal(fg_mmio_start(&x->t, ~0ULL, &x->vr, 1, NULL), 0);
	for (int i = 0; i < NREQ; i++) {
		x->out[i] = fg_alloc(&x->g, 256, 16);
		x->in[i] = fg_alloc(&x->g, 8192, 16);
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct p9dev *x = *state;

	virtio_mmio_destroy(&x->t);
	virtio_9p_destroy(x->d);
	p9_server_destroy(x->s);
	fg_vring_destroy(&x->vr);
	fg_destroy(&x->g);
	el_destroy(&x->el);
	assert_int_equal(rmdir(x->dir), 0);
	free(x);
	return 0;
}

/* Put message slot i (len bytes already in out[i]) on the ring. */
static void submit(struct p9dev *x, int i, uint32_t len, uint32_t in_len)
{
	struct fg_buf b[2] = { { x->out[i], len, false }, { x->in[i], in_len, true } };

	assert_true(fg_vring_add(&x->vr, b, 2) >= 0);
}

static size_t build(struct p9dev *x, int i, uint8_t type, uint16_t tag, void (*body)(struct p9w *))
{
	struct p9w w;

	p9w_init(&w, fg_ptr(&x->g, x->out[i], 256), 256);
	p9w_begin(&w, type, tag);
	if (body)
		body(&w);
	return p9w_finish(&w);
}

/* Run the loop until n chains come back (at most ~10 s); their used
 * lengths in completion order. */
static void collect(struct p9dev *x, unsigned int n, uint32_t *lens)
{
	unsigned int got = 0, spins = 0;
	uint32_t id, len;

	while (got < n) {
		assert_true(spins++ < 1000);
		fg_el_poll(&x->el, 10);
		while (got < n && fg_vring_get_used(&x->vr, &id, &len))
			lens[got++] = len;
	}
}

static void version_body(struct p9w *w)
{
	p9w_u32(w, 8192);
	p9w_str(w, "9P2000.L");
}

static void attach_body(struct p9w *w)
{
	p9w_u32(w, 0);
	p9w_u32(w, P9_NOFID);
	p9w_str(w, "u");
	p9w_str(w, "");
	p9w_u32(w, 0);
}

static void getattr_body(struct p9w *w)
{
	p9w_u32(w, 0);
	p9w_u64(w, 0x7ff);
}

static void flush_body(struct p9w *w)
{
	p9w_u16(w, 999); /* not in flight */
}

static void test_config_tag(void **state)
{
	struct p9dev *x = *state;
	uint8_t cfg[2 + 9];

	assert_int_equal(fg_mmio_read32(&x->t, 0x008), VIRTIO_ID_9P); /* DeviceID */
	fg_mmio_read(&x->t, 0x100, cfg, 2);
	assert_int_equal(cfg[0] | cfg[1] << 8, 9);
	for (int i = 0; i < 9; i++)
		fg_mmio_read(&x->t, 0x102 + (uint64_t)i, &cfg[2 + i], 1);
	assert_memory_equal(cfg + 2, "hostshare", 9);
}

static void test_requests(void **state)
{
	struct p9dev *x = *state;
	uint32_t lens[NREQ];
	uint8_t *r;
	int i;

	submit(x, 0, (uint32_t)build(x, 0, P9_TVERSION, P9_NOTAG, version_body), 8192);
	fg_mmio_kick(&x->t, 0);
	collect(x, 1, lens);
	r = fg_ptr(&x->g, x->in[0], 8192);
	assert_int_equal(r[4], P9_TVERSION + 1);
	assert_int_equal(lens[0], r[0] | r[1] << 8);
	submit(x, 0, (uint32_t)build(x, 0, P9_TATTACH, 1, attach_body), 8192);
	fg_mmio_kick(&x->t, 0);
	collect(x, 1, lens);
	assert_int_equal(r[4], P9_TATTACH + 1);

	/* Many outstanding at once: the workers answer all of them. */
	for (i = 0; i < NREQ; i++)
		submit(x, i, (uint32_t)build(x, i, P9_TGETATTR, (uint16_t)(10 + i), getattr_body),
		       8192);
	fg_mmio_kick(&x->t, 0);
	collect(x, NREQ, lens);
	for (i = 0; i < NREQ; i++) {
		r = fg_ptr(&x->g, x->in[i], 8192);
		assert_int_equal(r[4], P9_TGETATTR + 1);
		assert_int_equal(r[5] | r[6] << 8, 10 + i);
	}
	assert_true(x->g.irq.pulses > 0);
}

static void test_malformed_and_flush(void **state)
{
	struct p9dev *x = *state;
	uint32_t lens[4];
	struct p9_stats st;
	uint8_t *r;

	/* A 3-byte request: no header to trust. */
	memset(fg_ptr(&x->g, x->out[0], 3), 0xee, 3);
	submit(x, 0, 3, 8192);
	fg_mmio_kick(&x->t, 0);
	collect(x, 1, lens);
	r = fg_ptr(&x->g, x->in[0], 8192);
	assert_int_equal(lens[0], 11);
	assert_int_equal(r[4], P9_RLERROR);
	assert_int_equal(r[7], EPROTO);
	/* A reply buffer too small for even an Rlerror: returned empty. */
	submit(x, 1, (uint32_t)build(x, 1, P9_TGETATTR, 3, getattr_body), 4);
	fg_mmio_kick(&x->t, 0);
	collect(x, 1, lens);
	assert_int_equal(lens[0], 0);
	p9_server_stats(x->s, &st);
	assert_int_equal(st.malformed, 2);
	/* Tflush of a tag not in flight: Rflush at once. */
	submit(x, 2, (uint32_t)build(x, 2, P9_TFLUSH, 5, flush_body), 8192);
	fg_mmio_kick(&x->t, 0);
	collect(x, 1, lens);
	r = fg_ptr(&x->g, x->in[2], 8192);
	assert_int_equal(lens[0], 7);
	assert_int_equal(r[4], P9_TFLUSH + 1);
	assert_int_equal(r[5], 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_and_flush, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
