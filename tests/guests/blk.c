// SPDX-License-Identifier: MIT
/*
 * blk: drives the vmm's virtio-blk devices (virtio 1.2 section 5.2) with
 * its own minimal polled driver (lib/virtio.c) and checks what the device
 * does. The mode comes from the command line:
 *
 *   mode=rw        negotiate, check the capacity (sectors=N), write patterns
 *                  (first and last sectors, multi-segment and indirect
 *                  chains), read them back with other segmentations, flush,
 *                  out-of-range and unknown requests, GET_ID (serial=S)
 *   mode=verify    read back what a mode=rw run wrote (tag=T): data persists
 *   mode=discard   discard and write-zeroes read back as zeros, neighbours
 *                  untouched
 *   mode=ro        a read-only disk (host-filled with tag 5): RO offered,
 *                  reads work, writes fail with IOERR and change nothing
 *   mode=multi     two disks (sectors0=, sectors1=), each with its own data
 *   mode=malformed chains the device must refuse (no status byte, a
 *                  descriptor loop, a buffer outside RAM): it goes to
 *                  DEVICE_NEEDS_RESET (or fails the request), and works
 *                  again after a reset
 *   mode=bench     4 KiB random reads at queue depth 1 and 32 (n1=, n32=),
 *                  printing markers the host timestamps (bench/guest_blk_iops.py)
 *
 * The data pattern of sector s with tag t (the host side computes the same,
 * tests/guests/run_guest_tests.py): bytes 0..7 = s (le64), 8..15 =
 * 0x4b4c4276_00000000 | t (le64), the rest the byte (s * 31 + t) & 0xff.
 * Tag 0 means zeros.
 *
 * Exit status: 0 when every check passed, else one of enum blk_status (the
 * failed check is printed).
 */
#include "blk.h"

int guest_main(uint64_t zero_page);

/* Guest RAM is identity mapped: these addresses are what the device gets. */
static struct vq_mem qmem[MAX_DISKS];
struct blk_disk disks[MAX_DISKS];
struct blk_slot slots[QD_MAX];
static uint8_t wbuf[MAX_SECTORS * SECTOR] __attribute__((aligned(4096)));
static uint8_t rbuf[MAX_SECTORS * SECTOR] __attribute__((aligned(4096)));
static uint8_t ebuf[MAX_SECTORS * SECTOR] __attribute__((aligned(4096)));

/* One `repe cmpsq` instead of a byte loop: ring-0 loops are slow on PVM. */
static int mem_equal(const void *a, const void *b, size_t n)
{
	size_t q = n / 8;
	uint8_t eq;

	__asm__ volatile("repe cmpsq; sete %0"
			 : "=q"(eq), "+S"(a), "+D"(b), "+c"(q)
			 :
			 : "memory", "cc");
	/* with q == 0 the flags are stale: treat an empty compare as equal */
	return n < 8 || eq;
}

static void fill_pattern(uint8_t *buf, uint64_t sector, uint32_t nsect, uint8_t tag)
{
	uint32_t i;

	if (!tag) {
		memset(buf, 0, (size_t)nsect * SECTOR);
		return;
	}
	for (i = 0; i < nsect; i++, buf += SECTOR) {
		uint64_t s = sector + i;

		memset(buf, (int)((s * 31 + tag) & 0xff), SECTOR);
		*(uint64_t *)buf = s;
		*(uint64_t *)(buf + 8) = PATTERN_MAGIC | tag;
	}
}

/* The first sector of `buf` that differs from the pattern, printed. */
static int check_pattern(const char *what, const uint8_t *buf, uint64_t sector, uint32_t nsect,
			 uint8_t tag)
{
	uint32_t i;

	fill_pattern(ebuf, sector, nsect, tag);
	if (mem_equal(buf, ebuf, (size_t)nsect * SECTOR))
		return 0;
	for (i = 0; i < nsect; i++)
		if (!mem_equal(buf + i * SECTOR, ebuf + i * SECTOR, SECTOR))
			break;
	printf("blk: %s: sector %lu differs from tag %u: starts %016lx %016lx\n", what, sector + i,
	       tag, *(const uint64_t *)(buf + i * SECTOR),
	       *(const uint64_t *)(buf + i * SECTOR + 8));
	return BS_DATA;
}

static int str_is(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(s, lit, len);
}

/*
 * One request, synchronously: header, `ndata` data buffers (device-readable
 * for writes, writable for reads/GET_ID), status byte. Returns the status
 * byte, or -BS_* if the request did not come back properly.
 */
static int blk_request(struct blk_disk *d, uint32_t type, uint64_t sector,
		       const struct vio_buf *data, unsigned int ndata, int data_in, int indirect)
{
	struct blk_slot *s = &slots[0];
	struct vio_buf b[8];
	uint32_t len, want_len = 1;
	unsigned int i, n = 0;
	uint16_t head;
	int h;

	s->hdr = (struct blk_hdr){ .type = type, .sector = sector };
	s->status = STATUS_NONE;
	b[n++] = (struct vio_buf){ pa(&s->hdr), sizeof(s->hdr) };
	for (i = 0; i < ndata && n < 7; i++) {
		b[n++] = data[i];
		if (data_in)
			want_len += data[i].len;
	}
	b[n++] = (struct vio_buf){ pa(&s->status), 1 };
	h = vq_add(&d->q, b, data_in ? 1 : n - 1, data_in ? n - 1 : 1, indirect ? s->ind : NULL);
	if (h < 0) {
		printf("blk: vd%c: ring full\n", 'a' + d->index);
		return -BS_NO_COMPLETION;
	}
	vq_kick(&d->q);
	if (!vq_wait_used(&d->q, &head, &len, REQ_TIMEOUT_MS)) {
		printf("blk: vd%c: request type %u sector %lu: no completion (device status "
		       "0x%x)\n",
		       'a' + d->index, type, sector, vio_status(&d->vio));
		return -BS_NO_COMPLETION;
	}
	if (head != h) {
		printf("blk: vd%c: used head %u, expected %d\n", 'a' + d->index, head, h);
		return -BS_USED;
	}
	/* 2.7.8.2: len is the number of bytes written into the chain. For a
	 * successful read that is every data byte plus the status byte. */
	if (s->status == BLK_S_OK && type == BLK_T_IN && len != want_len) {
		printf("blk: vd%c: read of %u bytes used with len %u\n", 'a' + d->index, want_len,
		       len);
		return -BS_USED;
	}
	return s->status;
}

/* Split `nsect` sectors of `buf` into segments of segs[] sectors each. */
static unsigned int make_segs(struct vio_buf *b, uint8_t *buf, const uint8_t *segs,
			      unsigned int nseg)
{
	unsigned int i;

	for (i = 0; i < nseg; i++) {
		b[i] = (struct vio_buf){ pa(buf), (uint32_t)segs[i] * SECTOR };
		buf += segs[i] * SECTOR;
	}
	return nseg;
}

/* `got` (a status byte or -BS_*) must be `want` or `alt`. */
static int one_of(const char *what, int got, int want, int alt)
{
	if (got < 0)
		return -got;
	if (got != want && got != alt) {
		printf("blk: %s: status %d, expected %d\n", what, got, want);
		return BS_REQ_STATUS;
	}
	return 0;
}

#define expect_status(what, got, want) one_of(what, got, want, want)

/* A region and how a request splits it into segments (in sectors). */
struct region {
	uint64_t sector;
	uint32_t nsect;
	uint8_t nseg;
	uint8_t segs[5];
	uint8_t indirect;
	uint8_t tag; /* for reads: what to expect (0: zeros) */
};

static int region_write(struct blk_disk *d, const struct region *r, uint8_t tag)
{
	struct vio_buf b[5];

	fill_pattern(wbuf, r->sector, r->nsect, tag);
	make_segs(b, wbuf, r->segs, r->nseg);
	return expect_status("write",
			     blk_request(d, BLK_T_OUT, r->sector, b, r->nseg, 0, r->indirect),
			     BLK_S_OK);
}

static int region_read(struct blk_disk *d, const struct region *r, uint8_t tag)
{
	struct vio_buf b[5];
	int ret;

	memset(rbuf, 0xee, (size_t)r->nsect * SECTOR);
	make_segs(b, rbuf, r->segs, r->nseg);
	ret = expect_status("read", blk_request(d, BLK_T_IN, r->sector, b, r->nseg, 1, r->indirect),
			    BLK_S_OK);
	return ret ? ret : check_pattern("read back", rbuf, r->sector, r->nsect, tag);
}

/*
 * What mode=rw writes and mode=verify reads (the host checks the same
 * sectors in the image; keep run_guest_tests.py's BLK_RW_WRITES in step).
 * `cap` is the capacity in sectors; MID is cap / 2 + 3.
 */
static unsigned int rw_writes(uint64_t cap, struct region *w)
{
	unsigned int n = 0;

	w[n++] = (struct region){ 0, 1, 1, { 1 }, 0, 0 };
	w[n++] = (struct region){ 1, 1, 1, { 1 }, 0, 0 };
	w[n++] = (struct region){ 16, 8, 3, { 1, 3, 4 }, 0, 0 };
	w[n++] = (struct region){ 64, 8, 4, { 2, 2, 2, 2 }, 1, 0 };
	w[n++] = (struct region){ 128, 32, 4, { 8, 8, 8, 8 }, 0, 0 };
	w[n++] = (struct region){ cap / 2 + 3, 1, 1, { 1 }, 0, 0 };
	w[n++] = (struct region){ cap - 1, 1, 1, { 1 }, 0, 0 };
	w[n++] = (struct region){ cap - 9, 8, 2, { 4, 4 }, 0, 0 };
	return n;
}

/* Reads of the same data cut differently; tag 1 = the written tag. */
static unsigned int rw_reads(uint64_t cap, struct region *r)
{
	unsigned int n = 0;

	r[n++] = (struct region){ 0, 2, 1, { 2 }, 0, 1 };
	r[n++] = (struct region){ 2, 14, 1, { 14 }, 0, 0 }; /* never written: zeros */
	r[n++] = (struct region){ 16, 8, 1, { 8 }, 0, 1 };
	r[n++] = (struct region){ 16, 8, 3, { 1, 1, 6 }, 1, 1 };
	r[n++] = (struct region){ 64, 8, 2, { 4, 4 }, 0, 1 };
	r[n++] = (struct region){ 128, 32, 1, { 32 }, 0, 1 };
	r[n++] = (struct region){ cap / 2 + 3, 1, 1, { 1 }, 0, 1 };
	r[n++] = (struct region){ cap - 9, 9, 1, { 9 }, 0, 1 };
	return n;
}

static int blk_open(struct blk_disk *d, unsigned int index, uint64_t wanted, uint64_t required)
{
	uint64_t base = 0xd0000000ULL + index * 0x1000ULL; /* LAYOUT_VIRTIO_MMIO_START */
	int id = vio_probe(base), ret;

	d->index = index;
	if (id != VIRTIO_ID_BLOCK) {
		printf("blk: no virtio-blk device at 0x%lx (device id %d)\n", base, id);
		return BS_NO_DEVICE;
	}
	ret = vio_init(&d->vio, base, wanted | VIO_BIT(VIO_F_VERSION_1),
		       required | VIO_BIT(VIO_F_VERSION_1));
	if (ret)
		return ret == GS_BAD_CONFIG ? BS_FEATURES : ret;
	ret = vq_setup(&d->vio, &d->q, 0, VQ_MAX_SIZE, &qmem[index]);
	if (ret)
		return ret;
	vio_driver_ok(&d->vio);
	d->capacity = vio_config64(&d->vio, BLK_CFG_CAPACITY);
	return 0;
}

#define ALL_FEATURES                                                               \
	(VIO_BIT(BLK_F_SIZE_MAX) | VIO_BIT(BLK_F_SEG_MAX) | VIO_BIT(BLK_F_RO) |    \
	 VIO_BIT(BLK_F_BLK_SIZE) | VIO_BIT(BLK_F_FLUSH) | VIO_BIT(BLK_F_DISCARD) | \
	 VIO_BIT(BLK_F_WRITE_ZEROES) | VIO_BIT(VIO_F_EVENT_IDX) | VIO_BIT(VIO_F_INDIRECT_DESC))

int blk_open_checked(struct blk_disk *d, unsigned int index, const char *cmdline, const char *key,
		     uint64_t required)
{
	uint64_t want;
	int ret = blk_open(d, index, ALL_FEATURES, required);

	if (ret)
		return ret;
	printf("blk: vd%c: capacity %lu sectors, features 0x%lx (offered 0x%lx)\n", 'a' + index,
	       d->capacity, d->vio.features, d->vio.device_features);
	if (cmdline_get_uint(cmdline, key, &want) && want != d->capacity) {
		printf("blk: vd%c: capacity %lu, expected %lu\n", 'a' + index, d->capacity, want);
		return BS_CAPACITY;
	}
	if (d->capacity < 4096) {
		printf("blk: vd%c: the checks need at least 4096 sectors\n", 'a' + index);
		return BS_CAPACITY;
	}
	return 0;
}

static int write_regions(struct blk_disk *d, uint8_t tag)
{
	struct region w[8];
	unsigned int n = rw_writes(d->capacity, w), i;
	int ret;

	for (i = 0; i < n; i++)
		if ((ret = region_write(d, &w[i], tag)))
			return ret;
	return 0;
}

static int read_regions(struct blk_disk *d, uint8_t tag)
{
	struct region r[8];
	unsigned int n = rw_reads(d->capacity, r), i;
	int ret;

	for (i = 0; i < n; i++) {
		if (r[i].tag)
			r[i].tag = tag;
		if ((ret = region_read(d, &r[i], r[i].tag)))
			return ret;
	}
	return 0;
}

/* The first request raises InterruptStatus bit 0 (4.2.2: "used buffer
 * notification"), and an ACK clears it. Polled briefly: the device may
 * publish the used entry a moment before it sets the bit. */
static int check_interrupt(struct blk_disk *d)
{
	uint64_t start = rdtsc();
	uint32_t s;

	do
		s = vio_read32(&d->vio, VIO_INTERRUPT_STATUS);
	while (!(s & VIO_INT_VRING) && rdtsc() - start < 500000000ULL);
	if (!(s & VIO_INT_VRING)) {
		printf("blk: InterruptStatus 0x%x after a completion, expected bit 0\n", s);
		return BS_INTERRUPT;
	}
	vio_ack_interrupt(&d->vio);
	s = vio_read32(&d->vio, VIO_INTERRUPT_STATUS);
	if (s & VIO_INT_VRING) {
		printf("blk: InterruptStatus 0x%x after the ACK\n", s);
		return BS_INTERRUPT;
	}
	printf("blk: used-buffer interrupt raised and acknowledged\n");
	return 0;
}

static int check_get_id(struct blk_disk *d, const char *cmdline)
{
	struct vio_buf b = { pa(rbuf), BLK_ID_BYTES };
	size_t len = 0, i;
	const char *want = cmdline_get_str(cmdline, "serial", &len);
	int ret;

	memset(rbuf, 0xee, BLK_ID_BYTES);
	ret = expect_status("GET_ID", blk_request(d, BLK_T_GET_ID, 0, &b, 1, 1, 0), BLK_S_OK);
	if (ret)
		return ret;
	for (i = 0; i < BLK_ID_BYTES && rbuf[i] >= ' ' && rbuf[i] < 0x7f; i++)
		;
	/* 5.2.6: the id string is NUL-terminated unless it is 20 bytes long */
	printf("blk: id '");
	for (size_t k = 0; k < i; k++)
		con_putc((char)rbuf[k]);
	printf("'\n");
	if (want && (len > BLK_ID_BYTES || i != len || memcmp(rbuf, want, len) ||
		     (len < BLK_ID_BYTES && rbuf[len] != 0))) {
		printf("blk: GET_ID does not match serial=\n");
		return BS_ID;
	}
	return 0;
}

static const struct bad_req {
	const char *what;
	uint32_t type;
	uint8_t from_end; /* sector counts back from the capacity */
	uint8_t in;
	uint8_t want;
	uint64_t sector;
	uint32_t len;
} bad[] = {
	{ "read at the capacity", BLK_T_IN, 1, 1, BLK_S_IOERR, 0, SECTOR },
	{ "read across the end", BLK_T_IN, 1, 1, BLK_S_IOERR, 1, 2 * SECTOR },
	{ "write across the end", BLK_T_OUT, 1, 0, BLK_S_IOERR, 1, 2 * SECTOR },
	/* sector * 512 overflows 64 bits */
	{ "read at sector 2^63", BLK_T_IN, 0, 1, BLK_S_IOERR, 1ULL << 63, SECTOR },
	{ "read of 100 bytes", BLK_T_IN, 0, 1, BLK_S_IOERR, 0, 100 },
	{ "request type 0x7f", 0x7f, 0, 1, BLK_S_UNSUPP, 0, SECTOR },
};

static int mode_rw(const char *cmdline)
{
	struct blk_disk *d = &disks[0];
	uint64_t f, cap;
	unsigned int i;
	int ret;

	if ((ret = blk_open_checked(d, 0, cmdline, "sectors",
				    VIO_BIT(BLK_F_FLUSH) | VIO_BIT(BLK_F_SEG_MAX))))
		return ret;
	f = d->vio.features;
	cap = d->capacity;
	printf("blk: size_max %u seg_max %u blk_size %u indirect %d event_idx %d\n",
	       f & VIO_BIT(BLK_F_SIZE_MAX) ? vio_config32(&d->vio, BLK_CFG_SIZE_MAX) : 0,
	       vio_config32(&d->vio, BLK_CFG_SEG_MAX),
	       f & VIO_BIT(BLK_F_BLK_SIZE) ? vio_config32(&d->vio, BLK_CFG_BLK_SIZE) : 0,
	       d->q.indirect, d->q.event_idx);
	if (f & VIO_BIT(BLK_F_RO)) {
		printf("blk: a writable disk offers RO\n");
		return BS_FEATURES;
	}
	if (vio_config32(&d->vio, BLK_CFG_SEG_MAX) < 5) {
		printf("blk: seg_max below the 5 segments the checks use\n");
		return BS_FEATURES;
	}

	vq_enable_interrupts(&d->q);
	if ((ret = write_regions(d, 1)) || (ret = check_interrupt(d)))
		return ret;
	printf("blk: wrote 8 regions (first and last sectors, multi-segment, indirect)\n");
	if ((ret = read_regions(d, 1)))
		return ret;
	printf("blk: read back 8 regions, data matches\n");
	if ((ret = expect_status("flush", blk_request(d, BLK_T_FLUSH, 0, NULL, 0, 0, 0), BLK_S_OK)))
		return ret;
	printf("blk: flush ok\n");

	/* 5.2.6.2: out-of-range, odd-length and unknown requests fail with
	 * IOERR or UNSUPP, and the device goes on */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vio_buf b = { pa(rbuf), bad[i].len };
		uint64_t sector = bad[i].from_end ? cap - bad[i].sector : bad[i].sector;

		ret = expect_status(bad[i].what,
				    blk_request(d, bad[i].type, sector, &b, 1, bad[i].in, 0),
				    bad[i].want);
		if (ret)
			return ret;
	}
	printf("blk: out-of-range and odd-length requests get IOERR\n");
	printf("blk: unknown request type gets UNSUPP\n");
	if ((ret = check_get_id(d, cmdline)))
		return ret;
	/* the disk still reads after the failed requests */
	if ((ret = read_regions(d, 1)))
		return ret;
	printf("blk: mode=rw passed\n");
	return 0;
}

static int mode_verify(const char *cmdline)
{
	uint64_t tag = 1;
	int ret;

	cmdline_get_uint(cmdline, "tag", &tag);
	if ((ret = blk_open_checked(&disks[0], 0, cmdline, "sectors", 0)))
		return ret;
	if ((ret = read_regions(&disks[0], (uint8_t)tag)))
		return ret;
	printf("blk: mode=verify passed: tag %lu data persisted\n", tag);
	return 0;
}

static int dwz(struct blk_disk *d, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	struct blk_slot *s = &slots[1];
	struct vio_buf b = { pa(&s->dwz), sizeof(s->dwz) };

	s->dwz = (struct blk_dwz){ .sector = sector, .num_sectors = n, .flags = flags };
	return blk_request(d, type, 0, &b, 1, 0, 0);
}

/* Write (or read and expect) tag `tag` over [s, s + n), up to MAX_SECTORS
 * per request. */
static int span(struct blk_disk *d, uint64_t s, uint64_t n, uint8_t tag, int write)
{
	struct region r = { 0, 0, 1, { 0 }, 0, 0 };
	int ret;

	for (; n; s += r.nsect, n -= r.nsect) {
		r.sector = s;
		r.nsect = n < MAX_SECTORS ? (uint32_t)n : MAX_SECTORS;
		r.segs[0] = (uint8_t)r.nsect;
		ret = write ? region_write(d, &r, tag) : region_read(d, &r, tag);
		if (ret)
			return ret;
	}
	return 0;
}

#define write_span(d, s, n, tag) span(d, s, n, tag, 1)
#define read_span(d, s, n, tag)	 span(d, s, n, tag, 0)

/*
 * The spans mode=discard uses (run_guest_tests.py checks the same):
 * tag 3 over [2016, 2336), then DISCARD [2048, 2304) (two whole 64 KiB
 * qcow2 clusters); tag 3 over [2392, 2456), WRITE_ZEROES [2400, 2440);
 * tag 3 over [3072, 3328), WRITE_ZEROES with UNMAP [3072, 3328).
 */
static int mode_discard(const char *cmdline)
{
	struct blk_disk *d = &disks[0];
	int ret;

	if ((ret = blk_open_checked(d, 0, cmdline, "sectors",
				    VIO_BIT(BLK_F_DISCARD) | VIO_BIT(BLK_F_WRITE_ZEROES))))
		return ret;
	printf("blk: max_discard_sectors %u max_write_zeroes_sectors %u may_unmap %u\n",
	       vio_config32(&d->vio, BLK_CFG_MAX_DISCARD), vio_config32(&d->vio, BLK_CFG_MAX_WZ),
	       vio_config8(&d->vio, BLK_CFG_WZ_MAY_UNMAP));
	if ((ret = write_span(d, 2016, 320, 3)) || (ret = write_span(d, 2392, 64, 3)) ||
	    (ret = write_span(d, 3072, 256, 3)))
		return ret;
	if ((ret = expect_status("discard", dwz(d, BLK_T_DISCARD, 2048, 256, 0), BLK_S_OK)) ||
	    (ret = read_span(d, 2016, 32, 3)) || (ret = read_span(d, 2048, 256, 0)) ||
	    (ret = read_span(d, 2304, 32, 3)))
		return ret;
	printf("blk: discarded range reads as zeros, neighbours intact\n");
	if ((ret = expect_status("write-zeroes", dwz(d, BLK_T_WRITE_ZEROES, 2400, 40, 0),
				 BLK_S_OK)) ||
	    (ret = read_span(d, 2392, 8, 3)) || (ret = read_span(d, 2400, 40, 0)) ||
	    (ret = read_span(d, 2440, 16, 3)))
		return ret;
	printf("blk: write-zeroes range reads as zeros, neighbours intact\n");
	if ((ret = expect_status("write-zeroes unmap",
				 dwz(d, BLK_T_WRITE_ZEROES, 3072, 256, BLK_WZ_F_UNMAP),
				 BLK_S_OK)) ||
	    (ret = read_span(d, 3072, 256, 0)))
		return ret;
	printf("blk: write-zeroes with unmap reads as zeros\n");
	/* 5.2.6.2: unmap is not a discard flag (UNSUPP); ranges past the end are IOERR */
	if ((ret = expect_status("discard with unmap flag",
				 dwz(d, BLK_T_DISCARD, 2048, 8, BLK_WZ_F_UNMAP), BLK_S_UNSUPP)) ||
	    (ret = expect_status("discard past the end",
				 dwz(d, BLK_T_DISCARD, d->capacity - 8, 16, 0), BLK_S_IOERR)) ||
	    (ret = expect_status("write-zeroes past the end",
				 dwz(d, BLK_T_WRITE_ZEROES, d->capacity, 1, 0), BLK_S_IOERR)))
		return ret;
	if ((ret = expect_status("flush", blk_request(d, BLK_T_FLUSH, 0, NULL, 0, 0, 0), BLK_S_OK)))
		return ret;
	printf("blk: mode=discard passed\n");
	return 0;
}

/* The host filled sectors 0..63 with tag 5. */
static int mode_ro(const char *cmdline)
{
	struct blk_disk *d = &disks[0];
	struct vio_buf b = { pa(wbuf), 8 * SECTOR };
	int ret;

	if ((ret = blk_open_checked(d, 0, cmdline, "sectors", VIO_BIT(BLK_F_RO))))
		return ret;
	printf("blk: RO offered\n");
	if ((ret = read_span(d, 0, 64, 5)))
		return ret;
	printf("blk: read-only disk reads\n");
	fill_pattern(wbuf, 0, 8, 9);
	if ((ret = expect_status("write to a read-only disk",
				 blk_request(d, BLK_T_OUT, 0, &b, 1, 0, 0), BLK_S_IOERR)))
		return ret;
	/* without DISCARD/WRITE_ZEROES negotiated these are UNSUPP; with
	 * them, a read-only disk answers IOERR */
	if ((ret = one_of("discard on a read-only disk", dwz(d, BLK_T_DISCARD, 0, 8, 0),
			  BLK_S_IOERR, BLK_S_UNSUPP)) ||
	    (ret = one_of("write-zeroes on a read-only disk", dwz(d, BLK_T_WRITE_ZEROES, 0, 8, 0),
			  BLK_S_IOERR, BLK_S_UNSUPP)))
		return ret;
	if ((ret = read_span(d, 0, 64, 5)))
		return ret;
	printf("blk: writes refused with IOERR, data unchanged\n");
	printf("blk: mode=ro passed\n");
	return 0;
}

static int mode_multi(const char *cmdline)
{
	static const char *const keys[MAX_DISKS] = { "sectors0", "sectors1" };
	unsigned int i;
	int ret;

	for (i = 0; i < MAX_DISKS; i++)
		if ((ret = blk_open_checked(&disks[i], i, cmdline, keys[i], 0)))
			return ret;
	/* a third window must be empty: probing stops there */
	if (vio_probe(0xd0000000ULL + MAX_DISKS * 0x1000ULL) != -1) {
		printf("blk: a device in window %u, expected none\n", MAX_DISKS);
		return BS_NO_DEVICE;
	}
	/* the same sectors of both disks, different data */
	for (i = 0; i < MAX_DISKS; i++)
		if ((ret = write_regions(&disks[i], (uint8_t)(10 + i))))
			return ret;
	for (i = 0; i < MAX_DISKS; i++)
		if ((ret = read_regions(&disks[i], (uint8_t)(10 + i))))
			return ret;
	printf("blk: mode=multi passed: 2 disks, each with its own data\n");
	return 0;
}

/* Wait for DEVICE_NEEDS_RESET after a bad chain, then reset and re-open. */
static int expect_needs_reset(struct blk_disk *d, const char *what, int or_ioerr)
{
	struct blk_slot *s = &slots[0];
	uint16_t head;
	uint32_t st, len, ints;
	int ret;

	st = vio_wait_status(&d->vio, VIO_S_DEVICE_NEEDS_RESET, 2000);
	if (!(st & VIO_S_DEVICE_NEEDS_RESET)) {
		if (or_ioerr && vq_get_used(&d->q, &head, &len) && s->status == BLK_S_IOERR) {
			printf("blk: %s: request failed with IOERR\n", what);
			return 0;
		}
		printf("blk: %s: status 0x%x, no DEVICE_NEEDS_RESET\n", what, st);
		return BS_NO_RESET_STATE;
	}
	/* 2.1.2: the device SHOULD send a configuration change notification
	 * when it sets DEVICE_NEEDS_RESET; this one does, so hold it to it. */
	ints = vio_ack_interrupt(&d->vio);
	printf("blk: %s: DEVICE_NEEDS_RESET (status 0x%x, interrupt status 0x%x)\n", what, st,
	       ints);
	if (!(ints & VIO_INT_CONFIG)) {
		printf("blk: no configuration change interrupt with DEVICE_NEEDS_RESET\n");
		return BS_INTERRUPT;
	}
	if ((ret = blk_open(d, d->index, ALL_FEATURES, 0)))
		return ret;
	/* the device works again after the reset */
	if ((ret = read_span(d, 0, 8, 6)))
		return ret;
	printf("blk: reset, device works again\n");
	return 0;
}

static int mode_malformed(const char *cmdline)
{
	struct blk_disk *d = &disks[0];
	struct blk_slot *s = &slots[0];
	struct vring_desc *desc;
	struct vio_buf b[2];
	int h, ret;

	if ((ret = blk_open_checked(d, 0, cmdline, "sectors", 0)) || (ret = write_span(d, 0, 8, 6)))
		return ret;

	/* 1. header and data, no writable status byte (5.2.6: the status
	 * is the last, device-writable byte) */
	s->hdr = (struct blk_hdr){ .type = BLK_T_OUT, .sector = 0 };
	fill_pattern(wbuf, 0, 1, 7);
	b[0] = (struct vio_buf){ pa(&s->hdr), sizeof(s->hdr) };
	b[1] = (struct vio_buf){ pa(wbuf), SECTOR };
	if (vq_add(&d->q, b, 2, 0, NULL) < 0)
		return BS_NO_COMPLETION;
	vq_kick(&d->q);
	if ((ret = expect_needs_reset(d, "chain without a status byte", 0)))
		return ret;

	/* 2. a descriptor whose next points at itself: an endless chain */
	s->hdr = (struct blk_hdr){ .type = BLK_T_IN, .sector = 0 };
	b[1] = (struct vio_buf){ pa(rbuf), SECTOR };
	h = vq_add(&d->q, b, 1, 1, NULL);
	if (h < 0)
		return BS_NO_COMPLETION;
	desc = d->q.mem->desc;
	desc[h].flags = VRING_DESC_F_NEXT;
	desc[h].next = (uint16_t)h;
	vq_kick(&d->q);
	if ((ret = expect_needs_reset(d, "descriptor loop", 0)))
		return ret;

	/* 3. a data buffer far outside guest RAM (512 GiB) */
	s->status = STATUS_NONE;
	b[1] = (struct vio_buf){ 0x8000000000ULL, SECTOR };
	{
		struct vio_buf c[3] = { b[0], b[1], { pa(&s->status), 1 } };

		if (vq_add(&d->q, c, 1, 2, NULL) < 0)
			return BS_NO_COMPLETION;
	}
	vq_kick(&d->q);
	if ((ret = expect_needs_reset(d, "buffer outside guest RAM", 1)))
		return ret;
	if ((ret = read_span(d, 0, 8, 6)))
		return ret;
	printf("blk: mode=malformed passed\n");
	return 0;
}

int guest_main(uint64_t zero_page)
{
	const char *cmdline = bp_cmdline(zero_page);
	size_t len = 0;
	const char *mode = cmdline_get_str(cmdline, "mode", &len);

	printf("blk: cmdline: %s\n", cmdline);
	if (!mode) {
		printf("blk: no mode= on the command line\n");
		return BS_USAGE;
	}
	if (str_is(mode, len, "rw"))
		return mode_rw(cmdline);
	if (str_is(mode, len, "verify"))
		return mode_verify(cmdline);
	if (str_is(mode, len, "discard"))
		return mode_discard(cmdline);
	if (str_is(mode, len, "ro"))
		return mode_ro(cmdline);
	if (str_is(mode, len, "multi"))
		return mode_multi(cmdline);
	if (str_is(mode, len, "malformed"))
		return mode_malformed(cmdline);
	if (str_is(mode, len, "bench"))
		return blk_mode_bench(cmdline);
	printf("blk: unknown mode\n");
	return BS_USAGE;
}
