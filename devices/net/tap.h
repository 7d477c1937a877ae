/* SPDX-License-Identifier: MIT */
/*
 * The tap backend: /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, so
 * frames carry a virtio_net_hdr_v1 and the host kernel does checksum and
 * segmentation offloads. Creating a tap and attaching it to a bridge need
 * CAP_NET_ADMIN; attaching to an existing persistent tap owned by the user
 * does not.
 */
#ifndef DEVICES_NET_TAP_H
#define DEVICES_NET_TAP_H

#include <stddef.h>

#include "devices/net/net.h"
#include "devices/net/net_config.h"
#include "base/event_loop.h"

/* On failure: a negative errno and a one-line message in err that names
 * the missing privilege (CAP_NET_ADMIN) when that is the cause (no flag
 * name: see net.h). */
int netbe_tap_create(const struct netbe_tap_config *cfg, struct event_loop *el, struct netbe **out,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

#endif /* DEVICES_NET_TAP_H */
