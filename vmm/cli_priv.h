/* SPDX-License-Identifier: MIT */
/* Helpers shared by the command-line parsers (cli.c, cli_net.c). */
#ifndef VMM_CLI_PRIV_H
#define VMM_CLI_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "on"/"off" style option values; a missing value (NULL) means on. */
int cli_parse_bool(const char *v, bool *out) __attribute__((warn_unused_result));
/* A decimal number in 0..max. */
int cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
	__attribute__((warn_unused_result));

/* "PATH[,options]" (--disk, --share): a copy of arg (*copy, free it) ended
 * after PATH, which is not empty, and *rest its options for opts_next()
 * (NULL: none). The error names `flag` and `what` PATH is. */
int cli_split_path(const char *arg, const char *flag, const char *what, char **copy, char **rest,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

/* A TCP/UDP port, 1..65535. 0 or -EINVAL. */
int cli_parse_port(const char *s, uint16_t *port) __attribute__((warn_unused_result));

/* --net stream / dgram / socket (cli_net_sock.c). What the options said
 * so far, beyond the config itself: */
struct cli_net;
struct cli_sock_state {
	bool legacy;   /* --net socket: listen=/connect=/mcast=/udp= pick the kind */
	bool kind_set; /* ... and one of them was given */
	bool addr_host, local_host, remote_host; /* a host was given (else loopback) */
};
/* 0 and n->kind set if kind is stream, dgram or socket; -ENOENT if not. */
int cli_sock_kind(const char *kind, struct cli_net *n, struct cli_sock_state *st);
/* One option (not mac=); 0 or -errno, err filled when there is more to
 * say than "bad value". */
int cli_sock_opt(struct cli_net *n, struct cli_sock_state *st, const char *opt, const char *val,
		 char *err, size_t errlen) __attribute__((warn_unused_result));
/* After the last option: what is missing or contradictory. */
int cli_sock_finish(struct cli_net *n, struct cli_sock_state *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* --jail and the limits (cli_jail.c): their getopt values, after cli.c's. */
enum {
	OPT_JAIL = 512,
	OPT_JAIL_USER,
	OPT_CPU_LIMIT,
	OPT_MEM_LIMIT,
	OPT_IO_LIMIT,
	OPT_CGROUP_PARENT,
	OPT_CGROUP_VERSION,
	OPT_CPU_AFFINITY,
};
#define CLI_JAIL_LONG_OPTS                                                         \
	{ "jail", no_argument, NULL, OPT_JAIL },                                   \
		{ "jail-user", required_argument, NULL, OPT_JAIL_USER },           \
		{ "cpu-limit", required_argument, NULL, OPT_CPU_LIMIT },           \
		{ "mem-limit", required_argument, NULL, OPT_MEM_LIMIT },           \
		{ "io-limit", required_argument, NULL, OPT_IO_LIMIT },             \
		{ "cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT },   \
		{ "cgroup-version", required_argument, NULL, OPT_CGROUP_VERSION }, \
		{ "cpu-affinity", required_argument, NULL, OPT_CPU_AFFINITY },
struct jail_config;
struct vmm_config;
/* One of the options above into j; -ENOENT if opt is not one of them. */
int cli_jail_opt(int opt, const char *arg, struct jail_config *j, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The jail options against the rest of the configuration. */
int cli_jail_check(const struct vmm_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* --sandbox=on|off|log and --landlock-rules (cli_sandbox.c). */
int cli_parse_sandbox(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int cli_add_landlock_rule(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* VMM_CLI_PRIV_H */
