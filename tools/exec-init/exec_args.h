/* SPDX-License-Identifier: MIT */
/*
 * The contract between vmm --exec and its guest init (vmm-exec-init.c):
 * what vmm puts on the kernel command line, and the pure helpers both sides
 * use to write and read it. No libc: this file is compiled into the
 * freestanding init as well as into vmm and its unit test.
 *
 * Linux hands every command-line word of the form name=value that it does
 * not know itself (and whose name has no '.') to init as an environment
 * string, so the init finds these in envp:
 *
 *   vmm_exec=<CMD>        the command for /bin/sh -c, percent-encoded: the
 *                         kernel splits its command line at spaces and
 *                         strips double quotes, so every byte outside
 *                         [A-Za-z0-9] and "-_./,:+@" travels as %XX
 *   vmm_root=<tag>        the virtio-9p tag the init mounts read-only as /
 *   vmm_exit_port=<n>     the debug-exit I/O port (decimal): one byte
 *                         written there is vmm's exit status
 */
#ifndef TOOLS_EXEC_INIT_EXEC_ARGS_H
#define TOOLS_EXEC_INIT_EXEC_ARGS_H

#include <stddef.h>

#define EXEC_ARG_CMD		"vmm_exec"
#define EXEC_ARG_ROOT		"vmm_root"
#define EXEC_ARG_EXIT_PORT	"vmm_exit_port"
/* The init's own failure (no 9p root, no /bin/sh to fork): the status
 * `env` and container runtimes use for "the runner failed", apart from
 * the shell's 126 (cannot execute) and 127 (not found). */
#define EXEC_STATUS_INIT_FAILED 125

/* Percent-encode in (a C string) into out. Returns the length written
 * (without the NUL), or -1 if it does not fit in outlen. */
long exec_arg_encode(const char *in, char *out, size_t outlen);

/* Decode s in place. 0, or -1 for a malformed escape or an encoded NUL. */
int exec_arg_decode(char *s);

/* The value of NAME=... in a NULL-terminated environment, or NULL. */
const char *exec_env_get(char *const *envp, const char *name);

/* A decimal port number 1..65535 into *port: 0, or -1. */
int exec_parse_port(const char *s, unsigned int *port);

/* wait4()'s status as an exit status: the code of a normal exit, 128+N for
 * death by signal N (as shells report it). */
int exec_status_from_wait(int wstatus);

#endif /* TOOLS_EXEC_INIT_EXEC_ARGS_H */
