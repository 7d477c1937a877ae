// SPDX-License-Identifier: MIT
/*
 * p9: drives vmm's virtio-9p device (--share) with its own minimal polled
 * 9P2000.L client over lib/virtio.c, and checks what the server does. The
 * host side (run_guest_tests.py) prepares the share and checks the results
 * on the host's files afterwards. The mode comes from the command line:
 *
 *   mode=rw   the mount tag (tag=T) is in the config space; version and
 *             attach; walk to hello.txt and read it; create guest.txt and
 *             write it; mkdir newdir; rename guest.txt to newdir/renamed.txt;
 *             unlink to-delete; getattr sizes. Then the escapes, each of
 *             which must fail: ".." at the root stays at the root (the file
 *             next to the share is not found), names with '/', walking
 *             through the host's planted symlink "evil" (to the directory
 *             above the share) and opening it, a rename and a create across
 *             the boundary
 *   mode=ro   a readonly share: reads work; create, mkdir, open for writing,
 *             unlink and rename fail with EROFS
 *
 * Exit status: 0 when every check passed, else one of enum p9_status (the
 * failed check is printed).
 */
#include "lib/guest.h"
#include "lib/virtio.h"

#define VIRTIO_ID_9P   9
#define P9_F_MOUNT_TAG 0
#define MSIZE	       8192
#define NOFID	       0xffffffffU

enum p9_status {
	PS_USAGE = 30,
	PS_NO_DEVICE = 31,
	PS_TAG = 32,	 /* wrong mount tag */
	PS_TIMEOUT = 33, /* no reply */
	PS_ERROR = 34,	 /* an operation that should work failed */
	PS_ESCAPE = 35,	 /* an operation that should fail worked */
	PS_DATA = 36,	 /* wrong data read back */
};

/* 9P message types (Linux include/net/9p/9p.h) */
enum {
	RLERROR = 7,
	TLOPEN = 12,
	TLCREATE = 14,
	TGETATTR = 24,
	TMKDIR = 72,
	TRENAMEAT = 74,
	TUNLINKAT = 76,
	TVERSION = 100,
	TATTACH = 104,
	TWALK = 110,
	TREAD = 116,
	TWRITE = 118,
	TCLUNK = 120,
};

static struct vq_mem qmem;
static struct vio_dev dev;
static struct vq q;
static uint8_t req[MSIZE] __attribute__((aligned(64)));
static uint8_t resp[MSIZE] __attribute__((aligned(64)));
static uint32_t pos, rpos, rlen;
static uint32_t last_error; /* errno of the last Rlerror, 0 if none */

static void put(uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		req[pos++] = (uint8_t)(v >> (8 * i));
}

static void put_str(const char *s)
{
	size_t n = strlen(s);

	put(n, 2);
	memcpy(req + pos, s, n);
	pos += (uint32_t)n;
}

static uint64_t get(unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n && rpos < rlen; i++)
		v |= (uint64_t)resp[rpos++] << (8 * i);
	return v;
}

static void begin(uint8_t type)
{
	pos = 0;
	put(0, 4);
	put(type, 1);
	put(1, 2); /* tag */
}

/* Send the request; returns 0 for the expected reply, the Rlerror errno,
 * or -1 if nothing came back. */
static int call(void)
{
	struct vio_buf b[2] = { { (uint64_t)(uintptr_t)req, 0 },
				{ (uint64_t)(uintptr_t)resp, MSIZE } };
	uint8_t type = req[4];
	uint16_t head;
	uint32_t len;

	req[0] = (uint8_t)pos;
	req[1] = (uint8_t)(pos >> 8);
	b[0].len = pos;
	if (vq_add(&q, b, 1, 1, NULL) < 0)
		return -1;
	vq_kick(&q);
	if (!vq_wait_used(&q, &head, &len, 5000))
		return -1;
	rlen = len;
	rpos = 7;
	last_error = 0;
	if (len >= 11 && resp[4] == RLERROR) {
		last_error = (uint32_t)get(4);
		return (int)last_error;
	}
	return len >= 7 && resp[4] == type + 1 ? 0 : -1;
}

static int walk(uint32_t fid, uint32_t newfid, unsigned int n, const char *const *names)
{
	begin(TWALK);
	put(fid, 4);
	put(newfid, 4);
	put(n, 2);
	for (unsigned int i = 0; i < n; i++)
		put_str(names[i]);
	return call();
}

/* A walk of one name that must end at a new fid. */
static int walk1(uint32_t fid, uint32_t newfid, const char *name)
{
	int ret = walk(fid, newfid, 1, &name);

	if (!ret && get(2) != 1)
		return -2;
	return ret;
}

static int lopen(uint32_t fid, uint32_t flags)
{
	begin(TLOPEN);
	put(fid, 4);
	put(flags, 4);
	return call();
}

static int lcreate(uint32_t fid, const char *name, uint32_t flags, uint32_t mode)
{
	begin(TLCREATE);
	put(fid, 4);
	put_str(name);
	put(flags, 4);
	put(mode, 4);
	put(0, 4);
	return call();
}

static int clunk(uint32_t fid)
{
	begin(TCLUNK);
	put(fid, 4);
	return call();
}

static int mkdir_at(uint32_t dfid, const char *name)
{
	begin(TMKDIR);
	put(dfid, 4);
	put_str(name);
	put(0755, 4);
	put(0, 4);
	return call();
}

static int renameat(uint32_t ofid, const char *oname, uint32_t nfid, const char *nname)
{
	begin(TRENAMEAT);
	put(ofid, 4);
	put_str(oname);
	put(nfid, 4);
	put_str(nname);
	return call();
}

static int unlinkat(uint32_t dfid, const char *name)
{
	begin(TUNLINKAT);
	put(dfid, 4);
	put_str(name);
	put(0, 4);
	return call();
}

#define MUST(what, expr)                                          \
	do {                                                      \
		int r_ = (expr);                                  \
		if (r_) {                                         \
			printf("p9: %s failed (%d)\n", what, r_); \
			return PS_ERROR;                          \
		}                                                 \
	} while (0)

#define MUST_FAIL(what, expr, err)                                              \
	do {                                                                    \
		int r_ = (expr);                                                \
		if (r_ != (err)) {                                              \
			printf("p9: %s: got %d, wanted %d\n", what, r_, (err)); \
			return PS_ESCAPE;                                       \
		}                                                               \
		printf("p9: %s refused (%d)\n", what, r_);                      \
	} while (0)

static int read_hello(uint32_t fid)
{
	static const char want[] = "hello from the host\n";
	uint32_t n;

	MUST("walk hello.txt", walk1(0, fid, "hello.txt"));
	MUST("lopen hello.txt", lopen(fid, 0));
	begin(TREAD);
	put(fid, 4);
	put(0, 8);
	put(100, 4);
	MUST("read hello.txt", call());
	n = (uint32_t)get(4);
	if (n != sizeof(want) - 1 || memcmp(resp + rpos, want, n)) {
		printf("p9: hello.txt read back %u wrong bytes\n", n);
		return PS_DATA;
	}
	printf("p9: read hello.txt (%u bytes)\n", n);
	return clunk(fid) ? PS_ERROR : 0;
}

static int str_is(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(s, lit, len);
}

static int open_share(const char *cmdline)
{
	uint64_t base = 0xd0000000ULL; /* LAYOUT_VIRTIO_MMIO_START: the only device */
	size_t want_len = 0;
	const char *want = cmdline_get_str(cmdline, "tag", &want_len);
	char tag[64];
	uint16_t tag_len;
	int id = vio_probe(base);

	if (id != VIRTIO_ID_9P) {
		printf("p9: no virtio-9p device at 0x%lx (device id %d)\n", base, id);
		return PS_NO_DEVICE;
	}
	if (vio_init(&dev, base, VIO_BIT(VIO_F_VERSION_1) | VIO_BIT(P9_F_MOUNT_TAG),
		     VIO_BIT(VIO_F_VERSION_1) | VIO_BIT(P9_F_MOUNT_TAG)) ||
	    vq_setup(&dev, &q, 0, 128, &qmem))
		return PS_NO_DEVICE;
	vio_driver_ok(&dev);
	tag_len = vio_config16(&dev, 0);
	for (uint16_t i = 0; i < tag_len && i < sizeof(tag) - 1; i++)
		tag[i] = (char)vio_config8(&dev, 2 + i);
	tag[tag_len < sizeof(tag) - 1 ? tag_len : sizeof(tag) - 1] = '\0';
	printf("p9: mount tag '%s'\n", tag);
	if (!want || want_len != tag_len || memcmp(want, tag, tag_len))
		return PS_TAG;
	begin(TVERSION);
	put(MSIZE, 4);
	put_str("9P2000.L");
	MUST("version", call());
	begin(TATTACH);
	put(0, 4);
	put(NOFID, 4);
	put_str("guest");
	put_str("");
	put(0, 4);
	MUST("attach", call());
	return 0;
}

static int mode_rw(void)
{
	static const char text[] = "written by the guest\n";
	const char *up[] = { "..", ".." };
	const char *through[] = { "evil", "outside-file" };
	int ret;

	if ((ret = read_hello(1)))
		return ret;
	MUST("clone root", walk(0, 2, 0, NULL));
	MUST("lcreate guest.txt", lcreate(2, "guest.txt", 2 /* O_RDWR */, 0644));
	begin(TWRITE);
	put(2, 4);
	put(0, 8);
	put(sizeof(text) - 1, 4);
	memcpy(req + pos, text, sizeof(text) - 1);
	pos += sizeof(text) - 1;
	MUST("write guest.txt", call());
	if (get(4) != sizeof(text) - 1)
		return PS_DATA;
	MUST("clunk guest.txt", clunk(2));
	MUST("mkdir newdir", mkdir_at(0, "newdir"));
	MUST("walk newdir", walk1(0, 3, "newdir"));
	MUST("rename guest.txt", renameat(0, "guest.txt", 3, "renamed.txt"));
	MUST("unlink to-delete", unlinkat(0, "to-delete"));
	begin(TGETATTR);
	put(3, 4);
	put(0x7ff, 8);
	MUST("getattr newdir", call());
	printf("p9: created, wrote, renamed and removed files\n");

	/* The escapes. */
	MUST("walk .. ..", walk(0, 4, 2, up));
	MUST_FAIL("outside-file via ..", walk1(4, 5, "outside-file"), 2 /* ENOENT */);
	if ((ret = read_hello(5)))
		return ret; /* ".." at the root is the root */
	MUST_FAIL("name with a slash", walk1(0, 6, "../outside-file"), 22 /* EINVAL */);
	MUST("walk the planted symlink", walk1(0, 6, "evil"));
	MUST_FAIL("open the planted symlink", lopen(6, 0), 40 /* ELOOP */);
	if (walk(0, 7, 2, through) || get(2) != 1) {
		printf("p9: walk through the planted symlink went further\n");
		return PS_ESCAPE;
	}
	printf("p9: walk through the planted symlink stopped at it\n");
	MUST_FAIL("rename across the boundary", renameat(0, "hello.txt", 0, "../stolen"), 22);
	MUST_FAIL("rename into the symlink", renameat(0, "hello.txt", 6, "stolen"),
		  20 /* ENOTDIR */);
	MUST_FAIL("create across the boundary", lcreate(3, "../../created", 2, 0644), 22);
	printf("p9: mode=rw passed\n");
	return 0;
}

static int mode_ro(void)
{
	int ret;

	if ((ret = read_hello(1)))
		return ret;
	MUST("clone root", walk(0, 2, 0, NULL));
	MUST_FAIL("create on a readonly share", lcreate(2, "new", 2, 0644), 30 /* EROFS */);
	MUST_FAIL("mkdir on a readonly share", mkdir_at(0, "d"), 30);
	MUST("walk hello.txt", walk1(0, 3, "hello.txt"));
	MUST_FAIL("open for writing", lopen(3, 2), 30);
	MUST_FAIL("unlink", unlinkat(0, "to-delete"), 30);
	MUST_FAIL("rename", renameat(0, "hello.txt", 0, "moved"), 30);
	printf("p9: mode=ro passed\n");
	return 0;
}

int guest_main(uint64_t zero_page);
int guest_main(uint64_t zero_page)
{
	const char *cmdline = bp_cmdline(zero_page);
	size_t len = 0;
	const char *mode = cmdline_get_str(cmdline, "mode", &len);
	int ret;

	printf("p9: cmdline: %s\n", cmdline);
	if (!mode)
		return PS_USAGE;
	if ((ret = open_share(cmdline)))
		return ret;
	if (str_is(mode, len, "rw"))
		return mode_rw();
	if (str_is(mode, len, "ro"))
		return mode_ro();
	return PS_USAGE;
}
