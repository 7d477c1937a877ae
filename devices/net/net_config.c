/* SPDX-License-Identifier: MIT */
/*
 * The checks of a user-network configuration, shared by the command line
 * (vmm/cli_net.c: a usage error before anything starts) and the slirp
 * backend (which does not trust its caller). Plain values, libc only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "devices/net/net_config.h"
#include "base/err.h"

void netbe_fmt_ip(char *buf, size_t len, struct in_addr a)
{
	if (!inet_ntop(AF_INET, &a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* "10.0.2.0/24"; only for a contiguous mask. */
static void fmt_net(char *buf, size_t len, const struct netbe_user_config *cfg)
{
	char ip[INET_ADDRSTRLEN];

	netbe_fmt_ip(ip, sizeof(ip), cfg->net);
	snprintf(buf, len, "%s/%d", ip, __builtin_popcount(ntohl(cfg->mask.s_addr)));
}

__attribute__((warn_unused_result)) static int check_addr(const struct netbe_user_config *cfg,
							  const char *what, struct in_addr a,
							  char *err, size_t errlen)
{
	uint32_t net = ntohl(cfg->net.s_addr), mask = ntohl(cfg->mask.s_addr);
	uint32_t v = ntohl(a.s_addr);
	char ip[INET_ADDRSTRLEN], nw[INET_ADDRSTRLEN + 4];
	const char *why = NULL;

	if ((v & mask) != net)
		why = "is outside";
	else if (v == net)
		why = "is the network address of";
	else if (v == (net | ~mask))
		why = "is the broadcast address of";
	if (!why)
		return 0;
	netbe_fmt_ip(ip, sizeof(ip), a);
	fmt_net(nw, sizeof(nw), cfg);
	return err_set(err, errlen, -EINVAL, "%s=%s %s net=%s", what, ip, why, nw);
}

int netbe_user_config_check(const struct netbe_user_config *cfg, char *err, size_t errlen)
{
	uint32_t mask = ntohl(cfg->mask.s_addr);
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	unsigned int i;
	int ret;

	/* Contiguous: the inverted mask plus one is a power of two. */
	if (!mask || ((~mask + 1) & ~mask)) {
		netbe_fmt_ip(a, sizeof(a), cfg->mask);
		return err_set(err, errlen, -EINVAL, "netmask %s is not a contiguous prefix", a);
	}
	if (ntohl(cfg->net.s_addr) & ~mask) {
		netbe_fmt_ip(a, sizeof(a), cfg->net);
		netbe_fmt_ip(b, sizeof(b), cfg->mask);
		return err_set(err, errlen, -EINVAL, "net=%s has bits outside netmask %s", a, b);
	}
	ret = check_addr(cfg, "host", cfg->host, err, errlen);
	if (!ret)
		ret = check_addr(cfg, "dns", cfg->dns, err, errlen);
	if (!ret)
		ret = check_addr(cfg, "dhcpstart", cfg->dhcp_start, err, errlen);
	if (ret)
		return ret;
	if (cfg->dns.s_addr == cfg->host.s_addr) {
		netbe_fmt_ip(a, sizeof(a), cfg->dns);
		return err_set(err, errlen, -EINVAL, "dns=%s is also the host address", a);
	}
	if (cfg->dhcp_start.s_addr == cfg->host.s_addr ||
	    cfg->dhcp_start.s_addr == cfg->dns.s_addr) {
		bool host = cfg->dhcp_start.s_addr == cfg->host.s_addr;

		netbe_fmt_ip(a, sizeof(a), cfg->dhcp_start);
		return err_set(err, errlen, -EINVAL, "dhcpstart=%s is also the %s address", a,
			       host ? "host" : "dns");
	}
	if (cfg->nfwd > NETBE_MAX_HOSTFWD)
		return err_set(err, errlen, -EINVAL, "%u hostfwd rules (at most %d)", cfg->nfwd,
			       NETBE_MAX_HOSTFWD);
	for (i = 0; i < cfg->nfwd; i++) {
		const struct netbe_hostfwd *f = &cfg->fwd[i];

		if (!f->host_port || !f->guest_port)
			return err_set(err, errlen, -EINVAL, "hostfwd rule %u has port 0", i + 1);
		if (f->guest_addr.s_addr) {
			ret = check_addr(cfg, "hostfwd guest", f->guest_addr, err, errlen);
			if (ret)
				return ret;
		}
	}
	return 0;
}
