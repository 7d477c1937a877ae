/* SPDX-License-Identifier: MIT */
/*
 * The slirp backend's internals, shared by its two files:
 *   slirp.c       the backend: the rx FIFO, the netbe ops, hostfwd rules,
 *                 create and destroy;
 *   slirp_loop.c  libslirp's poll()-style main loop on vmm's epoll loop:
 *                 waking ourselves, timers, sockets, the service cycle and
 *                 the callback table slirp_new() takes.
 * Not for anyone else: the backend's interface is devices/net/slirp.h.
 * What the files share is prefixed netbe_slirp_, because libslirp's own
 * functions take the slirp_ prefix.
 */
#ifndef DEVICES_NET_SLIRP_PRIV_H
#define DEVICES_NET_SLIRP_PRIV_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <slirp/libslirp.h>

#include "devices/net/net.h"
#include "base/event_loop.h"
#include "base/log.h"

/* A timer libslirp asked for (timer_new_opaque); slirp_loop.c keeps them in
 * a list and runs them from one timerfd. */
struct slirp_timer {
	struct slirp_timer *next;
	int64_t expire_ms; /* -1: not armed */
	SlirpTimerId id;
	void *cb_opaque;
};

/* One fd in the private epoll set and the events it is registered for. */
struct slirp_fdent {
	int fd;
	uint32_t events;
	bool seen;
};

/* slirp.c's rx FIFO entry */
struct rx_frame;

struct netbe_slirp {
	struct netbe nb; /* first: ops get &nb */
	struct event_loop *el;
	Slirp *slirp;

	struct el_source poll_src; /* private epoll fd */
	struct el_source timer_src;
	struct el_source wake_src;
	bool poll_in_loop; /* poll_src is in the main loop (reading) */
	bool timer_added, wake_added;
	bool wake_pending; /* wake_src written and not yet handled */
	bool in_service;   /* inside a service cycle: no wake needed */

	bool rx_enabled;
	bool rx_full;	   /* FIFO passed high water; cleared below low */
	bool mask_revents; /* this cycle: report no socket events */

	/* slirp_pollfds_fill output, reused every cycle */
	struct pollfd *pfds;
	unsigned int npfds, pfds_cap;
	bool pfds_short; /* an add_poll failed for lack of memory */

	struct slirp_fdent *fds; /* what the private epoll set holds */
	unsigned int nfds, fds_cap;

	struct slirp_timer *timers;

	struct rx_frame **fifo; /* ring of RX_FIFO_FRAMES */
	unsigned int fifo_head, fifo_count;
	size_t fifo_bytes;

	uint8_t *txbuf; /* send() gathers the iov here */
	struct ratelimit rl;
};

/* slirp.c: libslirp's send_packet callback, a frame for the guest (it goes
 * into the rx FIFO). May run inside send(). */
ssize_t netbe_slirp_send_packet(const void *buf, size_t len, void *opaque);

/* slirp_loop.c */
/* The callbacks slirp_new() takes. */
extern const SlirpCb netbe_slirp_callbacks;
/* Ask for a service cycle from the loop (wake_src), once per wake. */
void netbe_slirp_kick(struct netbe_slirp *s);
/* Put the private epoll source into the loop or take it out, to match
 * rx_enabled and rx_full (call after changing either). */
void netbe_slirp_update_reading(struct netbe_slirp *s);
/* One service cycle: timers, socket events, the epoll set, the timerfd. */
void netbe_slirp_service(struct netbe_slirp *s);
/* The handler of poll_src, timer_src and wake_src. */
void netbe_slirp_handler(struct el_source *src, uint32_t events);

#endif /* DEVICES_NET_SLIRP_PRIV_H */
