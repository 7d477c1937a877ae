/* SPDX-License-Identifier: MIT */
/*
 * What `--net user,...` and `--net tap,...` configure, as plain values (libc
 * only): vmm/cli_net.c fills these in, the backends (slirp.c, tap.c) take
 * them. Addresses are IPv4 in network byte order (struct in_addr).
 */
#ifndef DEVICES_NET_NET_CONFIG_H
#define DEVICES_NET_NET_CONFIG_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETBE_MAX_HOSTFWD 16
#define NETBE_IFNAME_MAX  16 /* IFNAMSIZ, NUL included */

/* hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (QEMU's syntax).
 * An empty HOSTADDR is 127.0.0.1 (never all interfaces by accident); an
 * empty GUESTADDR is the first DHCP address. */
struct netbe_hostfwd {
	bool udp;
	struct in_addr host_addr;
	uint16_t host_port; /* 1..65535 */
	struct in_addr guest_addr;
	uint16_t guest_port;
};

/* User-mode NAT. Defaults (netbe_user_config_default) follow QEMU:
 * 10.0.2.0/24, gateway and DHCP server 10.0.2.2, DNS 10.0.2.3, first DHCP
 * address 10.0.2.15. */
struct netbe_user_config {
	struct in_addr net, mask;
	struct in_addr host;	   /* the gateway the guest sees; also the host's loopback */
	struct in_addr dns;	   /* forwarded to the host's resolvers */
	struct in_addr dhcp_start; /* first address handed out */
	bool restricted;	   /* restrict=on: the guest reaches nothing outside */
	struct netbe_hostfwd fwd[NETBE_MAX_HOSTFWD];
	unsigned int nfwd;
};

/* A host tap device. */
struct netbe_tap_config {
	char ifname[NETBE_IFNAME_MAX]; /* "" = let the kernel pick tapN */
	char bridge[NETBE_IFNAME_MAX]; /* "" = none; else attach (CAP_NET_ADMIN) */
	bool vnet_hdr;		       /* IFF_VNET_HDR and offloads (default on) */
};

static inline void netbe_user_config_default(struct netbe_user_config *c)
{
	*c = (struct netbe_user_config){
		.net.s_addr = htonl(0x0a000200),	/* 10.0.2.0 */
		.mask.s_addr = htonl(0xffffff00),	/* /24 */
		.host.s_addr = htonl(0x0a000202),	/* 10.0.2.2 */
		.dns.s_addr = htonl(0x0a000203),	/* 10.0.2.3 */
		.dhcp_start.s_addr = htonl(0x0a00020f), /* 10.0.2.15 */
	};
}

/* a as dotted quad into buf (INET_ADDRSTRLEN bytes hold any), "?" if it
 * does not fit. */
void netbe_fmt_ip(char *buf, size_t len, struct in_addr a);

/* Is c usable? A contiguous mask, net without host bits; host, dns and
 * dhcpstart host addresses inside the network (not its network or
 * broadcast address) and distinct; hostfwd ports non-zero and guest
 * addresses (where given) inside the network. Returns 0, or -EINVAL with a
 * one-line message in err ("dhcpstart=10.0.3.15 is outside net=10.0.2.0/24";
 * the caller puts the command-line flag in front, see net.h). */
int netbe_user_config_check(const struct netbe_user_config *c, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* DEVICES_NET_NET_CONFIG_H */
