/* SPDX-License-Identifier: MIT */
/*
 * Driving a net backend from a test or a bench: an event loop, a timeout
 * timer, and the backend's notify() recording its events and stopping the
 * loop, so that "run until the backend says something, or ms pass" is one
 * call. Test scaffolding on the host (base/ and net.h only, no cmocka).
 *
 *	struct loop_wait w;
 *	loop_wait_init(&w);
 *	netbe_..._create(..., &w.el, &nb, ...);
 *	loop_wait_attach(&w, nb);
 *	nb->ops->rx_enable(nb, true);
 *	if (loop_wait_run(&w, 2000, &ev) == 0 && (ev & NETBE_EV_RX)) ...
 */
#ifndef VMM_TESTS_NET_LOOP_WAIT_H
#define VMM_TESTS_NET_LOOP_WAIT_H

#include <stdbool.h>

#include "base/event_loop.h"
#include "devices/net/net.h"

struct loop_wait {
	struct event_loop el;
	struct el_source timer; /* timerfd; fd -1 before init */
	unsigned int events;	/* notify() events of the current run */
	bool timed_out;		/* the last run ended by its timeout */
};

/* 0 or -errno; loop_wait_destroy() is safe after a failure too. */
int loop_wait_init(struct loop_wait *w) __attribute__((warn_unused_result));
void loop_wait_destroy(struct loop_wait *w);

/* Route nb's notify() here. */
void loop_wait_attach(struct loop_wait *w, struct netbe *nb);

/* Run the loop until nb notifies or ms pass; *events: what it reported (0
 * on timeout). 0 or -errno (the timer or the loop failed). */
int loop_wait_run(struct loop_wait *w, int ms, unsigned int *events)
	__attribute__((warn_unused_result));

#endif
