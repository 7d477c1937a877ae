/* SPDX-License-Identifier: MIT */
/*
 * The VHDX driver (vhdx.h): open with log replay, the BAT, allocation,
 * info. Requests go through the block-map path (bmap.h).
 *
 * Log replay (spec 2.3.3: a log with entries not yet applied must be
 * replayed before the file is used, even to read it):
 *   - read-write: the entries are written to their places, made stable,
 *     and the log is then emptied (log GUID cleared in both headers), as
 *     QEMU's vhdx_log_flush does;
 *   - read-only: nothing is written; the replayed sectors are kept in
 *     memory (`overlay`) and laid over every later read of the file --
 *     metadata at open and guest data in read_fixup -- so reads return
 *     what the replayed file would hold. (QEMU refuses such an open.)
 *
 * Metadata updates go through the log (2.3): a new block is made stable
 * first (bmap.h), then the BAT sector with its new entry is written as a
 * log entry and synced, and only then written in place -- a crash at any
 * point leaves either the old BAT or a log whose replay (next open) gives
 * the new one. One log GUID serves a whole session: it is set in the
 * headers at the first allocation, entries follow each other with
 * consecutive sequence numbers (the file synced before the log wraps), and
 * a clean close syncs and clears it. (QEMU also logs the BAT sector but
 * empties the log after every entry: four more syncs per allocation.)
 * Headers are updated the spec's way: the non-current one with sequence +
 * 1, synced, twice (2.2.2.1). Those syncs are disk_barrier()s (none on
 * an unsafe disk, bmap.h).
 *
 * Differencing VHDX (has_parent) is refused: not implemented.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/bmap.h"
#include "devices/disk/vhdx.h"
#include "base/byteorder.h"
#include "base/err.h"

#define VHDX_MAX_BAT_BYTES  (256ULL << 20)
#define VHDX_MAX_META_BYTES (16ULL << 20)

/* A range of the file as the replayed log says it is (read-only opens). */
struct vhdx_patch {
	uint64_t off, len;
	uint8_t *data; /* len bytes, or NULL: zeros */
};

struct vhdx {
	struct bmap bm; /* first: d->priv is both */
	struct vhdx_header hdr[2];
	int cur; /* current header */
	struct vhdx_regions rg;
	struct vhdx_meta m;
	uint64_t *bat; /* host byte order */
	uint64_t next_free;
	bool data_guid_new; /* headers updated for this session's first write */
	bool replayed;
	/* the log this session writes (log_guid zero: not in use yet) */
	uint8_t log_guid[16];
	uint64_t log_seq;
	uint32_t log_write, log_tail; /* byte offsets in the log */
	struct vhdx_patch *overlay;
	size_t n_overlay;
};

static uint64_t le64_of(const uint64_t *p)
{
	return le64toh(*p);
}

/* Lay the overlay over file bytes [off, off + len) held in buf. */
static void overlay_apply(const struct vhdx *v, uint64_t off, uint64_t len, uint8_t *buf)
{
	for (size_t i = 0; i < v->n_overlay; i++) {
		const struct vhdx_patch *p = &v->overlay[i];
		uint64_t lo = p->off > off ? p->off : off;
		uint64_t hi = p->off + p->len < off + len ? p->off + p->len : off + len;

		if (lo >= hi)
			continue;
		if (p->data)
			memcpy(buf + (lo - off), p->data + (lo - p->off), hi - lo);
		else
			memset(buf + (lo - off), 0, hi - lo);
	}
}

static int vx_pread(const struct vhdx *v, void *buf, size_t len, uint64_t off)
{
	int ret = disk_file_pread(v->bm.fd, buf, len, off);

	if (ret == 0)
		overlay_apply(v, off, len, buf);
	return ret;
}

static void vhdx_read_fixup(void *fmt, uint64_t host, uint64_t len, const struct iovec *iov,
			    int iovcnt)
{
	struct vhdx *v = fmt;
	uint64_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		uint64_t n = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		overlay_apply(v, host + done, n, iov[i].iov_base);
		done += n;
	}
}

static void guid_new(uint8_t *g)
{
	if (getrandom(g, 16, 0) != 16)
		for (int i = 0; i < 16; i++)
			g[i] = (uint8_t)rand();
	g[7] = (uint8_t)((g[7] & 0x0f) | 0x40); /* data3 (LE): version 4 */
	g[8] = (uint8_t)((g[8] & 0x3f) | 0x80);
}

/* Write the non-current header as current (seq + 1), twice (spec
 * 2.2.2.1), each time synced. log_guid NULL: keep it. */
static int update_headers(struct vhdx *v, bool new_data_guid, const uint8_t *log_guid)
{
	uint8_t buf[VHDX_HEADER_LEN];
	uint8_t fw[16];
	int ret;

	guid_new(fw);
	for (int k = 0; k < 2; k++) {
		int other = !v->cur;
		struct vhdx_header h = v->hdr[v->cur];

		h.seq++;
		memcpy(h.file_write_guid, fw, 16);
		if (new_data_guid && k == 0)
			guid_new(h.data_write_guid);
		if (log_guid)
			memcpy(h.log_guid, log_guid, 16);
		vhdx_header_write(buf, &h);
		ret = disk_file_pwrite(v->bm.fd, buf, sizeof(buf),
				       other ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
		if (ret == 0 && disk_barrier(v->bm.d, v->bm.fd) < 0)
			ret = -errno;
		if (ret)
			return ret;
		v->hdr[other] = h;
		v->cur = other;
	}
	return 0;
}

/* Write `sector` (4 KiB, for file offset target) as the next log entry and
 * make it stable (2.3.1). */
static int log_append(struct vhdx *v, uint64_t target, const uint8_t *sector)
{
	static const uint8_t zero[16];
	const struct vhdx_header *h = &v->hdr[v->cur];
	uint8_t entry[VHDX_LOG_ENTRY_LEN];
	struct stat st;
	int ret;

	if (h->log_length < VHDX_LOG_ENTRY_LEN || h->log_offset < VHDX_MiB ||
	    h->log_offset % VHDX_MiB)
		return -ENOTSUP; /* no usable log (refused by QEMU too) */
	if (!memcmp(v->log_guid, zero, 16)) {
		guid_new(v->log_guid);
		ret = update_headers(v, false, v->log_guid);
		if (ret)
			return ret;
		v->log_seq = 1;
		v->log_write = v->log_tail = 0;
	}
	if (v->log_write + VHDX_LOG_ENTRY_LEN > h->log_length) {
		/* Everything logged so far is in place: make that stable before
		 * its entries are overwritten. */
		if (disk_barrier(v->bm.d, v->bm.fd) < 0)
			return -errno;
		v->log_write = v->log_tail = 0;
	}
	if (fstat(v->bm.fd, &st) < 0)
		return -errno;
	vhdx_log_entry_build(entry, v->log_guid, v->log_seq, v->log_tail, (uint64_t)st.st_size,
			     target, sector);
	ret = disk_file_pwrite(v->bm.fd, entry, sizeof(entry), h->log_offset + v->log_write);
	if (ret == 0 && disk_barrier(v->bm.d, v->bm.fd) < 0)
		ret = -errno;
	if (ret)
		return ret;
	v->log_write += VHDX_LOG_ENTRY_LEN;
	v->log_seq++;
	return 0;
}

static int vhdx_alloc(struct vhdx *v, uint64_t bi)
{
	uint64_t blk = v->next_free, sec = (bi * 8) & ~(uint64_t)(VHDX_LOG_SECTOR - 1);
	uint8_t sector[VHDX_LOG_SECTOR];
	int ret;

	/* The new block reads as zeros (a hole) and is stable before the BAT
	 * entry that makes it visible (bmap.h). */
	if (ftruncate(v->bm.fd, (off_t)(blk + v->m.block_size)) < 0)
		return -errno;
	if (disk_barrier(v->bm.d, v->bm.fd) < 0)
		return -errno;
	/* The BAT sector with the new entry: logged, then in place. */
	ret = disk_file_pread(v->bm.fd, sector, sizeof(sector), v->rg.bat_off + sec);
	if (ret)
		return ret;
	put_le64(sector + bi * 8 - sec, blk | VHDX_BLK_FULL);
	ret = log_append(v, v->rg.bat_off + sec, sector);
	if (ret == 0)
		ret = disk_file_pwrite(v->bm.fd, sector, sizeof(sector), v->rg.bat_off + sec);
	if (ret)
		return ret;
	v->bat[bi] = blk | VHDX_BLK_FULL;
	v->next_free = blk + v->m.block_size;
	return 0;
}

static int vhdx_map(void *fmt, uint64_t off, uint64_t len, bool write, enum bmap_kind *kind,
		    uint64_t *host, uint64_t *n)
{
	struct vhdx *v = fmt;
	uint64_t bs = v->m.block_size, idx = off / bs, in = off % bs;
	uint64_t bi = idx + idx / v->m.chunk_ratio;
	int ret;

	*n = len < bs - in ? len : bs - in;
	if (bi >= v->m.bat_entries)
		return -EIO;
	if (write && !v->data_guid_new) {
		/* The first guest-visible change of this session (2.2.2). */
		ret = update_headers(v, true, NULL);
		if (ret)
			return ret;
		v->data_guid_new = true;
	}
	switch (v->bat[bi] & 7) {
	case VHDX_BLK_FULL:
		break;
	case VHDX_BLK_NOT_PRESENT:
	case VHDX_BLK_UNDEFINED:
	case VHDX_BLK_ZERO:
	case VHDX_BLK_UNMAPPED:
	case VHDX_BLK_UNMAPPED_Q:
		if (!write) {
			*kind = BMAP_ZERO;
			return 0;
		}
		ret = vhdx_alloc(v, bi);
		if (ret)
			return ret;
		break;
	default:
		return -EIO; /* refused at open */
	}
	*kind = BMAP_DATA;
	*host = (v->bat[bi] >> 20 << 20) + in;
	return 0;
}

static const struct bmap_ops vhdx_bmap_ops = {
	.map = vhdx_map,
};

static const struct bmap_ops vhdx_overlay_ops = {
	.map = vhdx_map,
	.read_fixup = vhdx_read_fixup,
};

static int vhdx_submit(struct disk *d, struct disk_req *req)
{
	struct vhdx *v = d->priv;

	return bmap_submit(&v->bm, req);
}

static void vhdx_free(struct vhdx *v)
{
	for (size_t i = 0; i < v->n_overlay; i++)
		free(v->overlay[i].data);
	free(v->overlay);
	free(v->bat);
	free(v);
}

static void vhdx_close(struct disk *d)
{
	static const uint8_t zero[16];
	struct vhdx *v = d->priv;

	ioe_drain(d->engine);
	/* Everything in place and stable: the log is empty again. */
	if (memcmp(v->log_guid, zero, 16) &&
	    (fdatasync(v->bm.fd) < 0 || update_headers(v, false, zero)))
		log_warn("%s: cannot empty the log on close (the next open replays it)", d->path);
	bmap_close(&v->bm);
	vhdx_free(v);
	d->priv = NULL;
}

static const struct disk_ops vhdx_ops = {
	.submit = vhdx_submit,
	.block_status = bmap_block_status,
	.close = vhdx_close,
};

static int read_headers(struct vhdx *v, char *e, size_t elen)
{
	uint8_t buf[VHDX_HEADER_LEN];
	bool ok[2];
	int ret;

	ret = disk_file_pread(v->bm.fd, buf, 8, 0);
	if (ret)
		return err_set(e, elen, ret, "cannot read: %s", strerror(-ret));
	if (memcmp(buf, "vhdxfile", 8))
		return err_set(e, elen, -EINVAL, "not a VHDX image (no \"vhdxfile\" signature)");
	for (int i = 0; i < 2; i++) {
		ret = disk_file_pread(v->bm.fd, buf, sizeof(buf),
				      i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
		if (ret)
			return err_set(e, elen, ret, "cannot read: %s", strerror(-ret));
		ok[i] = vhdx_header_parse(buf, &v->hdr[i]) == 0;
	}
	if (!ok[0] && !ok[1])
		return err_set(e, elen, -EINVAL, "VHDX: no valid header (bad signatures or CRCs)");
	v->cur = ok[0] && (!ok[1] || v->hdr[0].seq >= v->hdr[1].seq) ? 0 : 1;
	if (!ok[!v->cur])
		v->hdr[!v->cur] = v->hdr[v->cur];
	return 0;
}

struct replay_ctx {
	struct vhdx *v;
	bool to_file;
	uint64_t limit; /* the file's size, or the log's last_file_offset if larger */
};

static int replay_apply(void *opaque, uint64_t off, const uint8_t *data, uint64_t n)
{
	struct replay_ctx *c = opaque;
	struct vhdx *v = c->v;
	struct vhdx_patch *p;

	if (off < VHDX_REGION1_OFF && off + n > VHDX_HEADER1_OFF)
		return -EINVAL; /* the log never rewrites the headers (2.3) */
	if (off > c->limit || n > c->limit - off)
		return -EINVAL; /* nor writes past the file it describes */
	if (c->to_file) {
		if (data)
			return disk_file_pwrite(v->bm.fd, data, n, off);
		return fallocate(v->bm.fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)n) < 0 ? -errno
											   : 0;
	}
	p = realloc(v->overlay, (v->n_overlay + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	v->overlay = p;
	p = &v->overlay[v->n_overlay];
	*p = (struct vhdx_patch){ .off = off, .len = n };
	if (data) {
		p->data = malloc(n);
		if (!p->data)
			return -ENOMEM;
		memcpy(p->data, data, n);
	}
	v->n_overlay++;
	return 0;
}

static int replay_log(struct vhdx *v, uint64_t fsize, char *e, size_t elen)
{
	static const uint8_t zero[16];
	const struct vhdx_header *h = &v->hdr[v->cur];
	struct replay_ctx c = { .v = v, .to_file = !v->bm.d->readonly };
	struct vhdx_log_seq seq;
	uint8_t *log;
	int ret;

	if (!memcmp(h->log_guid, zero, 16) || !h->log_length)
		return 0;
	if (h->log_version != 0 || h->log_offset % VHDX_MiB || h->log_offset < VHDX_MiB ||
	    h->log_length % VHDX_MiB || h->log_length > VHDX_MAX_LOG || h->log_offset > fsize ||
	    fsize - h->log_offset < h->log_length)
		return err_set(e, elen, -EINVAL,
			       "VHDX log (%" PRIu32 " bytes at %" PRIu64
			       ") is invalid or lies outside the file",
			       h->log_length, h->log_offset);
	log = malloc(h->log_length);
	if (!log)
		return err_set(e, elen, -ENOMEM, "out of memory");
	ret = disk_file_pread(v->bm.fd, log, h->log_length, h->log_offset);
	if (ret) {
		free(log);
		return err_set(e, elen, ret, "cannot read the log: %s", strerror(-ret));
	}
	vhdx_log_find(log, h->log_length, h->log_guid, &seq);
	if (seq.valid && seq.flushed_file_offset > fsize) {
		free(log);
		return err_set(e, elen, -EINVAL,
			       "VHDX log says the file was %" PRIu64
			       " bytes long: it has been truncated",
			       seq.flushed_file_offset);
	}
	if (seq.valid && seq.last_file_offset > 2 * VHDX_MAX_SIZE) {
		free(log);
		return err_set(e, elen, -EINVAL, "VHDX log claims an absurd file size %" PRIu64,
			       seq.last_file_offset);
	}
	c.limit = seq.last_file_offset > fsize ? seq.last_file_offset : fsize;
	ret = seq.valid ? vhdx_log_replay(log, h->log_length, &seq, replay_apply, &c) : 0;
	free(log);
	if (ret)
		return err_set(e, elen, ret, "VHDX log replay failed: %s", strerror(-ret));
	v->replayed = seq.valid;
	if (!c.to_file)
		return 0;
	if (seq.valid && seq.last_file_offset > fsize &&
	    ftruncate(v->bm.fd, (off_t)((seq.last_file_offset + VHDX_MiB - 1) & ~(VHDX_MiB - 1))) <
		    0)
		return err_set(e, elen, -errno, "cannot extend after log replay: %s",
			       strerror(errno));
	/* Replayed and stable: the log is empty from now on. */
	if (fdatasync(v->bm.fd) < 0 || update_headers(v, false, zero))
		return err_set(e, elen, -EIO, "cannot clear the log after replay");
	return 0;
}

static int read_regions(struct vhdx *v, uint64_t fsize, char *e, size_t elen)
{
	uint8_t *buf = malloc(VHDX_REGION_LEN);
	int ret = -ENOMEM;

	if (!buf)
		return err_set(e, elen, -ENOMEM, "out of memory");
	for (int i = 0; i < 2; i++) {
		ret = vx_pread(v, buf, VHDX_REGION_LEN, i ? VHDX_REGION2_OFF : VHDX_REGION1_OFF);
		if (ret) {
			err_set(e, elen, ret, "cannot read: %s", strerror(-ret));
			break;
		}
		ret = vhdx_regions_parse(buf, fsize, &v->rg, e, elen);
		if (ret == 0 || ret == -ENOTSUP)
			break;
	}
	free(buf);
	return ret;
}

static int read_meta(struct vhdx *v, char *e, size_t elen)
{
	size_t len = v->rg.meta_len < VHDX_MAX_META_BYTES ? v->rg.meta_len : VHDX_MAX_META_BYTES;
	uint8_t *buf = malloc(len);
	int ret;

	if (!buf)
		return err_set(e, elen, -ENOMEM, "out of memory");
	ret = vx_pread(v, buf, len, v->rg.meta_off);
	if (ret)
		err_set(e, elen, ret, "cannot read: %s", strerror(-ret));
	else
		ret = vhdx_meta_parse(buf, len, &v->m, e, elen);
	free(buf);
	if (ret == 0 && v->m.has_parent)
		ret = err_set(e, elen, -ENOTSUP, "differencing VHDX images are not supported");
	return ret;
}

static bool meets(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
	return a < b + bl && b < a + al;
}

static int read_bat(struct vhdx *v, uint64_t fsize, char *e, size_t elen)
{
	const struct vhdx_header *h = &v->hdr[v->cur];
	uint64_t bytes = v->m.bat_entries * 8, bs = v->m.block_size;
	uint64_t end = (fsize + VHDX_MiB - 1) & ~(VHDX_MiB - 1);
	int ret;

	if (bytes > v->rg.bat_len || bytes > VHDX_MAX_BAT_BYTES)
		return err_set(e, elen, -EINVAL,
			       "VHDX BAT region (%" PRIu32 " bytes) cannot hold %" PRIu64
			       " entries",
			       v->rg.bat_len, v->m.bat_entries);
	v->bat = malloc(bytes);
	if (!v->bat)
		return err_set(e, elen, -ENOMEM, "out of memory");
	ret = vx_pread(v, v->bat, bytes, v->rg.bat_off);
	if (ret)
		return err_set(e, elen, ret, "cannot read the BAT: %s", strerror(-ret));
	for (uint64_t i = 0; i < v->m.bat_entries; i++) {
		uint64_t ent = le64_of(&v->bat[i]), st = ent & 7, off = ent >> 20 << 20;
		uint64_t blk = i - i / (v->m.chunk_ratio + 1), need;

		v->bat[i] = ent;
		if ((i + 1) % (v->m.chunk_ratio + 1) == 0)
			continue; /* a sector bitmap entry: only differencing images use them */
		if (st == VHDX_BLK_PARTIAL || st == 4 || st > 7)
			return err_set(e, elen, -EINVAL,
				       "VHDX BAT entry %" PRIu64 ": state %" PRIu64, i, st);
		if (st != VHDX_BLK_FULL)
			continue;
		/* The part of the block inside the virtual disk must be in the
		 * file, clear of the headers, the log and the regions. */
		need = v->m.size - blk * bs < bs ? v->m.size - blk * bs : bs;
		if (off > fsize || fsize - off < need)
			return err_set(e, elen, -EINVAL,
				       "VHDX BAT entry %" PRIu64 " points past the end of the file",
				       i);
		if (meets(off, bs, 0, VHDX_MiB) || meets(off, bs, h->log_offset, h->log_length) ||
		    meets(off, bs, v->rg.bat_off, v->rg.bat_len) ||
		    meets(off, bs, v->rg.meta_off, v->rg.meta_len))
			return err_set(e, elen, -EINVAL,
				       "VHDX BAT entry %" PRIu64 " overlaps the image's metadata",
				       i);
		if (off + bs > end)
			end = off + bs;
	}
	if (v->rg.bat_off + v->rg.bat_len > end)
		end = v->rg.bat_off + v->rg.bat_len;
	if (v->rg.meta_off + v->rg.meta_len > end)
		end = v->rg.meta_off + v->rg.meta_len;
	v->next_free = (end + VHDX_MiB - 1) & ~(VHDX_MiB - 1);
	return 0;
}

static int vhdx_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
		     char *err, size_t errlen)
{
	struct vhdx *v = calloc(1, sizeof(*v));
	struct stat st;
	char e[512] = "";
	int ret;

	(void)o;
	(void)depth;
	if (!v) {
		close(fd);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	}
	ret = bmap_init(&v->bm, d, fd, &vhdx_bmap_ops, v, err, errlen);
	if (ret) {
		free(v);
		return ret;
	}
	if (fstat(v->bm.fd, &st) < 0)
		ret = err_set(e, sizeof(e), -errno, "%s", strerror(errno));
	else if ((uint64_t)st.st_size < 2 * VHDX_MiB)
		ret = err_set(e, sizeof(e), -EINVAL, "file too small for a VHDX image");
	if (ret == 0)
		ret = read_headers(v, e, sizeof(e));
	if (ret == 0)
		ret = replay_log(v, (uint64_t)st.st_size, e, sizeof(e));
	if (ret == 0 && fstat(v->bm.fd, &st) < 0)
		ret = err_set(e, sizeof(e), -errno, "%s", strerror(errno));
	if (ret == 0)
		ret = read_regions(v, (uint64_t)st.st_size, e, sizeof(e));
	if (ret == 0)
		ret = read_meta(v, e, sizeof(e));
	if (ret == 0)
		ret = read_bat(v, (uint64_t)st.st_size, e, sizeof(e));
	if (ret == 0 && !d->readonly && !v->replayed)
		ret = update_headers(v, false, NULL)
			      ? err_set(e, sizeof(e), -EIO, "cannot update the headers")
			      : 0;
	if (ret) {
		err_set(err, errlen, ret, "%s: %s", d->path, e);
		bmap_fini(&v->bm);
		vhdx_free(v);
		return ret;
	}
	if (v->n_overlay)
		v->bm.ops = &vhdx_overlay_ops;
	d->ops = &vhdx_ops;
	d->format = "vhdx";
	d->size = v->m.size;
	d->can_discard = false;
	d->priv = v;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * vmm-img check: a read-only open validates everything one entry at a time
 * (headers, log, regions, metadata, each BAT entry inside the file and
 * clear of the metadata); what it refuses is the corruption found. Then
 * blocks that overlap each other. Nothing is repaired: a dirty log is
 * replayed by the next read-write open.
 */
int vhdx_check(const char *path, const struct disk_check_opts *o, struct disk_check_result *r,
	       char *err, size_t errlen)
{
	struct disk_open_opts oo = { .readonly = true, .format = "vhdx" };
	uint64_t *offs = NULL, n = 0;
	struct disk *d = NULL;
	struct vhdx *v;
	char e[512] = "";
	int ret;

	memset(r, 0, sizeof(*r));
	ret = disk_open(path, &oo, &d, e, sizeof(e));
	if (ret == -EINVAL) {
		r->corruptions = 1;
		if (o && o->report)
			o->report(o->opaque, e);
		return 0;
	}
	if (ret)
		return err_set(err, errlen, ret, "%s", e);
	v = d->priv;
	if (v->replayed && o && o->report)
		o->report(o->opaque, "the log holds entries not yet applied (the next read-write "
				     "open replays them)");
	offs = malloc(v->m.bat_entries * 8 + 8);
	if (!offs) {
		disk_close(d);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	for (uint64_t i = 0; i < v->m.bat_entries; i++)
		if ((i + 1) % (v->m.chunk_ratio + 1) && (v->bat[i] & 7) == VHDX_BLK_FULL)
			offs[n++] = v->bat[i] >> 20 << 20;
	qsort(offs, n, 8, cmp_u64);
	for (uint64_t i = 1; i < n; i++)
		if (offs[i] - offs[i - 1] < v->m.block_size) {
			r->corruptions++;
			if (o && o->report) {
				char line[128];

				snprintf(line, sizeof(line),
					 "blocks at %" PRIu64 " and %" PRIu64 " overlap",
					 offs[i - 1], offs[i]);
				o->report(o->opaque, line);
			}
		}
	r->allocated_clusters = n;
	r->total_clusters = v->m.data_blocks;
	r->image_end_offset = v->next_free;
	free(offs);
	disk_close(d);
	return 0;
}

static int vhdx_probe(const uint8_t *buf, size_t len)
{
	return len >= 8 && !memcmp(buf, "vhdxfile", 8) ? 100 : 0;
}

static void vhdx_info(struct disk *d, struct disk_info *out)
{
	struct vhdx *v = d->priv;

	out->subformat = v->m.fixed ? "fixed" : "dynamic";
	out->cluster_size = v->m.block_size;	 /* as qemu-img info shows it */
	out->dirty = v->replayed && d->readonly; /* a log still to replay */
	disk_info_add(out, "log-size", true, "%" PRIu32, v->hdr[v->cur].log_length);
	disk_info_add(out, "logical-sector-size", true, "%" PRIu32, v->m.logical_sector);
	disk_info_add(out, "physical-sector-size", true, "%" PRIu32, v->m.physical_sector);
	disk_info_add(out, "log-replayed", true, "%s", v->replayed ? "true" : "false");
}

const struct disk_format disk_format_vhdx = {
	.name = "vhdx",
	.probe = vhdx_probe,
	.names_files = false, /* differencing images (which would) are refused */
	.open = vhdx_open,
	.create = vhdx_create,
	.check = vhdx_check,
	.info = vhdx_info,
};
