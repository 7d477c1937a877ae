/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2 section 5.2) over a block backend (devices/disk).
 *
 * One request queue (no VIRTIO_BLK_F_MQ). Everything that touches the queue
 * or the disk runs on the event-loop thread under the transport lock
 * (dev.lock): queue_notify() when the driver kicks, and blk_disk_ready() when
 * the disk's completion fd is readable. The vCPU threads only reach us through
 * config_read/activate/reset, under the same lock.
 *
 * A request lives in a slot from a pool of queue_max_size slots allocated at
 * create time: the parsed request (blk_req.c), its data iovecs, and one
 * struct disk_req per backend request (one for IN/OUT/FLUSH, one per segment
 * for DISCARD/WRITE_ZEROES). A slot returns to the pool when its last backend
 * request completes.
 *
 * Reset and failure: each activation is a generation. reset() and a device
 * failure bump it; a completion from an older generation only frees its slot
 * and never touches the queue, which the driver may be re-initialising
 * (virtio.h: "the device must then drop the result"). The backend may still
 * write into guest RAM for such a request (as a real disk's DMA would); Linux
 * resets a virtio-blk device only once its request queue is idle.
 */
#include "devices/virtio/blk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/virtio/blk_req.h"
#include "base/err.h"
#include "base/log.h"

#define BLK_QUEUE_SIZE	    256 /* QueueNumMax of our one queue */
/* 5.2.4 size_max: the largest segment the driver may use. We accept any
 * segment the queue accepts; this only keeps Linux's segments moderate. */
#define BLK_SIZE_MAX	    (1U << 20)
/* 5.2.4 max_discard_sectors / max_write_zeroes_sectors: QEMU's bound
 * (BDRV_REQUEST_MAX_SECTORS, just under 2 GiB), so a segment's byte length
 * fits any backend that counts in a signed int. */
#define BLK_MAX_DWZ_SECTORS 0x3fffffU

struct virtio_blk;

struct blk_slot {
	struct virtio_blk *b;
	struct blk_slot *next; /* free list, or the deferred-flush list */
	uint64_t gen;	       /* b->gen when the request was popped */
	uint16_t head;
	unsigned int pending; /* backend requests not yet done */
	int err;	      /* first backend error */
	bool flush_after;     /* write-through: FLUSH before completing */
	struct blk_req req;
	struct disk_req dreq[BLK_MAX_DWZ_SEG];
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

struct virtio_blk {
	struct virtio_dev dev; /* first: virtio_dev -> virtio_blk */
	struct disk *disk;
	struct event_loop *el;
	struct el_source done_src; /* disk_event_fd() on the event loop */
	char *name;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	bool has_serial;
	struct virtio_blk_config cfg; /* constant after create */
	struct blk_limits lim;

	/* Under dev.lock. */
	struct virtio_ctx *ctx; /* NULL unless activated (and not reset) */
	uint64_t gen;
	bool failed;	   /* ctx->fail() called: leave the queue alone */
	bool stalled;	   /* stopped popping for lack of slots */
	bool need_signal;  /* pushed since the last signal_used */
	bool writethrough; /* VIRTIO_BLK_F_FLUSH not negotiated (5.2.5) */
	struct blk_slot *slots, *free_slots, *deferred;
	struct virtq_elem elem; /* scratch for virtq_pop */
	struct ratelimit rl_guest, rl_io;
};

static struct virtio_blk *to_blk(struct virtio_dev *dev)
{
	return (struct virtio_blk *)dev;
}

static struct blk_slot *slot_get(struct virtio_blk *b)
{
	struct blk_slot *s = b->free_slots;

	if (s)
		b->free_slots = s->next;
	return s;
}

static void slot_put(struct virtio_blk *b, struct blk_slot *s)
{
	s->next = b->free_slots;
	b->free_slots = s;
}

static bool slot_current(const struct virtio_blk *b, const struct blk_slot *s)
{
	return s->gen == b->gen && b->ctx && !b->failed;
}

/*
 * The driver broke the rules in a way we cannot answer: 2.1.2, set
 * DEVICE_NEEDS_RESET (the transport does, and raises the config interrupt)
 * and stop touching the queues. Bumping the generation drops every
 * completion still to come.
 */
static void blk_fail(struct virtio_blk *b, const char *why)
{
	log_warn_ratelimited(&b->rl_guest, "%s: %s; device needs reset", b->dev.name, why);
	b->failed = true;
	b->gen++;
	b->ctx->fail(b->ctx);
}

/* Write the status byte and return the chain. The status store is ordered
 * before the used->idx update by the write barrier in virtq_push (2.7.8),
 * so the driver never sees the entry before the status. */
static void blk_complete(struct virtio_blk *b, struct blk_slot *s, uint8_t status)
{
	*s->req.status_ptr = status;
	if (virtq_push(&b->ctx->queues[0], s->head, blk_req_used_len(&s->req, status)) < 0) {
		blk_fail(b, "cannot return a request to the used ring");
		return;
	}
	b->need_signal = true;
}

static void blk_signal(struct virtio_blk *b)
{
	if (b->need_signal && b->ctx && !b->failed)
		b->ctx->signal_used(b->ctx, &b->ctx->queues[0]);
	b->need_signal = false;
}

/* The last backend request of a slot is done. */
static void slot_finish(struct virtio_blk *b, struct blk_slot *s)
{
	uint8_t status;

	if (!slot_current(b, s)) {
		slot_put(b, s);
		return;
	}
	if (!s->err && s->flush_after) {
		/* Submitted after disk_process() returns (blk_run_deferred),
		 * not from inside a completion callback. */
		s->flush_after = false;
		s->next = b->deferred;
		b->deferred = s;
		return;
	}
	if (s->err)
		log_warn_ratelimited(&b->rl_io, "%s: I/O error at byte %llu: %s", b->dev.name,
				     (unsigned long long)s->req.offset, strerror(-s->err));
	status = blk_status_from_errno(s->err);
	blk_complete(b, s, status);
	slot_put(b, s);
}

static void blk_disk_done(struct disk_req *dr, int ret)
{
	struct blk_slot *s = dr->opaque;

	if (ret && !s->err)
		s->err = ret;
	if (--s->pending == 0)
		slot_finish(s->b, s);
}

/* Queue `n` prepared backend requests of slot `s`. */
static void slot_submit(struct virtio_blk *b, struct blk_slot *s, unsigned int n)
{
	unsigned int i;

	/* done() never runs inside disk_submit (disk.h), so counting first
	 * and subtracting refusals is safe. */
	s->pending = n;
	for (i = 0; i < n; i++) {
		int ret = disk_submit(b->disk, &s->dreq[i]);

		if (ret) {
			if (!s->err)
				s->err = ret;
			s->pending--;
		}
	}
	if (s->pending == 0)
		slot_finish(b, s);
}

static void dreq_init(struct blk_slot *s, unsigned int i, enum disk_op op)
{
	memset(&s->dreq[i], 0, sizeof(s->dreq[i]));
	s->dreq[i].op = op;
	s->dreq[i].done = blk_disk_done;
	s->dreq[i].opaque = s;
}

/* Write-through mode: the FLUSHes queued by slot_finish. */
static void blk_run_deferred(struct virtio_blk *b)
{
	while (b->deferred) {
		struct blk_slot *s = b->deferred;

		b->deferred = s->next;
		if (!slot_current(b, s)) {
			slot_put(b, s);
			continue;
		}
		dreq_init(s, 0, DISK_FLUSH);
		slot_submit(b, s, 1);
	}
}

/* Start one popped chain. */
static void blk_start(struct virtio_blk *b, struct blk_slot *s, const struct virtq_elem *e)
{
	struct blk_req *r = &s->req;
	unsigned int i, n;

	s->head = e->head;
	s->gen = b->gen;
	s->err = 0;
	s->flush_after = false;
	switch (blk_req_parse(&b->lim, e->iov, e->nout, e->nin, s->iov, r)) {
	case BLK_MALFORMED:
		slot_put(b, s);
		blk_fail(b, r->why);
		return;
	case BLK_COMPLETE:
		if (r->type == VIRTIO_BLK_T_GET_ID)
			blk_req_fill_id(r, b->has_serial ? b->serial : NULL);
		if (r->status != VIRTIO_BLK_S_OK)
			log_warn_ratelimited(&b->rl_guest, "%s: request type %u sector %llu: %s",
					     b->dev.name, r->type, (unsigned long long)r->sector,
					     r->why);
		blk_complete(b, s, r->status);
		slot_put(b, s);
		return;
	case BLK_SUBMIT:
		break;
	}

	if (r->op == DISK_DISCARD || r->op == DISK_WRITE_ZEROES) {
		/* One backend request per segment; the status is OK only if
		 * every one of them succeeds. */
		for (i = 0; i < r->nseg; i++) {
			dreq_init(s, i, r->op);
			s->dreq[i].offset = r->seg[i].offset;
			s->dreq[i].len = r->seg[i].len;
			s->dreq[i].unmap = r->seg[i].unmap && b->disk->can_discard;
		}
		n = r->nseg;
	} else {
		dreq_init(s, 0, r->op);
		s->dreq[0].offset = r->offset;
		s->dreq[0].len = r->len;
		s->dreq[0].iov = r->iov;
		s->dreq[0].iovcnt = r->iovcnt;
		n = 1;
	}
	/* 5.2.5: without VIRTIO_BLK_F_FLUSH the cache is write-through, so a
	 * write completes only once it is stable. */
	s->flush_after = b->writethrough && (r->op == DISK_WRITE || r->op == DISK_WRITE_ZEROES);
	slot_submit(b, s, n);
}

/*
 * Drain the avail ring. Kicks are suppressed while we do (2.7.10), and
 * re-enabled before the final emptiness check so a buffer made available in
 * between is not missed. Without a free slot we stop and leave kicks off; the
 * next completion resumes (b->stalled).
 */
static void blk_process_queue(struct virtio_blk *b)
{
	struct virtq *q = &b->ctx->queues[0];

	b->stalled = false;
	for (;;) {
		virtq_set_notify(q, false);
		while (!b->failed) {
			struct blk_slot *s = slot_get(b);
			int ret;

			if (!s) {
				b->stalled = true;
				goto out;
			}
			ret = virtq_pop(q, &b->elem);
			if (ret <= 0) {
				slot_put(b, s);
				if (ret < 0)
					blk_fail(b, "malformed descriptor chain");
				break;
			}
			blk_start(b, s, &b->elem);
		}
		if (b->failed)
			return;
		virtq_set_notify(q, true);
		if (!virtq_has_avail(q))
			break;
	}
out:
	blk_signal(b);
}

static void blk_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct virtio_blk *b = to_blk(dev);

	if (!b->ctx || b->failed || qidx != 0)
		return;
	blk_process_queue(b);
}

/* The disk's completion fd is readable (event-loop thread). */
void virtio_blk_poll(struct virtio_blk *b)
{
	if (b->dev.lock)
		pthread_mutex_lock(b->dev.lock);
	disk_process(b->disk);
	blk_run_deferred(b);
	if (b->ctx && !b->failed && b->stalled)
		blk_process_queue(b);
	blk_signal(b);
	if (b->dev.lock)
		pthread_mutex_unlock(b->dev.lock);
}

static void blk_disk_ready(struct el_source *src, uint32_t events)
{
	virtio_blk_poll(src->opaque);
}

static uint64_t blk_features(struct virtio_dev *dev)
{
	struct virtio_blk *b = to_blk(dev);
	uint64_t f = (1ULL << VIRTIO_BLK_F_SIZE_MAX) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |
		     (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_FLUSH) |
		     (1ULL << VIRTIO_F_RING_EVENT_IDX) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC);

	if (b->disk->readonly) {
		f |= 1ULL << VIRTIO_BLK_F_RO;
	} else {
		/* WRITE_ZEROES works on any backend (it can write zeros);
		 * DISCARD only where the backend can free space. */
		f |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
		if (b->disk->can_discard)
			f |= 1ULL << VIRTIO_BLK_F_DISCARD;
	}
	return f;
}

static void blk_config_read(struct virtio_dev *dev, uint32_t off, void *data, uint32_t len)
{
	struct virtio_blk *b = to_blk(dev);

	/* The transport checked off + len <= config_size. */
	memcpy(data, (const uint8_t *)&b->cfg + off, len);
}

static void blk_config_write(struct virtio_dev *dev, uint32_t off, const void *data, uint32_t len)
{
	/* Only `writeback` is writable, and only with VIRTIO_BLK_F_CONFIG_WCE,
	 * which we do not offer (5.2.4): ignore. */
}

static int blk_activate(struct virtio_dev *dev, struct virtio_ctx *ctx)
{
	struct virtio_blk *b = to_blk(dev);

	if (ctx->nqueues < 1)
		return -EINVAL;
	b->ctx = ctx;
	b->gen++;
	b->failed = false;
	b->stalled = false;
	b->need_signal = false;
	b->lim.features = ctx->features;
	b->writethrough = !(ctx->features & (1ULL << VIRTIO_BLK_F_FLUSH));
	return 0;
}

static void blk_reset(struct virtio_dev *dev)
{
	struct virtio_blk *b = to_blk(dev);

	/* In-flight requests keep their slots until the backend is done
	 * with their buffers; their results are dropped (generation). */
	b->ctx = NULL;
	b->gen++;
	b->failed = false;
	b->stalled = false;
	b->need_signal = false;
}

static const struct virtio_dev_ops blk_ops = {
	.features = blk_features,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
};

/* 5.2.4: the configuration space. */
static void blk_init_config(struct virtio_blk *b)
{
	struct virtio_blk_config *c = &b->cfg;
	uint32_t bs = DISK_SECTOR_SIZE;

	/* An O_DIRECT image on a 4K-sector device needs 4K-aligned I/O: tell
	 * the driver so it uses that logical block size. */
	if (b->disk->alignment > bs && b->disk->alignment <= 4096 &&
	    !(b->disk->alignment & (b->disk->alignment - 1)))
		bs = b->disk->alignment;

	memset(c, 0, sizeof(*c));
	c->capacity = b->disk->size / DISK_SECTOR_SIZE;
	c->size_max = BLK_SIZE_MAX;
	/* Like QEMU: the header and the status take one descriptor each. */
	c->seg_max = BLK_QUEUE_SIZE - 2;
	c->blk_size = bs;
	c->num_queues = 1;
	c->max_discard_sectors = BLK_MAX_DWZ_SECTORS;
	c->max_discard_seg = BLK_MAX_DWZ_SEG;
	c->discard_sector_alignment = bs / DISK_SECTOR_SIZE;
	c->max_write_zeroes_sectors = BLK_MAX_DWZ_SECTORS;
	c->max_write_zeroes_seg = BLK_MAX_DWZ_SEG;
	c->write_zeroes_may_unmap = b->disk->can_discard;

	b->lim.capacity = c->capacity;
	b->lim.readonly = b->disk->readonly;
	b->lim.max_discard_sectors = c->max_discard_sectors;
	b->lim.max_discard_seg = c->max_discard_seg;
	b->lim.max_write_zeroes_sectors = c->max_write_zeroes_sectors;
	b->lim.max_write_zeroes_seg = c->max_write_zeroes_seg;
}

int virtio_blk_create(const struct virtio_blk_params *p, struct virtio_blk **out, char *err,
		      size_t errlen)
{
	struct virtio_blk *b;
	unsigned int i;
	int ret;

	if (!p->disk || !p->el)
		return -EINVAL;
	if (p->serial && strlen(p->serial) > VIRTIO_BLK_ID_BYTES)
		return err_set(err, errlen, -EINVAL, "serial \"%s\" is longer than %d bytes",
			       p->serial, VIRTIO_BLK_ID_BYTES);
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->disk = p->disk;
	b->el = p->el;
	b->name = strdup(p->name ? p->name : "virtio-blk");
	b->slots = calloc(BLK_QUEUE_SIZE, sizeof(*b->slots));
	if (!b->name || !b->slots) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (i = BLK_QUEUE_SIZE; i-- > 0;) {
		b->slots[i].b = b;
		slot_put(b, &b->slots[i]);
	}
	if (p->serial) {
		strcpy(b->serial, p->serial);
		b->has_serial = true;
	}
	blk_init_config(b);

	b->dev.ops = &blk_ops;
	b->dev.device_id = VIRTIO_ID_BLOCK;
	b->dev.nqueues = 1;
	b->dev.queue_max_size = BLK_QUEUE_SIZE;
	b->dev.config_size = sizeof(b->cfg);
	b->dev.name = b->name;

	b->done_src.fd = disk_event_fd(b->disk);
	b->done_src.handler = blk_disk_ready;
	b->done_src.opaque = b;
	ret = el_add(b->el, &b->done_src, EPOLLIN);
	if (ret < 0) {
		err_set(err, errlen, ret, "cannot watch the disk's completion fd: %s",
			strerror(-ret));
		goto err_free;
	}
	*out = b;
	return 0;

err_free:
	free(b->slots);
	free(b->name);
	free(b);
	return ret;
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *b)
{
	return &b->dev;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	/* The transport is gone (its destroy reset us), so every completion
	 * from here on is stale: disk_drain only frees slots. */
	b->ctx = NULL;
	b->gen++;
	disk_drain(b->disk);
	blk_run_deferred(b);
	el_remove(b->el, &b->done_src);
	free(b->slots);
	free(b->name);
	free(b);
}
