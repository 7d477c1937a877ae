/* SPDX-License-Identifier: MIT */
/*
 * --net stream / dgram / socket: the QEMU-compatible socket backends
 * (devices/net/stream.h, dgram.h), with QEMU's option names:
 *
 *   --net stream,server=on|off,addr.type=unix,addr.path=PATH[,reconnect=S]
 *   --net stream,server=on|off,addr.type=inet,addr.host=A,addr.port=P[,reconnect=S]
 *   --net dgram,local.type=...,local.path=|local.host=,local.port=,remote.type=...
 *   --net dgram,remote.type=inet,remote.host=MCASTADDR,remote.port=P[,local.host=IFADDR]
 *   --net socket,listen=[HOST]:PORT | connect=HOST:PORT      (stream over TCP)
 *   --net socket,mcast=MCASTADDR:PORT[,localaddr=IFADDR]    (dgram multicast)
 *   --net socket,udp=HOST:PORT,localaddr=HOST:PORT          (dgram unicast)
 *
 * addr.type (local.type, remote.type) may be left out: addr.path= means
 * unix and addr.host=/addr.port= mean inet. Hosts are dotted quads or
 * "localhost" (no name lookups). Two deliberate differences from QEMU: an
 * inet address without a host is 127.0.0.1, never every interface by
 * accident (write 0.0.0.0 for that), and a client that cannot reach its
 * server fails before the guest starts, reconnect= or not.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli.h"
#include "vmm/cli_priv.h"
#include "base/err.h"

/* QEMU's `reconnect` is in seconds; a day is plenty */
#define CLI_RECONNECT_MAX 86400

int cli_sock_kind(const char *kind, struct cli_net *n, struct cli_sock_state *st)
{
	memset(st, 0, sizeof(*st));
	if (!strcmp(kind, "stream"))
		n->kind = CLI_NET_STREAM;
	else if (!strcmp(kind, "dgram"))
		n->kind = CLI_NET_DGRAM;
	else if (!strcmp(kind, "socket")) {
		/* stream or dgram: listen=/connect=/mcast=/udp= decide */
		n->kind = CLI_NET_STREAM;
		st->legacy = true;
	} else
		return -ENOENT;
	return 0;
}

static int parse_host(const char *v, struct in_addr *a)
{
	if (!strcmp(v, "localhost")) {
		a->s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	return cli_parse_ipv4(v, a);
}

/* Set a's family, unless the options already said another. */
static int want_family(struct netbe_sock_addr *a, int family)
{
	if (a->family && a->family != family)
		return -EINVAL;
	a->family = family;
	return 0;
}

/* One of addr.X / local.X / remote.X (`field` is X). */
static int parse_addr_field(struct netbe_sock_addr *a, bool *host_given, const char *field,
			    const char *v)
{
	if (!strcmp(field, "type")) {
		if (!strcmp(v, "unix"))
			return want_family(a, AF_UNIX);
		if (!strcmp(v, "inet"))
			return want_family(a, AF_INET);
		return -EINVAL; /* fd, vsock, inet6: not here */
	}
	if (!strcmp(field, "path")) {
		if (!*v || strlen(v) >= sizeof(a->path))
			return -ENAMETOOLONG;
		snprintf(a->path, sizeof(a->path), "%s", v);
		return want_family(a, AF_UNIX);
	}
	if (!strcmp(field, "host")) {
		*host_given = true;
		if (parse_host(v, &a->host) < 0)
			return -EINVAL;
		return want_family(a, AF_INET);
	}
	if (!strcmp(field, "port")) {
		if (cli_parse_port(v, &a->port) < 0)
			return -EINVAL;
		return want_family(a, AF_INET);
	}
	return -ENOENT;
}

/* "[HOST]:PORT" (QEMU's -netdev socket) */
static int parse_host_port(const char *v, struct netbe_sock_addr *a, bool *host_given)
{
	const char *colon = strrchr(v, ':');
	char host[64];

	if (!colon || (size_t)(colon - v) >= sizeof(host))
		return -EINVAL;
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	a->family = AF_INET;
	if (host[0]) {
		*host_given = true;
		if (parse_host(host, &a->host) < 0)
			return -EINVAL;
	}
	return cli_parse_port(colon + 1, &a->port);
}

/* --net socket,...: the first of listen=/connect=/mcast=/udp= fixes the kind */
static int parse_legacy(struct cli_net *n, struct cli_sock_state *st, const char *opt,
			const char *v, char *err, size_t errlen)
{
	bool stream = !strcmp(opt, "listen") || !strcmp(opt, "connect");
	bool dgram = !strcmp(opt, "mcast") || !strcmp(opt, "udp");

	if (!strcmp(opt, "localaddr")) {
		/* mcast: an interface address; udp: HOST:PORT to bind */
		if (strchr(v, ':'))
			return parse_host_port(v, &n->dgram.local, &st->local_host);
		st->local_host = true;
		n->dgram.local.family = AF_INET;
		return parse_host(v, &n->dgram.local.host);
	}
	if (!stream && !dgram)
		return err_set(
			err, errlen, -ENOENT,
			"--net socket: unknown option '%s' (mac=, listen=, connect=, mcast=, "
			"udp=, localaddr=)",
			opt);
	if (st->kind_set)
		return err_set(err, errlen, -EINVAL,
			       "--net socket: give one of listen=, connect=, mcast=, udp=");
	st->kind_set = true;
	if (stream) {
		n->kind = CLI_NET_STREAM;
		n->stream.server = !strcmp(opt, "listen");
		return parse_host_port(v, &n->stream.addr, &st->addr_host);
	}
	n->kind = CLI_NET_DGRAM;
	return parse_host_port(v, &n->dgram.remote, &st->remote_host);
}

int cli_sock_opt(struct cli_net *n, struct cli_sock_state *st, const char *opt, const char *val,
		 char *err, size_t errlen)
{
	const char *dot = strchr(opt, '.');
	unsigned long secs;
	int ret;

	if (!val)
		val = "";
	if (st->legacy)
		return parse_legacy(n, st, opt, val, err, errlen);
	if (n->kind == CLI_NET_STREAM) {
		if (!strcmp(opt, "server"))
			return cli_parse_bool(val, &n->stream.server);
		if (!strcmp(opt, "reconnect")) {
			if (cli_parse_uint(val, CLI_RECONNECT_MAX, &secs) < 0)
				return -EINVAL;
			n->stream.reconnect = (unsigned int)secs;
			return 0;
		}
		if (dot && !strncmp(opt, "addr.", 5)) {
			ret = parse_addr_field(&n->stream.addr, &st->addr_host, dot + 1, val);
			if (ret != -ENOENT)
				return ret;
		}
		return err_set(err, errlen, -ENOENT,
			       "--net stream: unknown option '%s' (mac=, server=, addr.type=, "
			       "addr.path=, addr.host=, addr.port=, reconnect=)",
			       opt);
	}
	if (dot && !strncmp(opt, "local.", 6))
		ret = parse_addr_field(&n->dgram.local, &st->local_host, dot + 1, val);
	else if (dot && !strncmp(opt, "remote.", 7))
		ret = parse_addr_field(&n->dgram.remote, &st->remote_host, dot + 1, val);
	else
		ret = -ENOENT;
	if (ret == -ENOENT)
		return err_set(
			err, errlen, -ENOENT,
			"--net dgram: unknown option '%s' (mac=, local.type=, local.path=, "
			"local.host=, local.port=, remote.type=, remote.path=, remote.host=, "
			"remote.port=)",
			opt);
	return ret;
}

/* An inet address needs a port; without a host it is the loopback. */
static int finish_addr(struct netbe_sock_addr *a, bool host_given, const char *what,
		       const char *kind, bool port_needed, char *err, size_t errlen)
{
	if (a->family == AF_UNIX && !a->path[0])
		return err_set(err, errlen, -EINVAL, "--net %s: %s.type=unix needs %s.path=", kind,
			       what, what);
	if (a->family != AF_INET)
		return 0;
	if (!host_given)
		a->host.s_addr = htonl(INADDR_LOOPBACK);
	if (port_needed && !a->port)
		return err_set(err, errlen, -EINVAL, "--net %s: %s needs a port (%s.port=)", kind,
			       what, what);
	return 0;
}

int cli_sock_finish(struct cli_net *n, struct cli_sock_state *st, char *err, size_t errlen)
{
	const char *kind = st->legacy ? "socket" : n->kind == CLI_NET_STREAM ? "stream" : "dgram";
	bool mcast;
	int ret;

	if (st->legacy && !st->kind_set)
		return err_set(err, errlen, -EINVAL,
			       "--net socket: needs listen=, connect=, mcast= or udp=");
	/* the backend warns when a peer's frames come from this MAC */
	memcpy(n->stream.mac, n->mac, sizeof(n->mac));
	memcpy(n->dgram.mac, n->mac, sizeof(n->mac));
	if (n->kind == CLI_NET_STREAM) {
		if (!n->stream.addr.family)
			return err_set(err, errlen, -EINVAL,
				       "--net %s: needs an address (addr.path=PATH, or "
				       "addr.host=A,addr.port=P)",
				       kind);
		if (n->stream.server && n->stream.reconnect)
			return err_set(err, errlen, -EINVAL,
				       "--net %s: reconnect= is for a client (server=off)", kind);
		return finish_addr(&n->stream.addr, st->addr_host, "addr", kind, true, err, errlen);
	}
	if (!n->dgram.remote.family)
		return err_set(err, errlen, -EINVAL,
			       "--net %s: needs a remote address (remote.path=, or remote.host= "
			       "and remote.port=)",
			       kind);
	ret = finish_addr(&n->dgram.remote, st->remote_host, "remote", kind, true, err, errlen);
	if (ret)
		return ret;
	mcast = netbe_sock_addr_is_mcast(&n->dgram.remote);
	if (!mcast && !n->dgram.local.family)
		return err_set(err, errlen, -EINVAL,
			       "--net %s: needs a local address (local.*=) unless remote is a "
			       "multicast group",
			       kind);
	if (mcast && n->dgram.local.family == AF_UNIX)
		return err_set(err, errlen, -EINVAL,
			       "--net %s: with a multicast remote, local is an IPv4 interface "
			       "address",
			       kind);
	if (!mcast && n->dgram.local.family != n->dgram.remote.family)
		return err_set(err, errlen, -EINVAL,
			       "--net %s: local and remote must both be unix or both inet", kind);
	/* a multicast member's local address is just an interface: no port */
	return finish_addr(&n->dgram.local, st->local_host || mcast, "local", kind, !mcast, err,
			   errlen);
}
