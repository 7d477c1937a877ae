/* SPDX-License-Identifier: MIT */
/*
 * An event loop for the socket backend tests (test_stream.c, test_dgram.c):
 * the backend's notify() records its events and stops the loop, a timerfd
 * bounds every wait, and a scratch directory holds the unix sockets.
 */
#ifndef VMM_TESTS_NET_LOOP_FX_H
#define VMM_TESTS_NET_LOOP_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/net/net.h"
#include "base/event_loop.h"

struct loop_fx {
	struct event_loop el;
	struct el_source timer;
	struct netbe *nb;
	unsigned int events; /* notify() events since the last loop_fx_wait */
	char dir[64];	     /* a fresh directory under /tmp */
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
