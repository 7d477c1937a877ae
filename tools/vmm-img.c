/* SPDX-License-Identifier: MIT */
/*
 * vmm-img: create, inspect, check and convert disk images for vmm.
 *
 * The command line follows qemu-img where the two overlap, so that what
 * users know carries over:
 *   vmm-img create -f qcow2 disk.qcow2 20G
 *   vmm-img create -f qcow2 -b base.qcow2 overlay.qcow2
 *   vmm-img info [--output=json] [--backing-chain] disk.qcow2
 *   vmm-img check [-r leaks|all] disk.qcow2   (exit 0 clean, 2 corrupt, 3 leaks, 1 error)
 *   vmm-img convert [-p] -O raw disk.qcow2 disk.raw
 * Every failure is one line on stderr naming the file, and exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/qcow2.h"
#include "tools/progress.h"

#define ERRLEN		       512
#define MAX_CHAIN	       16 /* longest backing chain `info --backing-chain` follows */
#define CONVERT_CHUNK	       (2U << 20)
#define MAX_REPORTED	       100 /* problem lines `check` prints before summarising */
#define EXIT_CHECK_UNSUPPORTED 63  /* qemu-img's status for "format has no checks" */

static void usage(FILE *f)
{
	fputs("usage: vmm-img COMMAND [options]\n"
	      "\n"
	      "  create [-q] [-f raw|qcow2] [-b BACKING [-F FMT]] [-o cluster_size=N] FILE [SIZE]\n"
	      "      new image; qcow2 with -b and no SIZE takes the backing file's size\n"
	      "  info [-f FMT] [--output=human|json] [--backing-chain] FILE\n"
	      "  check [-q] [-p] [-f FMT] [-r leaks|all] [--output=human|json] FILE\n"
	      "      exit status: 0 clean, 2 corruptions, 3 leaked clusters only,\n"
	      "      1 the check could not run, 63 the format has no checks (raw)\n"
	      "  convert [-q] [-p] [-f FMT] [-O raw|qcow2] [-o cluster_size=N] SRC DST\n"
	      "      copy through the backing chain; all-zero blocks are not written\n"
	      "\n"
	      "SIZE takes a suffix k, M, G, T, P or E (powers of 1024).\n"
	      "A progress bar (-p forces it) is shown on a terminal for large images.\n"
	      "  --help, --version\n",
	      f);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr; returns the exit status for errors. */
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("vmm-img: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgtpe";
	unsigned long long v;
	const char *u;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		char c = (char)(*end | 0x20);

		u = c ? strchr(units, c) : NULL;
		if (!u || (end[1] && !(end[1] == 'B' && !end[2])))
			return -EINVAL;
		for (long i = 0; i <= u - units; i++) {
			if (__builtin_mul_overflow(v, 1024ULL, &v))
				return -EINVAL;
		}
	}
	*out = v;
	return 0;
}

/* "-o cluster_size=N[,backing_file=F][,backing_fmt=X]" (qemu-img's -o). */
static int parse_o(const char *arg, uint64_t *cluster_size, const char **backing,
		   const char **backing_fmt, char *copy, size_t copylen)
{
	char *save = NULL, *kv;

	if (strlen(arg) >= copylen)
		return fail("-o %s: option string too long", arg);
	strcpy(copy, arg);
	for (kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');

		if (!val)
			return fail("-o %s: expected key=value", kv);
		*val++ = '\0';
		if (!strcmp(kv, "cluster_size")) {
			if (parse_size(val, cluster_size) < 0 || *cluster_size < 512 ||
			    *cluster_size > (2U << 20) || (*cluster_size & (*cluster_size - 1)))
				return fail(
					"cluster_size=%s: must be a power of two from 512 to 2M",
					val);
		} else if (!strcmp(kv, "backing_file")) {
			*backing = val;
		} else if (!strcmp(kv, "backing_fmt")) {
			*backing_fmt = val;
		} else {
			return fail("-o %s: unknown option", kv);
		}
	}
	return 0;
}

static bool valid_format(const char *f)
{
	return !strcmp(f, "raw") || !strcmp(f, "qcow2");
}

/* What `info` and `create -b` need to know about one image. */
struct img {
	char path[PATH_MAX];
	const char *format;
	uint64_t vsize;
	uint64_t actual; /* allocated bytes, from st_blocks */
	bool is_qcow2;
	struct qcow2_header h;
	char backing_path[PATH_MAX]; /* the backing file relative to this image */
};

/* A relative backing file name is relative to the overlay's directory
 * (as QEMU resolves it), not to the current directory. */
static void resolve_backing(const char *image, const char *backing, char *out, size_t len)
{
	const char *slash = strrchr(image, '/');

	if (backing[0] == '/' || !slash)
		snprintf(out, len, "%s", backing);
	else
		snprintf(out, len, "%.*s/%s", (int)(slash - image), image, backing);
}

static int img_read(const char *path, const char *fmt, struct img *im, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	char msg[256] = "";
	const char *probed;
	int fd, ret = -EINVAL;
	ssize_t n;
	off_t end;

	memset(im, 0, sizeof(*im));
	snprintf(im->path, sizeof(im->path), "%s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file or block device", path);
		goto out;
	}
	end = lseek(fd, 0, SEEK_END); /* block devices have no st_size */
	probed = disk_probe_format(fd);
	if (end < 0 || !probed) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		ret = -errno;
		goto out;
	}
	if (fmt && strcmp(fmt, probed)) {
		snprintf(err, errlen, "%s: image is %s, not %s", path, probed, fmt);
		goto out;
	}
	im->format = probed;
	im->actual = (uint64_t)st.st_blocks * 512;
	im->vsize = (uint64_t)end;
	im->is_qcow2 = !strcmp(probed, "qcow2");
	if (!im->is_qcow2) {
		ret = 0;
		goto out;
	}
	buf = malloc(1U << QCOW2_MAX_CLUSTER_BITS);
	n = buf ? pread(fd, buf, 1U << QCOW2_MAX_CLUSTER_BITS, 0) : -1;
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	ret = qcow2_header_parse(buf, (size_t)n, (uint64_t)end, &im->h, msg, sizeof(msg));
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		goto out;
	}
	im->vsize = im->h.size;
	if (im->h.backing_file[0])
		resolve_backing(path, im->h.backing_file, im->backing_path,
				sizeof(im->backing_path));
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

static bool output_json(const char *arg, bool *json)
{
	*json = !strcmp(arg, "json");
	return *json || !strcmp(arg, "human");
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* qemu-img's size_to_str: three significant digits, binary units. */
static void human_size(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	unsigned int i = 0;

	while (d >= 1000.0 && i < 6) {
		d /= 1024.0;
		i++;
	}
	snprintf(buf, len, "%0.3g %s", d, unit[i]);
}

static void info_human(const struct img *im)
{
	char vs[32], as[32];

	human_size(im->vsize, vs, sizeof(vs));
	human_size(im->actual, as, sizeof(as));
	printf("image: %s\nfile format: %s\nvirtual size: %s (%llu bytes)\ndisk size: %s\n",
	       im->path, im->format, vs, (unsigned long long)im->vsize, as);
	if (!im->is_qcow2)
		return;
	printf("cluster_size: %llu\n", 1ULL << im->h.cluster_bits);
	if (im->h.backing_file[0]) {
		printf("backing file: %s", im->h.backing_file);
		if (strcmp(im->h.backing_file, im->backing_path))
			printf(" (actual path: %s)", im->backing_path);
		putchar('\n');
		if (im->h.backing_format[0])
			printf("backing file format: %s\n", im->h.backing_format);
	}
	printf("Format specific information:\n    compat: %s\n",
	       im->h.version >= 3 ? "1.1" : "0.10");
	printf("    lazy refcounts: %s\n",
	       (im->h.compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS) ? "true" : "false");
	printf("    refcount bits: %u\n", 1U << im->h.refcount_order);
	printf("    corrupt: %s\n",
	       (im->h.incompatible_features & QCOW2_INCOMPAT_CORRUPT) ? "true" : "false");
	printf("    dirty: %s\n",
	       (im->h.incompatible_features & QCOW2_INCOMPAT_DIRTY) ? "true" : "false");
}

static void info_json(const struct img *im)
{
	printf("{\n    \"filename\": ");
	json_str(im->path);
	printf(",\n    \"format\": \"%s\",\n    \"virtual-size\": %llu,\n    \"actual-size\": %llu",
	       im->format, (unsigned long long)im->vsize, (unsigned long long)im->actual);
	if (im->is_qcow2) {
		const struct qcow2_header *h = &im->h;

		printf(",\n    \"cluster-size\": %llu", 1ULL << h->cluster_bits);
		printf(",\n    \"dirty-flag\": %s",
		       (h->incompatible_features & QCOW2_INCOMPAT_DIRTY) ? "true" : "false");
		if (h->backing_file[0]) {
			printf(",\n    \"backing-filename\": ");
			json_str(h->backing_file);
			printf(",\n    \"full-backing-filename\": ");
			json_str(im->backing_path);
			if (h->backing_format[0]) {
				printf(",\n    \"backing-filename-format\": ");
				json_str(h->backing_format);
			}
		}
		printf(",\n    \"format-specific\": {\n        \"type\": \"qcow2\",\n"
		       "        \"data\": {\n            \"compat\": \"%s\",\n"
		       "            \"lazy-refcounts\": %s,\n            \"refcount-bits\": %u,\n"
		       "            \"corrupt\": %s\n        }\n    }",
		       h->version >= 3 ? "1.1" : "0.10",
		       (h->compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS) ? "true" : "false",
		       1U << h->refcount_order,
		       (h->incompatible_features & QCOW2_INCOMPAT_CORRUPT) ? "true" : "false");
	}
	printf("\n}");
}

static int cmd_info(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'J' },
		{ "backing-chain", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fmt = NULL, *path;
	bool json = false, chain = false;
	char err[ERRLEN], next[PATH_MAX];
	struct img *im;
	int c, depth, ret = 0;

	while ((c = getopt_long(argc, argv, "+f:h", lopts, NULL)) != -1) {
		if (c == 'f' && valid_format(optarg))
			fmt = optarg;
		else if (c == 'J' && output_json(optarg, &json))
			continue;
		else if (c == 'C')
			chain = true;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return fail("info: bad option (see vmm-img --help)");
	}
	if (optind != argc - 1)
		return fail("info: expected one image file");
	path = argv[optind];
	im = malloc(sizeof(*im));
	if (!im)
		return fail("out of memory");
	if (json && chain)
		printf("[");
	for (depth = 0; depth < MAX_CHAIN; depth++) {
		if (img_read(path, depth ? NULL : fmt, im, err, sizeof(err)) < 0) {
			ret = fail("%s", err);
			break;
		}
		if (depth)
			printf(json ? ", " : "\n");
		if (json)
			info_json(im);
		else
			info_human(im);
		if (!chain || !im->backing_path[0])
			break;
		snprintf(next, sizeof(next), "%s", im->backing_path);
		path = next;
	}
	if (depth == MAX_CHAIN)
		ret = fail("%s: backing chain longer than %d images", argv[optind], MAX_CHAIN);
	if (json)
		printf(chain ? "]\n" : "\n");
	free(im);
	return ret;
}

static int cmd_create(int argc, char **argv)
{
	const char *fmt = "raw", *backing = NULL, *backing_fmt = NULL, *path;
	uint64_t size = 0, cluster_size = 0;
	char err[ERRLEN] = "", ocopy[1024], bpath[PATH_MAX];
	struct img *base = NULL;
	bool quiet = false;
	struct stat st;
	int c, fd, ret = 0;

	while ((c = getopt(argc, argv, "+qf:b:F:o:h")) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'f':
			fmt = optarg;
			break;
		case 'b':
			backing = optarg;
			break;
		case 'F':
			backing_fmt = optarg;
			break;
		case 'o':
			if (parse_o(optarg, &cluster_size, &backing, &backing_fmt, ocopy,
				    sizeof(ocopy)))
				return 1;
			break;
		case 'h':
			return usage(stdout), 0;
		default:
			return fail("create: bad option (see vmm-img --help)");
		}
	}
	if (!valid_format(fmt))
		return fail("create: unknown format '%s' (raw or qcow2)", fmt);
	if (backing_fmt && !valid_format(backing_fmt))
		return fail("create: unknown backing format '%s'", backing_fmt);
	if (optind >= argc || argc - optind > 2)
		return fail("create: expected FILE [SIZE]");
	path = argv[optind];
	if (argc - optind == 2 && (parse_size(argv[optind + 1], &size) < 0 || size % 512))
		return fail("%s: invalid size '%s' (a multiple of 512 bytes, e.g. 20G)", path,
			    argv[optind + 1]);
	if (!strcmp(fmt, "raw") && (backing || cluster_size))
		return fail("%s: backing files and cluster_size need -f qcow2", path);
	if (argc - optind == 1 && !backing)
		return fail("%s: image size required", path);
	if (lstat(path, &st) == 0)
		return fail("%s: file exists (not overwriting it)", path);

	if (!strcmp(fmt, "raw")) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail("%s: %s", path, strerror(errno));
		/* A sparse file: no blocks until the guest writes. */
		if (ftruncate(fd, (off_t)size) < 0) {
			ret = fail("%s: %s", path, strerror(errno));
			unlink(path);
		}
		close(fd);
	} else {
		struct qcow2_create_opts o = {
			.size = size,
			.cluster_bits =
				cluster_size ? (unsigned int)__builtin_ctzll(cluster_size) : 0,
			.backing_file = backing,
			.backing_format = backing_fmt,
		};

		if (backing) {
			/* Read the backing file now: it must exist, and its format
			 * (recorded so nobody has to probe later) and size are
			 * needed. It is named relative to the new image. */
			base = malloc(sizeof(*base));
			if (!base)
				return fail("out of memory");
			resolve_backing(path, backing, bpath, sizeof(bpath));
			if (img_read(bpath, backing_fmt, base, err, sizeof(err)) < 0) {
				ret = fail("%s", err);
				goto out;
			}
			o.backing_format = base->format;
			if (!size)
				o.size = base->vsize;
		}
		if (qcow2_create(path, &o, err, sizeof(err)) < 0) {
			ret = fail("%s", err);
			goto out;
		}
		size = o.size;
	}
	if (!quiet && ret == 0) {
		printf("Formatting '%s', fmt=%s", path, fmt);
		if (!strcmp(fmt, "qcow2"))
			printf(" cluster_size=%llu", cluster_size
							     ? (unsigned long long)cluster_size
							     : 1ULL << QCOW2_DEFAULT_CLUSTER_BITS);
		printf(" size=%llu", (unsigned long long)size);
		if (backing)
			printf(" backing_file=%s backing_fmt=%s", backing, base->format);
		putchar('\n');
	}
out:
	free(base);
	return ret;
}

/* check: problem lines go to stdout (progress bar hidden first), capped. */
struct check_ui {
	struct progress bar;
	bool quiet;
	unsigned int reported;
};

static void check_report(void *opaque, const char *line)
{
	struct check_ui *ui = opaque;

	if (ui->quiet || ui->reported++ > MAX_REPORTED)
		return;
	progress_hide(&ui->bar);
	if (ui->reported > MAX_REPORTED)
		puts("(more problems not listed)");
	else
		puts(line);
	fflush(stdout);
}

static void check_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct check_ui *ui = opaque;

	progress_update(&ui->bar, done, total);
}

static void check_print(const char *path, const struct qcow2_check_result *r, bool json)
{
	if (json) {
		printf("{\n    \"filename\": ");
		json_str(path);
		printf(",\n    \"format\": \"qcow2\",\n    \"check-errors\": 0"
		       ",\n    \"corruptions\": %llu,\n    \"leaks\": %llu"
		       ",\n    \"corruptions-fixed\": %llu,\n    \"leaks-fixed\": %llu"
		       ",\n    \"allocated-clusters\": %llu,\n    \"total-clusters\": %llu"
		       ",\n    \"image-end-offset\": %llu\n}\n",
		       (unsigned long long)r->corruptions, (unsigned long long)r->leaks,
		       (unsigned long long)r->corruptions_fixed, (unsigned long long)r->leaks_fixed,
		       (unsigned long long)r->allocated_clusters,
		       (unsigned long long)r->total_clusters,
		       (unsigned long long)r->image_end_offset);
		return;
	}
	if (!r->corruptions && !r->leaks)
		printf("No errors were found on the image.\n");
	if (r->corruptions)
		printf("\n%llu errors were found on the image.\n"
		       "Data may be corrupted, or further writes to the image may corrupt it.\n",
		       (unsigned long long)r->corruptions);
	if (r->leaks)
		printf("\n%llu leaked clusters were found on the image.\n"
		       "This means waste of disk space, but no harm to data.\n",
		       (unsigned long long)r->leaks);
	printf("%llu/%llu = %.2f%% allocated\nImage end offset: %llu\n",
	       (unsigned long long)r->allocated_clusters, (unsigned long long)r->total_clusters,
	       r->total_clusters ? 100.0 * (double)r->allocated_clusters / (double)r->total_clusters
				 : 0.0,
	       (unsigned long long)r->image_end_offset);
}

static int cmd_check(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'J' },
		{ "repair", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct qcow2_check_opts o = { .repair = QCOW2_REPAIR_NONE,
				      .report = check_report,
				      .progress = check_progress };
	const char *fmt = NULL, *path;
	struct qcow2_check_result r;
	struct check_ui ui = { 0 };
	bool json = false, force = false;
	char err[ERRLEN];
	struct img im;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+qpf:r:h", lopts, NULL)) != -1) {
		if (c == 'f' && valid_format(optarg))
			fmt = optarg;
		else if (c == 'J' && output_json(optarg, &json))
			continue;
		else if (c == 'r' && (!strcmp(optarg, "leaks") || !strcmp(optarg, "all")))
			o.repair = optarg[0] == 'l' ? QCOW2_REPAIR_LEAKS : QCOW2_REPAIR_ALL;
		else if (c == 'q')
			ui.quiet = true;
		else if (c == 'p')
			force = true;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return fail("check: bad option (see vmm-img --help)");
	}
	if (optind != argc - 1)
		return fail("check: expected one image file");
	path = argv[optind];
	if (img_read(path, fmt, &im, err, sizeof(err)) < 0)
		return fail("%s", err);
	if (!im.is_qcow2) {
		fail("%s: format %s does not support checks", path, im.format);
		return EXIT_CHECK_UNSUPPORTED;
	}
	ui.quiet |= json;
	progress_init(&ui.bar, progress_wanted(force, im.actual));
	o.opaque = &ui;
	ret = qcow2_check_image(path, &o, &r, err, sizeof(err));
	if (ret < 0) {
		progress_hide(&ui.bar);
		return fail("%s", err);
	}
	progress_finish(&ui.bar);
	if (r.leaks_fixed || r.corruptions_fixed) {
		if (!json)
			printf("The following inconsistencies were found and repaired:\n\n"
			       "    %llu leaked clusters\n    %llu corruptions\n\n"
			       "Double checking the fixed image now...\n",
			       (unsigned long long)r.leaks_fixed,
			       (unsigned long long)r.corruptions_fixed);
		o.repair = QCOW2_REPAIR_NONE;
		ui.reported = 0;
		ret = qcow2_check_image(path, &o, &r, err, sizeof(err));
		if (ret < 0) {
			progress_hide(&ui.bar);
			return fail("%s", err);
		}
		progress_finish(&ui.bar);
	}
	if (!ui.quiet || json)
		check_print(path, &r, json);
	return r.corruptions ? 2 : r.leaks ? 3 : 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	uint64_t w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		if (w)
			return false;
	}
	for (; len; p++, len--)
		if (*p)
			return false;
	return true;
}

/* Copy [0, src->size) in chunks, writing only runs of `gran`-sized blocks
 * that are not all zero: the output stays sparse. */
static int convert_copy(struct disk *src, struct disk *dst, uint64_t gran, bool show, char *err,
			size_t errlen)
{
	struct progress bar;
	uint64_t off;
	uint8_t *buf;
	int ret = 0;

	if (posix_memalign((void **)&buf, 4096, CONVERT_CHUNK))
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	progress_init(&bar, show);
	for (off = 0; off < src->size && ret == 0; off += CONVERT_CHUNK) {
		size_t len = src->size - off < CONVERT_CHUNK ? src->size - off : CONVERT_CHUNK;
		size_t i = 0;

		ret = disk_pread(src, buf, len, off);
		if (ret < 0) {
			snprintf(err, errlen, "%s: read at %llu: %s", src->path,
				 (unsigned long long)off, strerror(-ret));
			break;
		}
		while (i < len && ret == 0) {
			size_t start, n;

			for (; i < len; i += n) {
				n = len - i < gran ? len - i : gran;
				if (!all_zero(buf + i, n))
					break;
			}
			for (start = i; i < len; i += n) {
				n = len - i < gran ? len - i : gran;
				if (all_zero(buf + i, n))
					break;
			}
			if (i > start) {
				ret = disk_pwrite(dst, buf + start, i - start, off + start);
				if (ret < 0)
					snprintf(err, errlen, "%s: write at %llu: %s", dst->path,
						 (unsigned long long)(off + start), strerror(-ret));
			}
		}
		progress_update(&bar, off + len, src->size);
	}
	if (ret == 0) {
		ret = disk_flush(dst);
		if (ret < 0)
			snprintf(err, errlen, "%s: flush: %s", dst->path, strerror(-ret));
	}
	if (ret == 0)
		progress_finish(&bar);
	else
		progress_hide(&bar);
	free(buf);
	return ret;
}

static int cmd_convert(int argc, char **argv)
{
	const char *ofmt = "raw", *backing = NULL, *backing_fmt = NULL, *spath, *dpath;
	struct disk_open_opts sopts = { .readonly = true };
	struct disk_open_opts dopts = { 0 };
	struct disk *src = NULL, *dst = NULL;
	uint64_t cluster_size = 0, gran = 4096;
	bool force = false, quiet = false, created = false;
	char err[ERRLEN], ocopy[1024];
	struct stat st;
	int c, ret = 1;

	while ((c = getopt(argc, argv, "+qpf:O:o:h")) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'p':
			force = true;
			break;
		case 'f':
			sopts.format = optarg;
			break;
		case 'O':
			ofmt = optarg;
			break;
		case 'o':
			if (parse_o(optarg, &cluster_size, &backing, &backing_fmt, ocopy,
				    sizeof(ocopy)))
				return 1;
			break;
		case 'h':
			return usage(stdout), 0;
		default:
			return fail("convert: bad option (see vmm-img --help)");
		}
	}
	if (sopts.format && !valid_format(sopts.format))
		return fail("convert: unknown format '%s' (raw or qcow2)", sopts.format);
	if (!valid_format(ofmt))
		return fail("convert: unknown output format '%s' (raw or qcow2)", ofmt);
	if (backing)
		return fail("convert: backing_file is not supported for the output");
	if (cluster_size && strcmp(ofmt, "qcow2"))
		return fail("convert: cluster_size needs -O qcow2");
	if (argc - optind != 2)
		return fail("convert: expected SRC DST");
	spath = argv[optind];
	dpath = argv[optind + 1];
	if (lstat(dpath, &st) == 0)
		return fail("%s: file exists (not overwriting it)", dpath);
	if (disk_open(spath, &sopts, &src, err, sizeof(err)) < 0)
		return fail("%s", err);

	if (!strcmp(ofmt, "raw")) {
		int fd = open(dpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		if (fd < 0) {
			fail("%s: %s", dpath, strerror(errno));
			goto out;
		}
		created = true;
		if (ftruncate(fd, (off_t)src->size) < 0) {
			fail("%s: %s", dpath, strerror(errno));
			close(fd);
			goto out;
		}
		close(fd);
	} else {
		struct qcow2_create_opts co = {
			.size = src->size,
			.cluster_bits =
				cluster_size ? (unsigned int)__builtin_ctzll(cluster_size) : 0,
		};

		if (qcow2_create(dpath, &co, err, sizeof(err)) < 0) {
			fail("%s", err);
			goto out;
		}
		created = true;
		/* Whole clusters: a write never needs copy-on-write of a
		 * partial cluster, and a zero cluster stays unallocated. */
		gran = 1ULL << (co.cluster_bits ? co.cluster_bits : QCOW2_DEFAULT_CLUSTER_BITS);
	}
	dopts.format = ofmt;
	if (disk_open(dpath, &dopts, &dst, err, sizeof(err)) < 0) {
		fail("%s", err);
		goto out;
	}
	if (convert_copy(src, dst, gran, !quiet && progress_wanted(force, src->size), err,
			 sizeof(err)) < 0) {
		fail("%s", err);
		goto out;
	}
	ret = 0;
out:
	if (dst)
		disk_close(dst);
	if (src)
		disk_close(src);
	/* Nothing half-written is left behind under the output's name. */
	if (ret && created)
		unlink(dpath);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = { { "create", cmd_create },
		     { "info", cmd_info },
		     { "check", cmd_check },
		     { "convert", cmd_convert } };

	if (argc < 2)
		return fail("no command given (see vmm-img --help)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("vmm-img version %s\n", VMM_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			/* getopt sees "create -f qcow2 ..." with the command
			 * as its argv[0]; opterr off: fail() says it once. */
			opterr = 0;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	return fail("unknown command '%s' (see vmm-img --help)", argv[1]);
}
