/* SPDX-License-Identifier: MIT */
/*
 * --net: one virtio-net NIC and its backend.
 *
 *   --net user[,mac=M][,net=A/N][,host=A][,dns=A][,dhcpstart=A][,restrict=on|off]
 *             [,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
 *   --net tap[,ifname=NAME][,bridge=BR][,mac=M][,vnet_hdr=on|off]
 *   --net vde[,sock=DIR_OR_URL][,mac=M][,port=N][,group=G][,mode=OCTAL]
 *   --net stream,... | dgram,... | socket,...   (QEMU's socket backends: cli_net_sock.c)
 *
 * The option names and defaults are QEMU's (-netdev user / tap / vde), so
 * what users already know carries over. Two deliberate differences: an
 * empty HOSTADDR in hostfwd binds 127.0.0.1, not every interface (write
 * 0.0.0.0 for that), and host=/dns=/dhcpstart= follow net= when not given
 * (net=192.168.5.0/24 gives .2, .3 and .15, as QEMU does).
 *
 * Everything is checked here, before any device exists, so that a typo is a
 * one-line usage error (exit status 2) rather than a half-started VM.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli.h"
#include "vmm/cli_priv.h"
#include "base/err.h"
#include "base/opts.h"

int cli_parse_ipv4(const char *s, struct in_addr *a)
{
	/* inet_pton(AF_INET) takes exactly the dotted-quad form (no octal,
	 * no short forms like "10.2"), which is what we want. */
	return inet_pton(AF_INET, s, a) == 1 ? 0 : -EINVAL;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int i;

	for (i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -EINVAL;
		mac[i] = (uint8_t)strtoul((char[3]){ s[0], s[1], 0 }, NULL, 16);
		s += 2;
		if (*s != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		s++;
	}
	/* A NIC's own address must be unicast (bit 0 of the first octet clear)
	 * and not all zeros. */
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

/* "A.B.C.D/N" or "A.B.C.D/M.M.M.M" (N in 1..30: the network needs room for
 * the gateway, DNS and DHCP addresses), or a bare address with /24. */
static int parse_net(const char *s, struct in_addr *net, struct in_addr *mask)
{
	char buf[64];
	char *slash;
	unsigned long prefix;
	uint32_t m;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (cli_parse_ipv4(buf, net) < 0)
		return -EINVAL;
	if (!slash) {
		prefix = 24;
	} else if (strchr(slash, '.')) {
		if (cli_parse_ipv4(slash, mask) < 0)
			return -EINVAL;
		m = ntohl(mask->s_addr);
		/* contiguous: ~m + 1 is a power of two */
		if (m == 0 || ((~m + 1) & ~m))
			return -EINVAL;
		prefix = (unsigned long)__builtin_popcount(m);
	} else if (cli_parse_uint(slash, 32, &prefix) < 0) {
		return -EINVAL;
	}
	if (prefix < 1 || prefix > 30)
		return -ERANGE;
	m = prefix == 32 ? ~0U : ~((1U << (32 - prefix)) - 1);
	mask->s_addr = htonl(m);
	net->s_addr &= mask->s_addr;
	return 0;
}

int cli_parse_port(const char *s, uint16_t *port)
{
	unsigned long v;

	if (cli_parse_uint(s, 65535, &v) < 0 || v == 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, addresses optional.
 * A zero guest address means "the first DHCP address" (resolved later, once
 * dhcpstart= is known). */
static int parse_hostfwd(const char *rule, struct netbe_hostfwd *f)
{
	char buf[128];
	char *proto, *haddr, *hport, *gaddr, *gport;

	if (strlen(rule) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, rule);
	proto = buf;
	haddr = strchr(proto, ':');
	if (!haddr)
		return -EINVAL;
	*haddr++ = '\0';
	hport = strchr(haddr, ':');
	if (!hport)
		return -EINVAL;
	*hport++ = '\0';
	gaddr = strchr(hport, '-');
	if (!gaddr)
		return -EINVAL;
	*gaddr++ = '\0';
	gport = strchr(gaddr, ':');
	if (!gport)
		return -EINVAL;
	*gport++ = '\0';

	memset(f, 0, sizeof(*f));
	if (!strcmp(proto, "udp"))
		f->udp = true;
	else if (*proto && strcmp(proto, "tcp"))
		return -EINVAL;
	if (!*haddr)
		f->host_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (cli_parse_ipv4(haddr, &f->host_addr) < 0)
		return -EINVAL;
	if (*gaddr && cli_parse_ipv4(gaddr, &f->guest_addr) < 0)
		return -EINVAL;
	if (cli_parse_port(hport, &f->host_port) < 0 || cli_parse_port(gport, &f->guest_port) < 0)
		return -EINVAL;
	return 0;
}

static int parse_ifname(const char *v, char out[NETBE_IFNAME_MAX])
{
	size_t i, n = strlen(v);

	/* Linux dev_valid_name(): 1..15 bytes, no '/', ':' or white space,
	 * not "." or "..". */
	if (n == 0 || n >= NETBE_IFNAME_MAX || !strcmp(v, ".") || !strcmp(v, ".."))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (v[i] == '/' || v[i] == ':' || isspace((unsigned char)v[i]))
			return -EINVAL;
	memcpy(out, v, n + 1);
	return 0;
}

/* Which of host=, dns=, dhcpstart= were given (the others follow net=). */
struct user_given {
	bool host, dns, dhcp_start;
};

static int parse_user_opt(const char *opt, const char *val, struct netbe_user_config *u,
			  struct user_given *given, char *err, size_t errlen)
{
	if (!strcmp(opt, "net") && val)
		return parse_net(val, &u->net, &u->mask);
	if (!strcmp(opt, "host") && val) {
		given->host = true;
		return cli_parse_ipv4(val, &u->host);
	}
	if (!strcmp(opt, "dns") && val) {
		given->dns = true;
		return cli_parse_ipv4(val, &u->dns);
	}
	if (!strcmp(opt, "dhcpstart") && val) {
		given->dhcp_start = true;
		return cli_parse_ipv4(val, &u->dhcp_start);
	}
	if (!strcmp(opt, "restrict"))
		return cli_parse_bool(val, &u->restricted);
	if (!strcmp(opt, "hostfwd") && val) {
		if (u->nfwd == NETBE_MAX_HOSTFWD)
			return err_set(err, errlen, -E2BIG, "--net user: at most %d hostfwd rules",
				       NETBE_MAX_HOSTFWD);
		if (parse_hostfwd(val, &u->fwd[u->nfwd]) < 0)
			return err_set(err, errlen, -EINVAL,
				       "--net user: bad hostfwd rule '%s' (expected "
				       "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, ports "
				       "1-65535)",
				       val);
		u->nfwd++;
		return 0;
	}
	return err_set(err, errlen, -ENOENT,
		       "--net user: unknown option '%s' (mac=, net=, host=, dns=, dhcpstart=, "
		       "restrict=, hostfwd=)",
		       opt);
}

static int parse_tap_opt(const char *opt, const char *val, struct netbe_tap_config *t, char *err,
			 size_t errlen)
{
	if (!strcmp(opt, "ifname") && val)
		return parse_ifname(val, t->ifname);
	if (!strcmp(opt, "bridge") && val)
		return parse_ifname(val, t->bridge);
	if (!strcmp(opt, "vnet_hdr"))
		return cli_parse_bool(val, &t->vnet_hdr);
	return err_set(err, errlen, -ENOENT,
		       "--net tap: unknown option '%s' (mac=, ifname=, bridge=, vnet_hdr=)", opt);
}

/* sock=: a path, or SCHEME://... with a scheme of letters, digits, '+',
 * '-', '.' (RFC 3986 3.1), which names the libvdeplug plugin. Whether that
 * plugin exists is libvdeplug's to say, when the backend connects. */
static int check_vde_sock(const char *v)
{
	const char *sep = strstr(v, "://");
	const char *p;

	if (strlen(v) >= NETBE_VDE_SOCK_MAX)
		return -ENAMETOOLONG;
	if (!sep)
		return 0;
	if (sep == v || !isalpha((unsigned char)v[0]))
		return -EINVAL;
	for (p = v; p < sep; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
			return -EINVAL;
	return 0;
}

static int parse_vde_opt(const char *opt, const char *val, struct netbe_vde_config *d, char *err,
			 size_t errlen)
{
	unsigned long v;
	char *end;

	if (!strcmp(opt, "sock") && val) {
		int ret = check_vde_sock(val);

		if (ret)
			return err_set(err, errlen, ret,
				       "--net vde: bad sock '%s' (a switch directory, or a "
				       "vdeplug URL SCHEME://...%s)",
				       val, ret == -ENAMETOOLONG ? ", under 512 bytes" : "");
		strcpy(d->sock, val);
		return 0;
	}
	if (!strcmp(opt, "port") && val) {
		if (cli_parse_uint(val, 65535, &v) < 0)
			return -EINVAL;
		d->port = (unsigned int)v;
		return 0;
	}
	if (!strcmp(opt, "group") && val) {
		if (!*val || strlen(val) >= NETBE_VDE_GROUP_MAX)
			return -EINVAL;
		strcpy(d->group, val);
		return 0;
	}
	if (!strcmp(opt, "mode") && val) {
		errno = 0;
		v = strtoul(val, &end, 8);
		if (!*val || *end || errno || v > 0777)
			return -EINVAL;
		d->mode = (unsigned int)v;
		return 0;
	}
	return err_set(err, errlen, -ENOENT,
		       "--net vde: unknown option '%s' (mac=, sock=, port=, group=, mode=)", opt);
}

/* Fill what was not given from net=, then check the whole configuration. */
static int finish_user(struct netbe_user_config *u, const struct user_given *given, char *err,
		       size_t errlen)
{
	uint32_t net = ntohl(u->net.s_addr);
	char why[256];
	unsigned int i;
	int ret;

	if (!given->host)
		u->host.s_addr = htonl(net | 2);
	if (!given->dns)
		u->dns.s_addr = htonl(net | 3);
	if (!given->dhcp_start)
		u->dhcp_start.s_addr = htonl(net | 15);
	for (i = 0; i < u->nfwd; i++)
		if (!u->fwd[i].guest_addr.s_addr)
			u->fwd[i].guest_addr = u->dhcp_start;
	/* The check says what is wrong; the flag is ours to name. */
	ret = netbe_user_config_check(u, why, sizeof(why));
	if (ret)
		return err_set(err, errlen, ret, "--net user: %s", why);
	return 0;
}

int cli_parse_net(const char *arg, unsigned int index, struct cli_net *n, char *err, size_t errlen)
{
	const char *kind;
	struct user_given given = { 0 };
	struct cli_sock_state sock = { 0 };
	char *copy, *rest, *opt, *val;
	int ret = 0;

	memset(n, 0, sizeof(*n));
	copy = strdup(arg);
	if (!copy)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	rest = copy;
	opt = opts_next(&rest, NULL); /* the kind */
	if (opt && !strcmp(opt, "user")) {
		n->kind = CLI_NET_USER;
		netbe_user_config_default(&n->user);
	} else if (opt && !strcmp(opt, "tap")) {
		n->kind = CLI_NET_TAP;
		n->tap.vnet_hdr = true;
	} else if (opt && !strcmp(opt, "vde")) {
		n->kind = CLI_NET_VDE;
		n->vde.mode = 0700; /* QEMU's default */
	} else if (!opt || cli_sock_kind(opt, n, &sock) < 0) {
		ret = err_set(err, errlen, -EINVAL,
			      "--net: '%s' is not user[,...], tap[,...], vde[,...], stream[,...], "
			      "dgram[,...] or socket[,...]",
			      arg);
		goto out;
	}
	kind = opt;
	/* QEMU's default MAC, one per NIC */
	memcpy(n->mac, (uint8_t[6]){ 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + index) }, 6);

	while ((opt = opts_next(&rest, &val))) {
		err[0] = '\0';
		if (!strcmp(opt, "mac") && val)
			ret = parse_mac(val, n->mac);
		else if (n->kind == CLI_NET_USER)
			ret = parse_user_opt(opt, val, &n->user, &given, err, errlen);
		else if (n->kind == CLI_NET_VDE)
			ret = parse_vde_opt(opt, val, &n->vde, err, errlen);
		else if (n->kind == CLI_NET_TAP)
			ret = parse_tap_opt(opt, val, &n->tap, err, errlen);
		else
			ret = cli_sock_opt(n, &sock, opt, val, err, errlen);
		if (ret) {
			if (!err[0])
				err_set(err, errlen, ret, "--net %s: bad value '%s' for %s", kind,
					val ? val : "", opt);
			goto out;
		}
	}
	if (n->kind == CLI_NET_USER)
		ret = finish_user(&n->user, &given, err, errlen);
	else if (n->kind == CLI_NET_STREAM || n->kind == CLI_NET_DGRAM)
		ret = cli_sock_finish(n, &sock, err, errlen);
	/* the backend watches for its own MAC coming back from the switch */
	memcpy(n->vde.mac, n->mac, sizeof(n->vde.mac));
out:
	free(copy);
	return ret < 0 ? ret : 0;
}
