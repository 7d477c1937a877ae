/* SPDX-License-Identifier: MIT */
/*
 * The dgram backend (QEMU's -netdev dgram, and -netdev socket with mcast=
 * or udp=): one Ethernet frame per datagram over a UDP or unix datagram
 * socket, no length and no virtio-net header. With an IPv4 multicast group
 * as the remote address every member hears every frame: a hub that needs no
 * daemon (QEMU's mcast=).
 */
#ifndef DEVICES_NET_DGRAM_H
#define DEVICES_NET_DGRAM_H

#include <stddef.h>

#include "devices/net/net.h"
#include "devices/net/sock_config.h"
#include "base/event_loop.h"

/* On failure: a negative errno and one line in err (no flag name: net.h). */
int netbe_dgram_create(const struct netbe_dgram_config *cfg, struct event_loop *el,
		       struct netbe **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* DEVICES_NET_DGRAM_H */
