/* SPDX-License-Identifier: MIT */
/*
 * The VDI driver: the header and block map parsers on good and hostile
 * bytes, create (dynamic and static), allocation on first write (one block
 * each, nothing on rewrite), unallocated and discarded blocks reading as
 * zeros, check, and the probe. Interop with qemu-img: tests/disk.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/disk/format.h"
#include "devices/disk/vdi.h"
#include "tests/unit/disk/qcow2_harness.h"

#define BS VDI_BLOCK_SIZE

static void create(struct fx *f, const char *name, uint64_t size, const char *options)
{
	struct disk_create_opts o = { .size = size, .options = options };
	int ret = disk_format_find("vdi")->create(qh_path(f, name), &o, f->err, sizeof(f->err));

	if (ret)
		print_error("create: %s\n", f->err);
	assert_int_equal(ret, 0);
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	v = htole32(v);
	memcpy(b + off, &v, 4);
}

static uint8_t *read_file(struct fx *f, const char *name, size_t *len)
{
	uint64_t n = qh_fsize(qh_path(f, name));
	uint8_t *b = malloc(n);
	int fd = open(qh_path(f, name), O_RDONLY);

	assert_int_equal(pread(fd, b, n, 0), (ssize_t)n);
	close(fd);
	*len = n;
	return b;
}

static void test_header(void **state)
{
	static const struct {
		size_t off;
		uint32_t val;
		int ret;
		const char *msg;
	} bad[] = {
		{ VDI_OFF_SIGNATURE, 0x12345678, -EINVAL, "bad signature" },
		{ VDI_OFF_VERSION, 0x00010000, -ENOTSUP, "version 1.0" },
		{ VDI_OFF_IMAGE_TYPE, 4, -ENOTSUP, "image type 4" },
		{ VDI_OFF_OFFSET_BMAP, 0x201, -EINVAL, "block map offset" },
		{ VDI_OFF_OFFSET_BMAP, 0x100, -EINVAL, "block map offset" },
		{ VDI_OFF_OFFSET_DATA, 0x401, -EINVAL, "data offset" },
		{ VDI_OFF_OFFSET_DATA, 0x200, -EINVAL, "overlaps the data area" },
		{ VDI_OFF_SECTOR_SIZE, 4096, -ENOTSUP, "sector size 4096" },
		{ VDI_OFF_BLOCK_SIZE, 2 * BS, -ENOTSUP, "block size" },
		{ VDI_OFF_BLOCKS, 2, -EINVAL, "exceeds what the block map covers" },
		{ VDI_OFF_BLOCKS, 0x7fffffff, -EINVAL, "too many blocks" },
		{ VDI_OFF_UUID_LINK + 3, 1, -ENOTSUP, "link UUID" },
		{ VDI_OFF_UUID_PARENT, 9, -ENOTSUP, "parent UUID" },
	};
	struct fx *f = *state;
	struct vdi_header h;
	size_t len;
	uint8_t *good, b[VDI_HEADER_LEN];

	create(f, "h.vdi", 3 * BS + 512, NULL);
	good = read_file(f, "h.vdi", &len);
	assert_int_equal(len, 1024);
	assert_int_equal(vdi_probe(good, len), 100);
	assert_int_equal(vdi_header_parse(good, len, len, &h, f->err, sizeof(f->err)), 0);
	assert_int_equal(h.disk_size, 3 * BS + 512);
	assert_int_equal(h.blocks_in_image, 4);
	assert_int_equal(h.offset_bmap, 0x200);
	assert_int_equal(h.offset_data, 0x400);
	assert_int_equal(h.image_type, VDI_TYPE_DYNAMIC);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(b, good, sizeof(b));
		put32(b, bad[i].off, bad[i].val);
		f->err[0] = '\0';
		if (vdi_header_parse(b, sizeof(b), 1ULL << 40, &h, f->err, sizeof(f->err)) !=
			    bad[i].ret ||
		    !strstr(f->err, bad[i].msg))
			print_error("case %zu: '%s' (want '%s')\n", i, f->err, bad[i].msg);
		assert_int_equal(
			vdi_header_parse(b, sizeof(b), 1ULL << 40, &h, f->err, sizeof(f->err)),
			bad[i].ret);
		assert_non_null(strstr(f->err, bad[i].msg));
	}
	/* short buffer or file; block map past the end of the file */
	assert_int_equal(vdi_header_parse(good, 100, len, &h, f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(vdi_header_parse(good, len, 600, &h, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "past the end"));
	/* an odd disk size is rounded up to a sector, as QEMU does */
	memcpy(b, good, sizeof(b));
	put32(b, VDI_OFF_DISK_SIZE, 1000);
	assert_int_equal(vdi_header_parse(b, sizeof(b), len, &h, f->err, sizeof(f->err)), 0);
	assert_int_equal(h.disk_size, 1024);
	assert_int_equal(vdi_probe(b, 100), 0);
	free(good);
}

static void test_bmap(void **state)
{
	struct fx *f = *state;
	struct vdi_header h = { .blocks_in_image = 4, .block_size = BS, .offset_data = 0x400 };
	uint32_t m[4], alloc, next;

	(void)f;
	m[0] = htole32(VDI_UNALLOCATED);
	m[1] = htole32(2);
	m[2] = htole32(VDI_DISCARDED);
	m[3] = htole32(0);
	assert_int_equal(vdi_bmap_check(m, &h, 0x400 + 3 * BS, &alloc, &next, NULL, 0), 0);
	assert_int_equal(alloc, 2);
	assert_int_equal(next, 3);
	/* past the end of the file */
	assert_int_equal(
		vdi_bmap_check(m, &h, 0x400 + 3 * BS - 1, &alloc, &next, f->err, sizeof(f->err)),
		-EINVAL);
	assert_non_null(strstr(f->err, "entry 1: block 2 lies past the end"));
	/* out of range, twice the same */
	m[0] = htole32(4);
	assert_int_equal(vdi_bmap_check(m, &h, 1ULL << 40, &alloc, &next, f->err, sizeof(f->err)),
			 -EINVAL);
	assert_non_null(strstr(f->err, "too large"));
	m[0] = htole32(2);
	assert_int_equal(vdi_bmap_check(m, &h, 1ULL << 40, &alloc, &next, f->err, sizeof(f->err)),
			 -EINVAL);
	assert_non_null(strstr(f->err, "used twice"));
}

static void check_clean(struct fx *f, const char *name, uint64_t allocated)
{
	struct disk_check_opts o = { .repair = DISK_REPAIR_NONE };
	struct disk_check_result r = { 0 };

	assert_int_equal(
		disk_format_find("vdi")->check(qh_path(f, name), &o, &r, f->err, sizeof(f->err)),
		0);
	assert_int_equal(r.corruptions, 0);
	assert_int_equal(r.allocated_clusters, allocated);
}

static void test_io(void **state)
{
	struct fx *f = *state;
	uint8_t *w = malloc(2 * BS), *r = malloc(2 * BS);
	const char *p = qh_path(f, "d.vdi");
	struct disk *d;
	uint64_t s0;
	int fd;

	create(f, "d.vdi", 5 * BS, NULL);
	s0 = qh_fsize(p);
	d = qh_open(f, "d.vdi", false);
	assert_string_equal(d->format, "vdi");
	assert_int_equal(d->size, 5 * BS);
	memset(r, 0xaa, BS);
	assert_int_equal(disk_pread(d, r, BS, 2 * BS), 0);
	assert_true(qh_all_bytes(r, BS, 0));
	/* a write across a block boundary allocates both blocks, in order;
	 * the file grows ahead (1 block, then 2 more: 3) */
	qh_fill(w, 8192, 1);
	assert_int_equal(disk_pwrite(d, w, 8192, 3 * BS - 4096), 0);
	assert_int_equal(qh_fsize(p), s0 + 3 * BS);
	/* rewrite: no growth */
	assert_int_equal(disk_pwrite(d, w, 8192, 3 * BS - 4096), 0);
	assert_int_equal(qh_fsize(p), s0 + 3 * BS);
	assert_int_equal(disk_pread(d, r, 2 * BS, 2 * BS), 0);
	assert_true(qh_all_bytes(r, BS - 4096, 0));
	assert_memory_equal(r + BS - 4096, w, 8192);
	assert_true(qh_all_bytes(r + BS + 4096, BS - 4096, 0));
	/* write-zeroes over unallocated space allocates nothing */
	assert_int_equal(qh_zreq(d, DISK_WRITE_ZEROES, 0, BS, false), 0);
	assert_int_equal(qh_fsize(p), s0 + 3 * BS);
	assert_int_equal(disk_flush(d), 0);
	disk_close(d);
	/* close gives the block grown ahead back */
	assert_int_equal(qh_fsize(p), s0 + 2 * BS);
	check_clean(f, "d.vdi", 2);
	/* block 2's entry says "discarded": reads zeros; a write allocates */
	fd = open(p, O_RDWR);
	{
		uint32_t e = htole32(VDI_DISCARDED), one = htole32(1);

		assert_int_equal(pwrite(fd, &e, 4, 0x200 + 2 * 4), 4);
		assert_int_equal(pwrite(fd, &one, 4, VDI_OFF_BLOCKS_ALLOCATED), 4);
	}
	close(fd);
	d = qh_open(f, "d.vdi", false);
	assert_int_equal(disk_pread(d, r, 8192, 3 * BS - 4096), 0);
	assert_true(qh_all_bytes(r, 4096, 0));
	assert_memory_equal(r + 4096, w + 4096, 4096);
	qh_fill(w, 4096, 2);
	assert_int_equal(disk_pwrite(d, w, 4096, 2 * BS + 512), 0);
	assert_int_equal(disk_pread(d, r, 8192, 2 * BS), 0);
	assert_true(qh_all_bytes(r, 512, 0));
	assert_memory_equal(r + 512, w, 4096);
	disk_close(d);
	check_clean(f, "d.vdi", 2);
	if (qh_have_qemu_img())
		assert_int_equal(qh_sh("qemu-img check -q '%s'", p), 0);
	free(w);
	free(r);
}

static void test_static(void **state)
{
	struct fx *f = *state;
	uint8_t w[4096], r[4096];
	struct disk *d;
	const char *p = qh_path(f, "s.vdi");
	struct disk_info info = { 0 };
	uint64_t s0;

	create(f, "s.vdi", 3 * BS, "static=on");
	s0 = qh_fsize(p);
	assert_int_equal(s0, 0x400 + 3 * BS);
	check_clean(f, "s.vdi", 3);
	d = qh_open(f, "s.vdi", false);
	disk_format_find("vdi")->info(d, &info);
	assert_string_equal(info.subformat, "static");
	assert_int_equal(info.cluster_size, BS);
	qh_fill(w, sizeof(w), 5);
	assert_int_equal(disk_pwrite(d, w, sizeof(w), 2 * BS + 4096), 0);
	assert_int_equal(qh_fsize(p), s0);
	assert_int_equal(disk_pread(d, r, sizeof(r), 2 * BS + 4096), 0);
	assert_memory_equal(r, w, sizeof(w));
	disk_close(d);
	/* options: unknown ones and backing files are refused, by name */
	{
		struct disk_create_opts o = { .size = BS, .options = "static=maybe" };
		const struct disk_format *vdi = disk_format_find("vdi");

		assert_int_equal(vdi->create(qh_path(f, "x.vdi"), &o, f->err, sizeof(f->err)),
				 -EINVAL);
		o.options = "cluster_size=64k";
		assert_int_equal(vdi->create(qh_path(f, "x.vdi"), &o, f->err, sizeof(f->err)),
				 -EINVAL);
		assert_non_null(strstr(f->err, "cluster_size"));
		o.options = NULL;
		o.backing_file = "b.raw";
		assert_int_equal(vdi->create(qh_path(f, "x.vdi"), &o, f->err, sizeof(f->err)),
				 -ENOTSUP);
	}
}

/* Hostile images are refused at open with one line naming the file. */
static void test_hostile_open(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;
	uint32_t e = htole32(7);
	int fd;

	create(f, "b.vdi", 4 * BS, NULL);
	fd = open(qh_path(f, "b.vdi"), O_RDWR);
	assert_int_equal(pwrite(fd, &e, 4, 0x200 + 4), 4);
	close(fd);
	assert_int_equal(disk_open(qh_path(f, "b.vdi"), NULL, &d, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "b.vdi: VDI block map entry 1: block index 7"));
	e = htole32(0);
	fd = open(qh_path(f, "b.vdi"), O_RDWR);
	assert_int_equal(pwrite(fd, &e, 4, 0x200 + 4), 4);
	close(fd);
	assert_int_equal(disk_open(qh_path(f, "b.vdi"), NULL, &d, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "past the end of the file"));
}

/* A raw image opened without format= stays raw: a guest write that would
 * make sector 0 probe as VDI is refused (format.h's probe rule). */
static void test_probed_raw_guard(void **state)
{
	struct fx *f = *state;
	uint8_t hdr[4096];
	int fd;

	create(f, "h.vdi", 4 * 1024 * 1024, NULL);
	fd = open(qh_path(f, "h.vdi"), O_RDONLY);
	assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), 1024); /* header and map */
	close(fd);
	qh_probed_raw_refuses(f, hdr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_header, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_bmap, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_io, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_static, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_probed_raw_guard, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_open, qh_setup, qh_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
