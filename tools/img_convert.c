/* SPDX-License-Identifier: MIT */
/*
 * vmm-img convert [-q] [-p] [-c] [-f FMT] [-O FMT] [-o OPTIONS] SRC DST
 *
 * Reads SRC through the block backend (so through its whole backing chain)
 * and writes a new, self-contained DST; all-zero blocks are not written, so
 * the output stays sparse. With -c (qcow2 output) every cluster is written
 * compressed (-o compression_type=zlib|zstd), except those that do not
 * shrink, as qemu-img does. -O vmdk -o subformat=streamOptimized: the
 * grains are written once, in order, compressed (vmdk_stream.c). An
 * existing DST is never overwritten, and a failed conversion leaves nothing
 * under DST's name.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/zero.h"
#include "base/log.h"
#include "devices/disk/disk.h"
#include "devices/disk/format.h"
#include "devices/disk/qcow2.h"
#include "devices/disk/vmdk.h"
#include "tools/img_compress.h"
#include "tools/img_priv.h"
#include "tools/progress.h"

/* Each read is at most this long; this many reads and writes are in
 * flight at once (as qemu-img keeps 8 requests going: on a page-cache miss
 * or a slow device the next chunk is already on its way). */
#define CONVERT_CHUNK	   (2U << 20)
#define CONVERT_SLOTS	   8
#define CONVERT_STATUS_MAX (1ULL << 30)

struct convert_args {
	const char *ofmt, *spath, *dpath;
	struct disk_open_opts sopts;
	struct img_new n; /* -o: a backing file is refused */
	bool force, quiet, help, compress;
};

/* The command line, checked. 0, or 1 after img_fail(). */
static int convert_parse(int argc, char **argv, struct convert_args *a)
{
	struct stat st;
	int c;

	while ((c = getopt(argc, argv, "+qpcf:O:o:h")) != -1) {
		switch (c) {
		case 'q':
			a->quiet = true;
			break;
		case 'p':
			a->force = true;
			break;
		case 'c':
			a->compress = true;
			break;
		case 'f':
			a->sopts.format = optarg;
			break;
		case 'O':
			a->ofmt = optarg;
			break;
		case 'o':
			if (img_parse_o(optarg, &a->n))
				return 1;
			break;
		case 'h':
			a->help = true;
			return 0;
		default:
			return img_fail("convert: bad option (see vmm-img --help)");
		}
	}
	if (a->sopts.format && !img_valid_format(a->sopts.format))
		return img_fail("convert: unknown format '%s'", a->sopts.format);
	if (!img_valid_format(a->ofmt))
		return img_fail("convert: unknown output format '%s'", a->ofmt);
	if (!disk_format_find(a->ofmt)->create)
		return img_fail("convert: vmm-img cannot create %s images", a->ofmt);
	if (a->n.backing)
		return img_fail("convert: backing_file is not supported for the output");
	if (a->compress && strcmp(disk_format_find(a->ofmt)->name, "qcow2"))
		return img_fail("convert: -c (compressed output) needs -O qcow2");
	if (argc - optind != 2)
		return img_fail("convert: expected SRC DST");
	a->spath = argv[optind];
	a->dpath = argv[optind + 1];
	if (lstat(a->dpath, &st) == 0)
		return img_fail("%s: file exists (not overwriting it)", a->dpath);
	return 0;
}

/* The empty output image of `size` bytes, made by its format's driver.
 * *created: DST exists now (and is ours to remove on failure). 0, or 1
 * after img_fail(). */
static int convert_create_dst(const struct convert_args *a, uint64_t size, bool *created)
{
	struct disk_create_opts co = {
		.size = size,
		.options = a->n.rest[0] ? a->n.rest : NULL,
	};
	char err[ERRLEN];

	if (disk_format_find(a->ofmt)->create(a->dpath, &co, err, sizeof(err)) < 0)
		return img_fail("%s", err);
	*created = true;
	return 0;
}

/* The block size the copy writes in: the output's write unit (whole
 * clusters of qcow2, QED, VMDK: a write never fills the rest of a cluster
 * with zeros, and an all-zero cluster stays unallocated), else 4 KiB (a
 * VHD/VHDX/VDI block is allocated by any write to it, and the zeros inside
 * it are holes: writing them would only cost time). */
static uint64_t convert_granularity(struct disk *dst)
{
	const struct disk_format *f = disk_format_find(dst->format);
	struct disk_info info = { 0 };

	if (f->info)
		f->info(dst, &info);
	return info.write_unit ? info.write_unit : 4096;
}

struct convert;

/* One chunk on its way: read from the source, then written to the
 * destination one run of non-zero blocks at a time. */
struct convert_slot {
	struct convert *cv;
	uint8_t *buf;
	uint64_t off; /* guest offset of buf[0] */
	size_t len;   /* 0: the slot is free */
	size_t pos;   /* what of buf is written or skipped */
	struct disk_req req;
	struct iovec iov;
	/* -c: the chunk's clusters, compressed on a worker thread */
	struct img_compress_job job;
};

struct convert {
	struct disk *src, *dst;
	uint64_t gran;			/* zero detection and write unit (the output's cluster) */
	struct img_compress_pool *pool; /* -c, else NULL */
	uint64_t next;			/* the source is scheduled up to here */
	/* The last block status answer, reused while `next` is inside it. */
	uint64_t st_off, st_n;
	enum disk_status st_kind;
	unsigned int busy; /* slots in use */
	int ret;	   /* the first error (and err says which) */
	char *err;
	size_t errlen;
	struct convert_slot slot[CONVERT_SLOTS];
};

/*
 * A driver explains a bad table entry in a warning (a running guest gets
 * that line in vmm's log). During the copy the warnings are kept here
 * instead: a failure folds the last one into its single error line, a
 * success prints them as they were.
 */
#define CONVERT_WARNINGS 8
static struct {
	char line[CONVERT_WARNINGS][256];
	unsigned int n; /* seen; the first CONVERT_WARNINGS kept */
} warnings;

static void keep_warning(enum log_level level, const char *line)
{
	(void)level;
	if (warnings.n < CONVERT_WARNINGS)
		snprintf(warnings.line[warnings.n], sizeof(warnings.line[0]), "%s", line);
	warnings.n++;
}

static void print_warnings(void)
{
	for (unsigned int i = 0; i < warnings.n && i < CONVERT_WARNINGS; i++)
		log_warn("%s", warnings.line[i]);
	if (warnings.n > CONVERT_WARNINGS)
		log_warn("%u more warnings", warnings.n - CONVERT_WARNINGS);
}

static void convert_fail(struct convert *cv, int ret, struct disk *d, const char *what,
			 uint64_t off)
{
	unsigned int last = warnings.n < CONVERT_WARNINGS ? warnings.n : CONVERT_WARNINGS;

	if (cv->ret == 0 && last) /* the driver's reason, already naming the file */
		err_set(cv->err, cv->errlen, ret, "%s (%s at %llu)", warnings.line[last - 1], what,
			(unsigned long long)off);
	else if (cv->ret == 0)
		err_set(cv->err, cv->errlen, ret, "%s: %s at %llu: %s", d->path, what,
			(unsigned long long)off, strerror(-ret));
	cv->ret = cv->ret ?: ret;
}

static void slot_release(struct convert_slot *s)
{
	s->len = 0;
	s->cv->busy--;
}

/* The bytes of the block starting at buf[i]: up to the next multiple of
 * gran in guest offsets, or the end of the chunk. */
static size_t block_len(const struct convert_slot *s, size_t i)
{
	uint64_t gran = s->cv->gran, n = gran - (s->off + i) % gran;

	return n < s->len - i ? (size_t)n : s->len - i;
}

/* The next run of non-zero blocks at or after s->pos, as [*start, s->pos);
 * false if only zeros are left. */
static bool next_run(struct convert_slot *s, size_t *start)
{
	size_t i = s->pos, n;

	for (; i < s->len; i += n) {
		n = block_len(s, i);
		if (!buf_is_zero(s->buf + i, n))
			break;
	}
	for (*start = i; i < s->len; i += n) {
		n = block_len(s, i);
		if (buf_is_zero(s->buf + i, n))
			break;
	}
	s->pos = i;
	return i > *start;
}

static void slot_write_done(struct disk_req *req, int ret);

/* Write the slot's next non-zero run (asynchronously); free the slot when
 * nothing is left. */
static void slot_write_next(struct convert_slot *s)
{
	struct convert *cv = s->cv;
	size_t start;
	int ret;

	if (cv->ret == 0 && next_run(s, &start)) {
		s->iov = (struct iovec){ .iov_base = s->buf + start, .iov_len = s->pos - start };
		s->req = (struct disk_req){ .op = DISK_WRITE,
					    .offset = s->off + start,
					    .len = s->pos - start,
					    .iov = &s->iov,
					    .iovcnt = 1,
					    .done = slot_write_done,
					    .opaque = s };
		ret = disk_submit(cv->dst, &s->req);
		if (ret == 0)
			return; /* slot_write_done goes on */
		convert_fail(cv, ret, cv->dst, "write", s->off + start);
	}
	slot_release(s);
}

/* -c: a chunk's clusters came back compressed; place them in the image
 * (synchronously: the image's metadata is this thread's). */
static void slot_place_compressed(struct convert_slot *s)
{
	struct convert *cv = s->cv;
	size_t k = 0;
	int ret = s->job.ret;

	if (ret)
		convert_fail(cv, ret, cv->dst, "compress", s->off);
	for (size_t i = 0; i < s->len && cv->ret == 0; i += cv->gran, k++) {
		if (s->job.clen[k] == IMG_COMPRESS_ZERO)
			continue;
		ret = qcow2_write_compressed_buf(cv->dst, s->off + i, s->job.out + i,
						 s->job.clen[k]);
		if (ret)
			convert_fail(cv, ret, cv->dst, "write", s->off + i);
	}
	slot_release(s);
}

static void slot_write_done(struct disk_req *req, int ret)
{
	struct convert_slot *s = req->opaque;

	if (ret)
		convert_fail(s->cv, ret, s->cv->dst, "write", req->offset);
	slot_write_next(s);
}

static void slot_read_done(struct disk_req *req, int ret)
{
	struct convert_slot *s = req->opaque;

	if (ret) {
		convert_fail(s->cv, ret, s->cv->src, "read", req->offset);
		slot_release(s);
		return;
	}
	s->pos = 0;
	if (!s->cv->pool) {
		slot_write_next(s);
		return;
	}
	s->job.dst = s->cv->dst;
	s->job.in = s->buf;
	s->job.len = s->len;
	s->job.opaque = s;
	img_compress_submit(s->cv->pool, &s->job);
}

/* The next stretch of the source that may hold data, skipping what block
 * status says reads as zeros (a new image reads as zeros already): false
 * at the end. */
static bool convert_find_data(struct convert *cv)
{
	while (cv->next < cv->src->size && cv->ret == 0) {
		uint64_t n;
		int ret;

		if (cv->next < cv->st_off || cv->next >= cv->st_off + cv->st_n) {
			/* At most 1 GiB per question: a driver walks its tables
			 * to answer, and those tables are read again later. */
			uint64_t len = cv->src->size - cv->next < CONVERT_STATUS_MAX
					       ? cv->src->size - cv->next
					       : CONVERT_STATUS_MAX;

			ret = disk_block_status(cv->src, cv->next, len, &cv->st_kind, &n);
			if (ret) {
				convert_fail(cv, ret, cv->src, "block status", cv->next);
				return false;
			}
			cv->st_off = cv->next;
			cv->st_n = n;
		}
		if (cv->st_kind == DISK_STATUS_DATA)
			return true;
		cv->next = cv->st_off + cv->st_n;
	}
	return false;
}

/* Read the next data chunk into a free slot: whole blocks (a write never
 * covers part of an output cluster), at most CONVERT_CHUNK. */
static void convert_schedule(struct convert *cv, struct convert_slot *s)
{
	uint64_t align = cv->gran < CONVERT_CHUNK ? cv->gran : CONVERT_CHUNK;
	uint64_t start = cv->next - cv->next % align, end;
	int ret;

	/* The rounded-down start was never scheduled: the previous chunk
	 * ended on a block boundary or at cv->next, and zeros skipped are
	 * read again at worst. */
	end = cv->st_off + cv->st_n;
	end = end + (align - end % align) % align;
	if (end > start + CONVERT_CHUNK)
		end = start + CONVERT_CHUNK;
	if (end > cv->src->size)
		end = cv->src->size;
	s->off = start;
	s->len = (size_t)(end - start);
	s->iov = (struct iovec){ .iov_base = s->buf, .iov_len = s->len };
	s->req = (struct disk_req){ .op = DISK_READ,
				    .offset = start,
				    .len = s->len,
				    .iov = &s->iov,
				    .iovcnt = 1,
				    .done = slot_read_done,
				    .opaque = s };
	cv->busy++;
	cv->next = end;
	ret = disk_submit(cv->src, &s->req);
	if (ret) {
		convert_fail(cv, ret, cv->src, "read", start);
		slot_release(s);
	}
}

/* Run completions of both disks (and of the compressing threads). */
static int convert_wait(struct convert *cv)
{
	struct pollfd p[3] = {
		{ .fd = disk_event_fd(cv->src), .events = POLLIN },
		{ .fd = disk_event_fd(cv->dst), .events = POLLIN },
		{ .fd = cv->pool ? img_compress_fd(cv->pool) : -1, .events = POLLIN },
	};
	struct img_compress_job *j;

	if (poll(p, 3, -1) < 0 && errno != EINTR)
		return -errno;
	disk_process(cv->src);
	disk_process(cv->dst);
	while (cv->pool && (j = img_compress_done(cv->pool)))
		slot_place_compressed(j->opaque);
	return 0;
}

/* The slots' buffers: 2 MiB each, and with -c room for the compressed
 * clusters (a chunk plus one cluster) and their sizes. */
static int convert_alloc(struct convert *cv)
{
	size_t nclusters = CONVERT_CHUNK / cv->gran + 1;

	for (unsigned int i = 0; i < CONVERT_SLOTS; i++) {
		struct convert_slot *s = &cv->slot[i];

		s->cv = cv;
		if (posix_memalign((void **)&s->buf, 4096, CONVERT_CHUNK))
			return -ENOMEM;
		if (!cv->pool)
			continue;
		s->job.out = malloc(CONVERT_CHUNK + cv->gran);
		s->job.clen = calloc(nclusters, sizeof(*s->job.clen));
		if (!s->job.out || !s->job.clen)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Copy [0, src->size): chunks that block status says may hold data are
 * read, CONVERT_SLOTS at a time, and only their runs of `gran`-sized blocks
 * that are not all zero are written: the output stays sparse.
 */
static int convert_copy(struct disk *src, struct disk *dst, uint64_t gran, bool compress, bool show,
			char *err, size_t errlen)
{
	struct convert *cv = calloc(1, sizeof(*cv));
	struct progress bar;
	int ret = 0;

	if (!cv)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	*cv = (struct convert){
		.src = src, .dst = dst, .gran = gran, .err = err, .errlen = errlen
	};
	if (compress) {
		ret = img_compress_start(&cv->pool);
		if (ret) {
			err_set(err, errlen, ret, "cannot start compressing threads: %s",
				strerror(-ret));
			goto out;
		}
	}
	ret = convert_alloc(cv);
	if (ret) {
		err_set(err, errlen, ret, "out of memory");
		goto out;
	}
	progress_init(&bar, show);
	warnings.n = 0;
	log_set_sink(keep_warning);
	for (;;) {
		for (unsigned int i = 0; i < CONVERT_SLOTS; i++)
			if (cv->slot[i].len == 0 && convert_find_data(cv))
				convert_schedule(cv, &cv->slot[i]);
		progress_update(&bar, cv->next, src->size);
		if (cv->busy == 0)
			break;
		ret = convert_wait(cv);
		if (ret) {
			convert_fail(cv, ret, src, "poll", cv->next);
			disk_drain(src);
			disk_drain(dst);
			break;
		}
	}
	log_set_sink(NULL);
	ret = cv->ret;
	if (ret == 0) {
		if (warnings.n) {
			progress_hide(&bar);
			print_warnings();
		}
		ret = disk_flush(dst);
		if (ret < 0)
			err_set(err, errlen, ret, "%s: flush: %s", dst->path, strerror(-ret));
	}
	if (ret == 0)
		progress_finish(&bar);
	else
		progress_hide(&bar);
out:
	if (cv->pool) /* before the buffers its threads may still use */
		img_compress_stop(cv->pool);
	for (unsigned int i = 0; i < CONVERT_SLOTS; i++) {
		free(cv->slot[i].buf);
		free(cv->slot[i].job.out);
		free(cv->slot[i].job.clen);
	}
	free(cv);
	return ret;
}

/* -O vmdk -o subformat=streamOptimized: the driver keeps such images
 * read-only, so they are written through vmdk_stream.c instead. */
static bool convert_is_stream(const struct convert_args *a)
{
	char sub[32];

	return !strcmp(disk_format_find(a->ofmt)->name, "vmdk") &&
	       disk_opts_get(a->n.rest, "subformat", sub, sizeof(sub)) &&
	       !strcmp(sub, "streamOptimized");
}

/* The source into the VMDK stream, in order (a stream's grains are
 * written once, in increasing order): what block status says reads as
 * zeros is skipped, the rest read a chunk at a time (grains are at most
 * CONVERT_CHUNK, powers of two: a chunk is whole grains but at the end).
 * 0, or -errno with err set. */
static int convert_stream_copy(struct disk *src, struct vmdk_stream *vs, const char *dpath,
			       bool show, uint8_t *buf, char *err, size_t errlen)
{
	uint64_t grain = vmdk_stream_grain(vs), off = 0;
	struct progress bar;
	int ret = 0;

	progress_init(&bar, show);
	while (off < src->size && ret == 0) {
		enum disk_status kind;
		uint64_t n, len;

		/* One chunk's worth: the answer is used for the next chunk only,
		 * and a driver walks its tables as far as it is asked. */
		n = src->size - off < CONVERT_CHUNK ? src->size - off : CONVERT_CHUNK;
		ret = disk_block_status(src, off, n, &kind, &n);
		if (ret) {
			err_set(err, errlen, ret, "%s: block status at %llu: %s", src->path,
				(unsigned long long)off, strerror(-ret));
			break;
		}
		if (kind != DISK_STATUS_DATA &&
		    (off + n == src->size || (off + n) / grain * grain > off)) {
			off = off + n == src->size ? off + n : (off + n) / grain * grain;
			continue;
		}
		len = src->size - off < CONVERT_CHUNK ? src->size - off : CONVERT_CHUNK;
		ret = disk_pread(src, buf, len, off);
		if (ret) {
			err_set(err, errlen, ret, "%s: read at %llu: %s", src->path,
				(unsigned long long)off, strerror(-ret));
			break;
		}
		ret = vmdk_stream_write(vs, off, buf, len);
		if (ret)
			err_set(err, errlen, ret, "%s: write at %llu: %s", dpath,
				(unsigned long long)off, strerror(-ret));
		off += len;
		progress_update(&bar, off, src->size);
	}
	if (ret == 0)
		progress_finish(&bar);
	else
		progress_hide(&bar);
	return ret;
}

/* Into the empty stream image create made. 0, or 1 after img_fail(). */
static int convert_stream(const struct convert_args *a, struct disk *src)
{
	struct vmdk_stream *vs;
	char err[ERRLEN], cerr[ERRLEN];
	uint8_t *buf = NULL; /* posix_memalign leaves it so on failure */
	int ret;

	if (vmdk_stream_open(a->dpath, &vs, err, sizeof(err)) < 0)
		return img_fail("%s", err);
	if (posix_memalign((void **)&buf, 4096, CONVERT_CHUNK))
		ret = err_set(err, sizeof(err), -ENOMEM, "out of memory");
	else
		ret = convert_stream_copy(src, vs, a->dpath,
					  !a->quiet && progress_wanted(a->force, src->size), buf,
					  err, sizeof(err));
	free(buf);
	if (vmdk_stream_close(vs, ret == 0, cerr, sizeof(cerr)) < 0 && ret == 0)
		return img_fail("%s", cerr);
	return ret < 0 ? img_fail("%s", err) : 0;
}

int cmd_convert(int argc, char **argv)
{
	struct convert_args a = { .ofmt = "raw", .sopts = { .readonly = true } };
	struct disk_open_opts dopts = { 0 };
	struct disk *src = NULL, *dst = NULL;
	uint64_t gran;
	bool created = false;
	char err[ERRLEN];
	int ret;

	ret = convert_parse(argc, argv, &a);
	if (ret)
		return ret;
	if (a.help)
		return img_usage(stdout), 0;
	if (disk_open(a.spath, &a.sopts, &src, err, sizeof(err)) < 0)
		return img_fail("%s", err);
	ret = convert_create_dst(&a, src->size, &created);
	if (ret)
		goto out;
	ret = 1;
	if (convert_is_stream(&a)) {
		ret = convert_stream(&a, src);
		goto out;
	}
	dopts.format = a.ofmt;
	/* Nothing uses the output before it is complete (and it is removed
	 * if the copy fails): no ordering flushes, one at the end. */
	dopts.unsafe = true;
	if (disk_open(a.dpath, &dopts, &dst, err, sizeof(err)) < 0) {
		img_fail("%s", err);
		goto out;
	}
	gran = convert_granularity(dst);
	if (convert_copy(src, dst, gran, a.compress,
			 !a.quiet && progress_wanted(a.force, src->size), err, sizeof(err)) < 0) {
		img_fail("%s", err);
		goto out;
	}
	ret = 0;
out:
	if (dst)
		disk_close(dst);
	disk_close(src);
	/* Nothing half-written is left behind under the output's name. */
	if (ret && created)
		unlink(a.dpath);
	return ret;
}
