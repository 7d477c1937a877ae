// SPDX-License-Identifier: MIT
/* See exec_args.h. Freestanding: no libc calls. */
#include "exec_args.h"

static int is_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '/' || c == ',' || c == ':' || c == '+' ||
	       c == '@';
}

long exec_arg_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;

		if (is_plain(c)) {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = (char)c;
		} else {
			if (n + 3 >= outlen)
				return -1;
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= outlen)
		return -1;
	out[n] = '\0';
	return (long)n;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int exec_arg_decode(char *s)
{
	char *w = s;

	while (*s) {
		if (*s == '%') {
			int hi = hex_value(s[1]), lo = hi < 0 ? -1 : hex_value(s[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*w++ = (char)(hi << 4 | lo);
			s += 3;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
	return 0;
}

const char *exec_env_get(char *const *envp, const char *name)
{
	for (; envp && *envp; envp++) {
		const char *e = *envp, *n = name;

		while (*n && *e == *n) {
			e++;
			n++;
		}
		if (!*n && *e == '=')
			return e + 1;
	}
	return (const char *)0;
}

int exec_parse_port(const char *s, unsigned int *port)
{
	unsigned int v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned int)(*s - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*port = v;
	return 0;
}

int exec_status_from_wait(int wstatus)
{
	/* The encoding of <sys/wait.h>, spelled out: low 7 bits the signal
	 * (0: a normal exit, whose code is bits 8-15). */
	if ((wstatus & 0x7f) == 0)
		return (wstatus >> 8) & 0xff;
	return 128 + (wstatus & 0x7f);
}
