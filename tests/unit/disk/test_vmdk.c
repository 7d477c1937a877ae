/* SPDX-License-Identifier: MIT */
/*
 * The VMDK driver: its pure parsers (header, descriptor, probe) on good and
 * hostile bytes, and images made by its own create read and written back
 * through the public disk API (every subformat, several extents, grains
 * allocated in the middle of others, the file trimmed at close).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/format.h"
#include "devices/disk/vmdk.h"

struct fx {
	char dir[256];
	char path[320];
	char err[512];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/vmdk-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static const char *p(struct fx *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

static void good_header(struct vmdk_header *h)
{
	*h = (struct vmdk_header){
		.version = 1,
		.flags = VMDK_FLAG_NL_DETECT | VMDK_FLAG_RGD,
		.capacity = 2048,
		.grain_size = 128,
		.num_gtes_per_gt = 512,
		.rgd_offset = 21,
		.gd_offset = 26,
		.overhead = 128,
	};
}

static void test_header(void **state)
{
	struct vmdk_header h, out;
	uint8_t buf[512];
	char err[256];

	(void)state;
	good_header(&h);
	vmdk_header_encode(&h, buf);
	assert_int_equal(vmdk_header_parse(buf, 512, 65536, &out, err, sizeof(err)), 0);
	assert_int_equal(out.capacity, 2048);
	assert_int_equal(out.gd_offset, 26);
	assert_int_equal(vmdk_gd_entries(&out), 1);
	assert_int_equal(vmdk_probe(buf, 4), 100);
	/* each bad field is refused with its own reason */
	assert_int_equal(vmdk_header_parse(buf, 100, 65536, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "truncated"));
	h.grain_size = 100;
	vmdk_header_encode(&h, buf);
	assert_int_equal(vmdk_header_parse(buf, 512, 65536, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "grain size"));
	good_header(&h);
	h.capacity = 0;
	vmdk_header_encode(&h, buf);
	assert_int_equal(vmdk_header_parse(buf, 512, 65536, &out, err, sizeof(err)), -EINVAL);
	good_header(&h);
	h.gd_offset = 1000; /* past the end of a 64 KiB file */
	vmdk_header_encode(&h, buf);
	assert_int_equal(vmdk_header_parse(buf, 512, 65536, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "grain directory"));
	good_header(&h);
	h.desc_offset = 1;
	h.desc_size = 1ULL << 40; /* absurd */
	vmdk_header_encode(&h, buf);
	assert_int_equal(vmdk_header_parse(buf, 512, 65536, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "descriptor"));
	good_header(&h);
	vmdk_header_encode(&h, buf);
	buf[75] = '\n'; /* a CR lost to a text-mode copy */
	assert_int_equal(vmdk_header_parse(buf, 512, 65536, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "newline"));
	memcpy(buf, "COWD", 4);
	assert_int_equal(vmdk_header_parse(buf, 512, 65536, &out, err, sizeof(err)), -ENOTSUP);
}

static void test_descriptor(void **state)
{
	static const char good[] = "# Disk DescriptorFile\r\nversion=1\r\nCID=1234abcd\r\n"
				   "parentCID=ffffffff\r\ncreateType=\"twoGbMaxExtentFlat\"\r\n\r\n"
				   "RW 4194304 FLAT \"a-f001.vmdk\" 0\r\n"
				   "RDONLY 100 FLAT \"b b.vmdk\" 7\r\nRW 50 ZERO\r\n"
				   "ddb.adapterType = \"lsilogic\"\r\n";
	struct vmdk_desc d;
	char err[256];

	(void)state;
	assert_int_equal(vmdk_desc_parse(good, sizeof(good) - 1, &d, err, sizeof(err)), 0);
	assert_int_equal(d.version, 1);
	assert_int_equal(d.cid, 0x1234abcd);
	assert_string_equal(d.create_type, "twoGbMaxExtentFlat");
	assert_string_equal(d.adapter_type, "lsilogic");
	assert_int_equal(d.nextents, 3);
	assert_string_equal(d.extents[1].file, "b b.vmdk");
	assert_int_equal(d.extents[1].offset, 7);
	assert_true(d.extents[1].readonly);
	assert_int_equal(d.extents[2].type, VMDK_EXTENT_ZERO);
	vmdk_desc_free(&d);
	assert_int_equal(vmdk_probe((const uint8_t *)good, sizeof(good) - 1), 100);
	assert_int_equal(vmdk_probe((const uint8_t *)"hello\nversion=1\n", 16), 0);
	assert_int_equal(vmdk_probe((const uint8_t *)"version=1", 9), 0);

	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "version=1\n", "no extents" },
		{ "RW 10 SPARSE \"x\"\n", "no version" },
		{ "version=9\nRW 10 FLAT \"x\" 0\n", "version" },
		{ "version=1\nRW 10 VMFSSPARSE \"x\"\n", "unsupported extent type" },
		{ "version=1\nRW 10 FLAT x 0\n", "file name" },
		{ "version=1\nRW 10 FLAT \"x\" zz\n", "offset" },
		{ "version=1\nNOACCESS 10 FLAT \"x\" 0\n", "NOACCESS" },
		{ "version=1\nRW 0 FLAT \"x\" 0\n", "extent of 0" },
		{ "version=1\nCID=zz\nRW 1 FLAT \"x\" 0\n", "CID" },
		{ "version=1\nRW 137438953472 FLAT \"x\" 0\nRW 1 FLAT \"y\" 0\n", "add up" },
		{ "version=1\njunk\n", "not key=value" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(
			vmdk_desc_parse(bad[i].text, strlen(bad[i].text), &d, err, sizeof(err)), 0);
		if (!strstr(err, bad[i].why))
			fail_msg("%s: got '%s', want '%s'", bad[i].text, err, bad[i].why);
	}
}

static void fill(uint8_t *b, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* Descriptors of this process open with O_DIRECT. */
static int count_direct_fds(void)
{
	char path[64], line[128];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		unsigned int flags;
		FILE *fi;

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		fi = fopen(path, "r");
		if (!fi)
			continue;
		while (fgets(line, sizeof(line), fi))
			if (sscanf(line, "flags: %o", &flags) == 1 && (flags & O_DIRECT))
				n++;
		fclose(fi);
	}
	return n;
}

/* Create with the driver, write a pattern at awkward places, reopen and
 * read it back (zeros elsewhere). direct: both opens with cache=none, which
 * must hold `direct_fds` O_DIRECT descriptors (0: not checked). */
static void roundtrip_opts(struct fx *f, const char *sub, uint64_t size, bool direct,
			   int direct_fds)
{
	const struct disk_format *fmt = disk_format_find("vmdk");
	char opts[64];
	struct disk_create_opts co = { .size = size, .options = opts };
	struct disk_open_opts o = { .format = "vmdk",
				    .engine = DISK_ENGINE_AUTO,
				    .direct = direct };
	static const uint64_t at[] = { 0, 4096, 65536 - 512, 3 * 65536 + 1024, 0 };
	uint8_t *w = malloc(70000), *r = malloc(70000);
	struct disk *d;
	char name[64];

	snprintf(opts, sizeof(opts), "subformat=%s", sub);
	snprintf(name, sizeof(name), "%s.vmdk", sub);
	assert_int_equal(fmt->create(p(f, name), &co, f->err, sizeof(f->err)), 0);
	if (disk_open(p(f, name), &o, &d, f->err, sizeof(f->err)))
		fail_msg("%s", f->err);
	if (direct_fds)
		assert_int_equal(count_direct_fds(), direct_fds);
	assert_int_equal(d->size, size);
	for (int i = 0; i < 5; i++) {
		uint64_t off = i == 4 ? size - 8192 : at[i];

		fill(w, 8192, (unsigned int)i + 1);
		assert_int_equal(disk_pwrite(d, w, 8192, off), 0);
	}
	assert_int_equal(disk_flush(d), 0);
	disk_close(d);
	o.readonly = true;
	if (disk_open(p(f, name), &o, &d, f->err, sizeof(f->err)))
		fail_msg("%s", f->err);
	/* the later writes overlap the earlier ones: the last write wins */
	fill(w, 8192, 2);
	assert_int_equal(disk_pread(d, r, 8192, 4096), 0);
	assert_memory_equal(r, w, 8192);
	fill(w, 8192, 4);
	assert_int_equal(disk_pread(d, r, 8192, 3 * 65536 + 1024), 0);
	assert_memory_equal(r, w, 8192);
	fill(w, 8192, 5);
	assert_int_equal(disk_pread(d, r, 8192, size - 8192), 0);
	assert_memory_equal(r, w, 8192);
	assert_int_equal(disk_pread(d, r, 65536, 10 * 65536), 0);
	for (int i = 0; i < 65536; i++)
		assert_int_equal(r[i], 0);
	disk_close(d);
	assert_int_equal(count_direct_fds(), 0);
	free(w);
	free(r);
}

static void roundtrip(struct fx *f, const char *sub, uint64_t size)
{
	roundtrip_opts(f, sub, size, false, 0);
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct stat st;

	roundtrip(f, "monolithicSparse", 16 << 20);
	/* the growth reserve is given back at close: header+tables, 4 grains */
	assert_int_equal(stat(p(f, "monolithicSparse.vmdk"), &st), 0);
	assert_true(st.st_size <= 2 * 65536 + 5 * 65536);
	roundtrip(f, "monolithicFlat", 16 << 20);
	roundtrip(f, "twoGbMaxExtentSparse", 5ULL << 30); /* three extents */
	roundtrip(f, "twoGbMaxExtentFlat", (2ULL << 30) + (1 << 20));
}

/* cache=none: guest data through O_DIRECT descriptors (one per extent
 * file, and the descriptor file's own, which holds the lock), metadata
 * through buffered ones; the images then pass our check. */
static void test_direct(void **state)
{
	struct fx *f = *state;
	struct disk_open_opts o = { .format = "vmdk", .direct = true };
	const struct disk_format *fmt = disk_format_find("vmdk");
	struct disk_create_opts co = { .size = 1 << 20 };
	struct disk *d;

	assert_int_equal(fmt->create(p(f, "probe.vmdk"), &co, f->err, sizeof(f->err)), 0);
	if (disk_open(p(f, "probe.vmdk"), &o, &d, f->err, sizeof(f->err))) {
		/* tmpfs before Linux 6.6 refuses O_DIRECT */
		assert_non_null(strstr(f->err, "O_DIRECT not supported"));
		print_message("skipped: %s\n", f->err);
		skip();
	}
	disk_close(d);
	roundtrip_opts(f, "monolithicSparse", 16 << 20, true, 1);
	roundtrip_opts(f, "monolithicFlat", 16 << 20, true, 2);
	roundtrip_opts(f, "twoGbMaxExtentSparse", 5ULL << 30, true, 4);
	roundtrip_opts(f, "twoGbMaxExtentFlat", (2ULL << 30) + (1 << 20), true, 3);
	for (const char *const *n = (const char *const[]){ "monolithicSparse.vmdk",
							   "twoGbMaxExtentSparse.vmdk", NULL };
	     *n; n++) {
		struct disk_check_opts cko = { 0 };
		struct disk_check_result r = { 0 };

		assert_int_equal(fmt->check(p(f, *n), &cko, &r, f->err, sizeof(f->err)), 0);
		assert_int_equal(r.corruptions, 0);
		assert_int_equal(r.allocated_clusters, 4); /* grains 0, 1, 3 and the last */
	}
}

/* streamOptimized: created empty, written once in order through
 * vmdk_stream (vmm-img convert), then read back; the driver itself keeps
 * such images read-only, and a second stream into it is refused. */
static void test_stream(void **state)
{
	struct fx *f = *state;
	const struct disk_format *fmt = disk_format_find("vmdk");
	struct disk_create_opts co = { .size = (1 << 20) + 4096,
				       .options = "subformat=streamOptimized" };
	struct disk_open_opts o = { .format = "vmdk", .engine = DISK_ENGINE_SYNC };
	struct disk_check_opts cko = { 0 };
	struct disk_check_result r = { 0 };
	uint8_t *w = calloc(1, 3 * 65536), *rd = malloc(65536);
	struct vmdk_stream *vs;
	struct disk *d;

	assert_non_null(w);
	assert_int_equal(fmt->create(p(f, "so.vmdk"), &co, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_open(p(f, "so.vmdk"), &o, &d, f->err, sizeof(f->err)), -EROFS);
	assert_non_null(strstr(f->err, "read-only"));
	if (vmdk_stream_open(p(f, "so.vmdk"), &vs, f->err, sizeof(f->err)))
		fail_msg("%s", f->err);
	assert_int_equal(vmdk_stream_grain(vs), 65536);
	fill(w, 65536, 1);	    /* grain 0 */
	fill(w + 131072, 65536, 3); /* grain 2; grain 1 stays zeros */
	assert_int_equal(vmdk_stream_write(vs, 0, w, 3 * 65536), 0);
	assert_int_equal(vmdk_stream_write(vs, 65536, w, 65536), -EINVAL); /* back */
	assert_int_equal(vmdk_stream_write(vs, 5 * 65536 + 512, w, 65536), -EINVAL);
	assert_int_equal(vmdk_stream_write(vs, 5 * 65536, w, 4096), -EINVAL);	/* short */
	assert_int_equal(vmdk_stream_write(vs, 17 * 65536, w, 65536), -EINVAL); /* past */
	fill(w, 4096, 9);
	assert_int_equal(vmdk_stream_write(vs, 16 * 65536, w, 4096), 0); /* the last */
	assert_int_equal(vmdk_stream_close(vs, true, f->err, sizeof(f->err)), 0);
	/* written once */
	assert_int_equal(vmdk_stream_open(p(f, "so.vmdk"), &vs, f->err, sizeof(f->err)), -EEXIST);
	assert_non_null(strstr(f->err, "so.vmdk"));
	o.readonly = true;
	assert_int_equal(disk_open(p(f, "so.vmdk"), &o, &d, f->err, sizeof(f->err)), 0);
	fill(w, 65536, 1);
	assert_int_equal(disk_pread(d, rd, 65536, 0), 0);
	assert_memory_equal(rd, w, 65536);
	assert_int_equal(disk_pread(d, rd, 65536, 65536), 0);
	for (int i = 0; i < 65536; i++)
		assert_int_equal(rd[i], 0);
	fill(w, 65536, 3);
	assert_int_equal(disk_pread(d, rd, 4096, 2 * 65536 + 8192), 0);
	assert_memory_equal(rd, w + 8192, 4096);
	fill(w, 4096, 9);
	assert_int_equal(disk_pread(d, rd, 4096, 16 * 65536), 0);
	assert_memory_equal(rd, w, 4096);
	disk_close(d);
	assert_int_equal(fmt->check(p(f, "so.vmdk"), &cko, &r, f->err, sizeof(f->err)), 0);
	assert_int_equal(r.corruptions, 0);
	assert_int_equal(r.allocated_clusters, 3);
	/* not a stream image: refused with its name */
	co.options = NULL;
	assert_int_equal(fmt->create(p(f, "plain.vmdk"), &co, f->err, sizeof(f->err)), 0);
	assert_int_not_equal(vmdk_stream_open(p(f, "plain.vmdk"), &vs, f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "not an empty streamOptimized"));
	free(w);
	free(rd);
}

static void test_bad_images(void **state)
{
	struct fx *f = *state;
	const struct disk_format *fmt = disk_format_find("vmdk");
	struct disk_create_opts co = { .size = 1 << 20, .options = "subformat=monolithicFlat" };
	struct disk_open_opts o = { .engine = DISK_ENGINE_SYNC };
	struct disk *d = NULL;
	uint8_t buf[512];
	int fd;

	/* a descriptor naming a missing extent */
	assert_int_equal(fmt->create(p(f, "flat.vmdk"), &co, f->err, sizeof(f->err)), 0);
	assert_int_equal(unlink(p(f, "flat-flat.vmdk")), 0);
	o.readonly = true;
	assert_int_not_equal(disk_open(p(f, "flat.vmdk"), &o, &d, f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "flat-flat.vmdk"));
	/* a probed descriptor cannot be opened read-write */
	co.options = "subformat=monolithicFlat";
	assert_int_equal(fmt->create(p(f, "f2.vmdk"), &co, f->err, sizeof(f->err)), 0);
	o.readonly = false;
	assert_int_equal(disk_open(p(f, "f2.vmdk"), &o, &d, f->err, sizeof(f->err)), -EPERM);
	assert_non_null(strstr(f->err, "format=vmdk"));
	/* a grain table entry pointing past the end of the file: reads fail */
	co.options = NULL;
	assert_int_equal(fmt->create(p(f, "s.vmdk"), &co, f->err, sizeof(f->err)), 0);
	fd = open(p(f, "s.vmdk"), O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 512, 0), 512);
	{
		struct vmdk_header h;
		char e[128];
		uint32_t gt0, bogus = htole32(1u << 30);

		assert_int_equal(vmdk_header_parse(buf, 512, 1 << 20, &h, e, sizeof(e)), 0);
		assert_int_equal(pread(fd, &gt0, 4, (off_t)h.gd_offset * 512), 4);
		assert_int_equal(pwrite(fd, &bogus, 4, (off_t)le32toh(gt0) * 512), 4);
	}
	close(fd);
	o.readonly = true;
	assert_int_equal(disk_open(p(f, "s.vmdk"), &o, &d, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_pread(d, buf, 512, 0), -EIO);
	assert_int_equal(disk_pread(d, buf, 512, 65536), 0); /* the other grains are fine */
	disk_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_images, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
