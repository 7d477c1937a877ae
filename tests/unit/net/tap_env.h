/* SPDX-License-Identifier: MIT */
/*
 * test_tap.c's environment: the private network and mount namespaces made
 * once in main(), and the ioctl and /proc helpers the tests use to look at
 * the kernel's side of a tap.
 */
#ifndef VMM_TESTS_TAP_ENV_H
#define VMM_TESTS_TAP_ENV_H

#include <stdbool.h>
#include <stdint.h>

#define HOST_IP 0xc0a84d01u /* 192.168.77.1: the tap's kernel side */

/* What main() found: whether the private namespaces could be made. */
struct env {
	bool ok;
	char reason[160];
};

/* Before any test, in main(): unshare the namespaces, or say why not. */
void te_env_init(struct env *e);
/* Skip the running test, printing the reason, when e is not usable. */
void te_require_env(const struct env *e);
/* Whether this process has CAP_NET_ADMIN in its effective set. */
bool te_have_cap_net_admin(void);
/* How many file descriptors the process has open (for leak checks). */
int te_open_fds(void);
/* SIOCGIFFLAGS of the interface `name`. */
short te_if_flags(const char *name);
/* 192.168.77.1/24 on the tap's host side */
void te_set_host_addr(const char *name);
/* The ethtool value `cmd` (ETHTOOL_GTSO, ETHTOOL_GTXCSUM...) of `name`. */
uint32_t te_ethtool_get(const char *name, uint32_t cmd);
/* User + system CPU time of this process in microseconds. */
long te_cpu_us(void);

#endif
