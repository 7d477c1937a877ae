/* SPDX-License-Identifier: MIT */
/*
 * Between the parts of vmm-img:
 *   vmm-img.c      main: usage and the dispatch to a subcommand
 *   img_util.c     what several subcommands share: the one-line failure,
 *                  sizes, -o options, reading an image's header, JSON strings
 *   img_create.c   create
 *   img_info.c     info
 *   img_check.c    check
 *   img_convert.c  convert
 *   img_compare.c  compare
 * A subcommand takes (argc, argv) with its own name as argv[0] and returns
 * the process exit status.
 */
#ifndef VMM_TOOLS_IMG_PRIV_H
#define VMM_TOOLS_IMG_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/disk/format.h"

#define ERRLEN 512

/* What `info`, `check` and `create -b` need to know about one image. */
struct img {
	char path[PATH_MAX];
	const char *format; /* the driver's name */
	bool format_probed; /* no -f given: found by probing */
	uint64_t vsize;
	uint64_t actual;	     /* allocated bytes, from st_blocks */
	struct disk_info info;	     /* the driver's: cluster size, backing file, ... */
	char backing_path[PATH_MAX]; /* the backing file relative to this image */
};

/* vmm-img.c */
void img_usage(FILE *f);

/* img_util.c */
/* One line on stderr ("vmm-img: ..."); returns 1, the exit status for errors. */
int img_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* SIZE with an optional k/M/G/T/P/E suffix (powers of 1024); 0 or -EINVAL. */
int img_parse_size(const char *s, uint64_t *out) __attribute__((warn_unused_result));
/* How a new image is to be made: qemu-img's -o (and create's -b and -F). */
struct img_new {
	const char *backing, *backing_fmt;
	char rest[1024];  /* the other -o options, for the format's driver */
	char copy[1024];  /* the -o strings, which backing and backing_fmt point into */
	size_t copy_used; /* each -o's string ends with its NUL */
};
/* One -o "k=v,..." into `n` (several -o add up). 0, or 1 after img_fail(). */
int img_parse_o(const char *arg, struct img_new *n) __attribute__((warn_unused_result));
bool img_valid_format(const char *f);
/* "--output=human|json": false for anything else. */
bool img_output_json(const char *arg, bool *json);
/* Open an image read-only without its backing chain (format `fmt`, NULL:
 * probe) and read what `info` shows; 0, or -errno with `err` set. */
int img_read(const char *path, const char *fmt, struct img *im, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* `s` as a JSON string literal on stdout. */
void img_json_str(const char *s);

/* One file per subcommand. */
int cmd_create(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_compare(int argc, char **argv);

#endif /* VMM_TOOLS_IMG_PRIV_H */
