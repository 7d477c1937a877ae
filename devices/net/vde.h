/* SPDX-License-Identifier: MIT */
/*
 * The VDE backend: a virtio-net NIC on a Virtual Distributed Ethernet
 * switch through libvdeplug (vdeplug4), the unprivileged virtual switch
 * that QEMU, VirtualBox and UML also plug into. `sock` takes what QEMU's
 * `-netdev vde,sock=` takes: the directory of a classic `vde_switch -s DIR`
 * (or "" for libvdeplug's default switch), or a vdeplug4 URL such as
 * vde:///DIR, switch:///DIR (a switch run inside this process), hub://,
 * vxvde://, slirp://.
 *
 * VDE carries plain Ethernet frames of at most VDE_ETHBUFSIZE bytes: no
 * virtio-net header, no offloads.
 */
#ifndef DEVICES_NET_VDE_H
#define DEVICES_NET_VDE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/event_loop.h"
#include "devices/net/net.h"

#define NETBE_VDE_SOCK_MAX  512
#define NETBE_VDE_GROUP_MAX 64

/* --net vde: QEMU's option names and defaults (-netdev vde). A plain value
 * type, embedded in the CLI's struct cli_net. */
struct netbe_vde_config {
	char sock[NETBE_VDE_SOCK_MAX];	 /* path or URL; "" = libvdeplug's default */
	unsigned int port;		 /* 0 = any free port of the switch */
	char group[NETBE_VDE_GROUP_MAX]; /* "" = none; owner group of the data socket */
	unsigned int mode;		 /* its permission bits (QEMU's default 0700) */
	uint8_t mac[6];			 /* the NIC's: frames from the switch that carry it as
					    their source mean two NICs share it */
};

/* Connect to the switch. On failure: a negative errno and one line in err
 * that says what is missing ("no VDE switch at /run/sw: start one with
 * ..."), without the flag name (see net.h). */
int netbe_vde_create(const struct netbe_vde_config *cfg, struct event_loop *el, struct netbe **out,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

#endif /* DEVICES_NET_VDE_H */
