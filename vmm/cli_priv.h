/* SPDX-License-Identifier: MIT */
/* Helpers shared by the command-line parsers (cli.c, cli_net.c). */
#ifndef VMM_CLI_PRIV_H
#define VMM_CLI_PRIV_H

#include <stdbool.h>
#include <stddef.h>

/* "on"/"off" style option values; a missing value (NULL) means on. */
int cli_parse_bool(const char *v, bool *out) __attribute__((warn_unused_result));
/* A decimal number in 0..max. */
int cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
	__attribute__((warn_unused_result));

#endif /* VMM_CLI_PRIV_H */
