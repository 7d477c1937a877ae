/* SPDX-License-Identifier: MIT */
/*
 * The socket backend tests' fixture (test_stream.c, test_dgram.c): an event
 * loop with the backend's notify() wired to it (loop_wait.h), a scratch
 * directory for the unix sockets, and test frames.
 */
#ifndef VMM_TESTS_NET_LOOP_FX_H
#define VMM_TESTS_NET_LOOP_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/unit/net/loop_wait.h"

struct loop_fx {
	struct loop_wait w; /* w.el is the backends' loop */
	struct netbe *nb;
	char dir[64]; /* a fresh directory under /tmp */
	char err[256];
};

/* cmocka setup / teardown: *state becomes a struct loop_fx (the teardown
 * destroys f->nb when set, then the directory and what is in it). */
int loop_fx_setup(void **state);
int loop_fx_teardown(void **state);

/* Give f->nb its notify() (after creating it). */
void loop_fx_attach(struct loop_fx *f);

/* Run the loop until the backend notifies or ms pass; the events seen (0
 * on timeout). With ms < 0, run exactly -ms milliseconds whatever comes,
 * and return what was seen in that time. */
unsigned int loop_fx_wait(struct loop_fx *f, int ms);

/* dir/name into buf */
void loop_fx_path(const struct loop_fx *f, char *buf, size_t len, const char *name);

/* A 14+n byte Ethernet frame whose bytes tell `seq` and its length apart. */
size_t loop_fx_frame(uint8_t *buf, size_t n, unsigned int seq);

#endif
