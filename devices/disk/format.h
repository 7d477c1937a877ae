/* SPDX-License-Identifier: MIT */
/*
 * Image format drivers: one `struct disk_format` per format, listed in
 * disk_formats[] (format.c). disk.c opens, probes and guards images through
 * this table only; vmm-img creates, checks and describes images through it.
 * Adding a format is one file (or folder of files) defining its table entry,
 * plus one line in format.c.
 *
 * Every header and table parser a driver has is a pure function of bytes
 * (easy to fuzz: tests/fuzz/), separate from the code doing file I/O.
 */
#ifndef VMM_DEVICES_DISK_FORMAT_H
#define VMM_DEVICES_DISK_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/disk/disk.h"

/* How many bytes probing reads from the start of a file (disk.c). */
#define DISK_PROBE_LEN 4096

/* What `vmm-img create` (and `convert -O`) ask a driver for. */
struct disk_create_opts {
	uint64_t size;		    /* virtual size, bytes; 0 with a backing file = its size */
	const char *backing_file;   /* NULL for none; stored as given */
	const char *backing_format; /* NULL: not recorded */
	/* qemu-img's -o string minus size/backing_file/backing_fmt, e.g.
	 * "subformat=dynamic,block_size=2M", or NULL. The driver reads its own
	 * keys with disk_opts_get() and refuses any key it does not know
	 * (disk_opts_check) with one line naming it. */
	const char *options;
};

/* The value of `key` in a "k=v,k=v" string, copied into out; true if
 * present. A key with no '=' has the value "on". */
bool disk_opts_get(const char *options, const char *key, char *out, size_t outlen);
/* 0 if every key in `options` is one of the NULL-terminated `known`; else
 * -EINVAL with "FORMAT does not support option 'KEY'" in err. */
int disk_opts_check(const char *options, const char *format, const char *const *known, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* A new image file at `path` (which must not exist): `len` bytes of `buf`
 * at offset 0, the file extended to `size` bytes if that is more (a hole:
 * zeros), synced. 0, or -errno with "PATH: ..." in err and no file left. */
int disk_create_file(const char *path, const void *buf, size_t len, uint64_t size, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* The result of a consistency check (`vmm-img check`), as qemu-img reports it. */
struct disk_check_result {
	uint64_t corruptions; /* data at risk */
	uint64_t leaks;	      /* space wasted only */
	uint64_t corruptions_fixed;
	uint64_t leaks_fixed;
	uint64_t check_errors;	     /* the check itself could not read something */
	uint64_t allocated_clusters; /* guest data clusters/blocks/grains allocated */
	uint64_t total_clusters;     /* in the virtual size */
	uint64_t image_end_offset;   /* end of the last used byte; 0 if not known */
};

enum disk_repair {
	DISK_REPAIR_NONE,
	DISK_REPAIR_LEAKS, /* only what wastes space */
	DISK_REPAIR_ALL,
};

struct disk_check_opts {
	enum disk_repair repair;
	void (*progress)(void *opaque, uint64_t done, uint64_t total); /* may be NULL */
	/* One line per problem, no newline, e.g. "Leaked cluster 7 refcount=2
	 * reference=1" (may be NULL). */
	void (*report)(void *opaque, const char *line);
	void *opaque;
};
/* One problem line through o->report (if set), formatted. */
void disk_check_report(const struct disk_check_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Key/value pairs for `vmm-img info`'s "Format specific information"
 * (human) and "format-specific": {"type": NAME, "data": {...}} (JSON). */
#define DISK_INFO_MAX 16
struct disk_info {
	const char *subformat; /* "dynamic", "monolithicSparse", ... or NULL */
	uint64_t cluster_size; /* 0: the format has none */
	/* What a write should cover not to cost more than its own bytes: a
	 * write to part of an unallocated cluster fills the rest (qcow2, QED,
	 * VMDK grains), so whole clusters; 0 where a new block reads as zeros
	 * without being written (VHD, VHDX, VDI: their blocks are holes until
	 * written) and any sector-aligned write is as cheap. vmm-img convert
	 * writes in these units. */
	uint64_t write_unit;
	bool dirty; /* reported as "dirty-flag" */
	/* The file the image names for its unallocated data, as recorded, and
	 * its recorded format ("" for none). */
	char backing_file[1024];
	char backing_format[32];
	unsigned int n;
	struct {
		char key[32];
		char value[256];
		bool is_number; /* JSON: emit unquoted (numbers, true/false) */
	} kv[DISK_INFO_MAX];
};
/* Append one pair (silently dropped past DISK_INFO_MAX). */
void disk_info_add(struct disk_info *info, const char *key, bool is_number, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

struct disk_format {
	const char *name;  /* qemu-img's name: "raw", "qcow2", "vpc", "vdi", ... */
	const char *alias; /* another accepted name ("vhd" for vpc), or NULL */
	/*
	 * How sure the format is that these first bytes (at most
	 * DISK_PROBE_LEN, fewer for a short file) are its image: 0 (not
	 * mine) .. 100. The highest score wins; raw (score 1) is the fallback.
	 * Pure; NULL for raw.
	 */
	int (*probe)(const uint8_t *buf, size_t len);
	/*
	 * true if an image of this format can name other files (backing files,
	 * parents, extents). A file named inside an image whose format the
	 * image does not record may only be probed as raw or as a format with
	 * names_files false (disk_open_backing), so a chain cannot be steered
	 * to arbitrary host files.
	 */
	bool names_files;
	/*
	 * Open `fd` (read-write unless d->readonly) as this format. `d` has
	 * path, readonly, engine and alignment filled in; the driver sets ops,
	 * format (= name), size, can_discard, priv (and backing). `fd` belongs
	 * to the driver from then on (it closes it in ops->close, or on
	 * failure). `depth` is the image's place in a backing chain (0 = top);
	 * files it names are opened with disk_open_backing(..., depth + 1).
	 */
	int (*open)(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
		    char *err, size_t errlen);
	/* vmm-img create. NULL: cannot create. */
	int (*create)(const char *path, const struct disk_create_opts *o, char *err, size_t errlen);
	/* vmm-img check. NULL: the format has no checks (exit 63). */
	int (*check)(const char *path, const struct disk_check_opts *o, struct disk_check_result *r,
		     char *err, size_t errlen);
	/* vmm-img info on an open image. NULL: nothing format specific. */
	void (*info)(struct disk *d, struct disk_info *out);
	/* Every file this image opened besides its own path and its backing
	 * file (VMDK extents), for a sandbox's list of allowed files. NULL:
	 * none. */
	void (*list_files)(struct disk *d, void (*fn)(void *opaque, const char *path),
			   void *opaque);
};

/* NULL-terminated, in probing order. */
extern const struct disk_format *const disk_formats[];

/* The driver named `name` (or aliased), or NULL. */
const struct disk_format *disk_format_find(const char *name);
/* The driver whose probe scores highest on buf (raw if none). */
const struct disk_format *disk_format_probe(const uint8_t *buf, size_t len);
/*
 * The driver for `path` by disk_open's rule, without opening the image (for
 * vmm-img check, whose image may be too damaged to open): what its first
 * bytes probe as, or `format` (NULL: probe) if they do not say otherwise.
 * 0, or -errno with `err` set.
 */
int disk_probe_file(const char *path, const char *format, const struct disk_format **out, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

#endif /* VMM_DEVICES_DISK_FORMAT_H */
