/* SPDX-License-Identifier: MIT */
/*
 * The user-mode NAT backend: libslirp driven from vmm's event loop. Its
 * sockets live in a private epoll set that is one source of the loop; its
 * timers share one timerfd. No privileges needed.
 */
#ifndef DEVICES_NET_SLIRP_H
#define DEVICES_NET_SLIRP_H

#include <stddef.h>
#include <stdint.h>

#include "devices/net/net.h"
#include "devices/net/net_config.h"
#include "base/event_loop.h"

/* Set up slirp with cfg and bind every hostfwd rule. On failure returns a
 * negative errno and writes a one-line message (naming the rule that could
 * not be bound, say; no flag name: see net.h) into err. */
int netbe_slirp_create(const struct netbe_user_config *cfg, struct event_loop *el,
		       struct netbe **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Snapshots: libslirp's own state (its TCP connections and DHCP leases,
 * slirp_state_save) into a malloc'd buffer, with the format version
 * libslirp gives; and back into a new backend made with the same config.
 * Both on the event-loop thread (libslirp is not thread-safe). */
int netbe_slirp_state_save(struct netbe *nb, uint8_t **buf, size_t *len, int *version, char *err,
			   size_t errlen) __attribute__((warn_unused_result));
int netbe_slirp_state_load(struct netbe *nb, const uint8_t *buf, size_t len, int version, char *err,
			   size_t errlen) __attribute__((warn_unused_result));

#endif /* DEVICES_NET_SLIRP_H */
