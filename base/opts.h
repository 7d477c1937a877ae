/* SPDX-License-Identifier: MIT */
/*
 * Comma-separated option lists, "key[=value],key[=value]", as QEMU's -drive,
 * -netdev and `qemu-img create -o` write them. One tokenizer for all of
 * them: the command line (vmm/cli*.c), vmm-img's -o (tools/) and the image
 * formats' create options (devices/disk/format.c).
 *
 * Nothing here knows a key: what a key means, and the message for one that
 * is wrong, stay with the caller.
 */
#ifndef BASE_OPTS_H
#define BASE_OPTS_H

#include <stdbool.h>
#include <stddef.h>

/* One item of a list, pointing into it (not NUL-terminated). */
struct opts_span {
	const char *key;
	size_t klen;
	const char *val; /* after the first '=', or NULL when there is none */
	size_t vlen;
};

/*
 * The next item of the list at *s, read without changing it: *s moves past
 * the item and its comma. An empty item (",,", a trailing comma) is returned
 * as one with klen 0, so a caller can refuse it. False at the end of the
 * list (or when *s is NULL).
 */
bool opts_next_span(const char **s, struct opts_span *item);

/*
 * The next non-empty item of the list at *s, split in place: the item is
 * ended with a NUL; when `val` is not NULL the item is also split at its
 * first '=' and *val points past it (NULL when there is no '='). *s moves
 * past the item and its comma (NULL after the last). Empty items are
 * skipped, as strtok_r(s, ",") skips them. Returns the item (its key when
 * split), or NULL at the end.
 */
char *opts_next(char **s, char **val);

#endif /* BASE_OPTS_H */
