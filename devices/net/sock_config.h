/* SPDX-License-Identifier: MIT */
/*
 * What `--net stream,...` and `--net dgram,...` configure (QEMU's -netdev
 * stream / dgram / socket), as plain values: vmm/cli_net.c fills them in,
 * stream.c and dgram.c take them, sock_addr.c turns an address into a
 * struct sockaddr and into text. libc only.
 */
#ifndef DEVICES_NET_SOCK_CONFIG_H
#define DEVICES_NET_SOCK_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/* sun_path's size (108 on Linux), NUL included */
#define NETBE_SOCK_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* QEMU's addr.type: one socket address. family 0 means "not given". */
struct netbe_sock_addr {
	int family;			/* 0, AF_UNIX or AF_INET */
	char path[NETBE_SOCK_PATH_MAX]; /* AF_UNIX */
	struct in_addr host;		/* AF_INET, network order */
	uint16_t port;			/* AF_INET, host order */
};

/* A stream of frames, each behind a 4-byte big-endian length. */
struct netbe_stream_config {
	bool server; /* listen and take one peer at a time */
	struct netbe_sock_addr addr;
	unsigned int reconnect; /* client: seconds between attempts; 0 = never */
	uint8_t mac[6];		/* the NIC's, to warn of a peer using it too; 0 = no check */
};

/* One frame per datagram. Either local or a multicast remote is needed. */
struct netbe_dgram_config {
	struct netbe_sock_addr local;  /* bind here (optional for multicast) */
	struct netbe_sock_addr remote; /* send there; may be an IPv4 multicast group */
	/* as in netbe_stream_config; unicast only (a multicast member hears
	 * its own frames) */
	uint8_t mac[6];
};

/* Is the frame's source MAC `mac` (non-zero)? Then two NICs on one segment
 * share a MAC, which breaks the segment in ways hard to trace: the
 * backends say so once (netbe_mac_clash_warn_once). */
bool netbe_mac_clash(const uint8_t mac[6], const uint8_t *frame, size_t len);

/* If netbe_mac_clash() and *said is false, warn "NAME: `who` sends frames
 * from this NIC's own MAC ..." and set *said. */
void netbe_mac_clash_warn_once(const char *name, const char *who, const uint8_t mac[6],
			       const uint8_t *frame, size_t len, bool *said);

/* The address as a struct sockaddr in ss; its length, or -EINVAL. */
int netbe_sock_addr_to(const struct netbe_sock_addr *a, struct sockaddr_storage *ss, socklen_t *len)
	__attribute__((warn_unused_result));

/* "unix:/run/x.sock" or "127.0.0.1:1234" into buf, for messages. */
void netbe_sock_addr_fmt(char *buf, size_t len, const struct netbe_sock_addr *a);

/* Is a an IPv4 multicast group (224.0.0.0/4)? */
bool netbe_sock_addr_is_mcast(const struct netbe_sock_addr *a);

/* Bind fd to a; for a unix path, first remove a stale socket file that
 * nobody listens on (what QEMU does too), but never a live one or a file
 * that is not a socket. 0, or -errno with one line in err. */
int netbe_sock_bind(int fd, int type, const struct netbe_sock_addr *a, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* DEVICES_NET_SOCK_CONFIG_H */
