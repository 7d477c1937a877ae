/* SPDX-License-Identifier: MIT */
/*
 * The device side of the split virtqueue (virtio 1.2 section 2.7).
 *
 * Memory ordering. The driver and the device share three rings and pair
 * their barriers like this (Linux virtio_ring.c is the driver side):
 *
 *   driver                                device (here)
 *   write desc[], avail->ring[]           load-acquire avail->idx       (A)
 *   virtio_wmb; store avail->idx    <-->  then read avail->ring[], desc[]
 *   virtio_mb; read avail_event/flags <-> store avail_event/flags; mb;   (B)
 *     (to decide whether to kick)          re-read avail->idx
 *   read used->idx; virtio_rmb;     <-->  write used->ring[]; store-release
 *     read used->ring[]                    used->idx                     (C)
 *   store used_event; virtio_mb;    <-->  store used->idx; mb; read       (D)
 *     re-read used->idx                    used_event / avail->flags
 *
 * On x86 (TSO) acquire loads and release stores are plain moves (compiler
 * barriers only); the full barriers of (B) and (D) order a store before a
 * later load and are real fences (mfence / locked op).
 *
 * Hostile guest: a descriptor is copied out of guest memory once into a
 * local (read_desc, with a compiler barrier so the compiler cannot re-read
 * the guest's copy) and only the local copy is validated and used.
 */
#include "devices/virtio/queue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/iov.h"
#include "devices/virtio/virtio.h"

/* 2.7.5 descriptor flags */
#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
/* 2.7.6 / 2.7.8 ring flags */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

#define VIRTQ_DESC_SIZE 16

/* struct virtq_desc (2.7.5), our local copy. */
struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* ---- ring field accessors (the rings are little-endian; so is x86) ---- */

static uint16_t *avail_flags(struct virtq *q)
{
	return (uint16_t *)q->avail_h;
}

static uint16_t *avail_idx(struct virtq *q)
{
	return (uint16_t *)(q->avail_h + 2);
}

static uint16_t *avail_ring(struct virtq *q, uint16_t slot)
{
	return (uint16_t *)(q->avail_h + 4 + 2 * (size_t)(slot & (q->size - 1)));
}

/* 2.7.10: used_event sits after avail->ring[size] */
static uint16_t *used_event(struct virtq *q)
{
	return (uint16_t *)(q->avail_h + 4 + 2 * (size_t)q->size);
}

static uint16_t *used_flags(struct virtq *q)
{
	return (uint16_t *)q->used_h;
}

static uint16_t *used_idx(struct virtq *q)
{
	return (uint16_t *)(q->used_h + 2);
}

static uint32_t *used_elem(struct virtq *q, uint16_t slot)
{
	return (uint32_t *)(q->used_h + 4 + 8 * (size_t)(slot & (q->size - 1)));
}

/* 2.7.10: avail_event sits after used->ring[size] */
static uint16_t *avail_event(struct virtq *q)
{
	return (uint16_t *)(q->used_h + 4 + 8 * (size_t)q->size);
}

static size_t avail_ring_bytes(uint16_t size)
{
	return 6 + 2 * (size_t)size; /* flags, idx, ring[], used_event */
}

static size_t used_ring_bytes(uint16_t size)
{
	return 6 + 8 * (size_t)size; /* flags, idx, ring[], avail_event */
}

static void read_desc(const uint8_t *src, struct vdesc *d)
{
	memcpy(d, src, sizeof(*d));
	/* The guest may rewrite *src at any moment: make sure the compiler
	 * uses only the copy from here on (no re-fetch, Xen XSA-155). */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* The driver broke the rules: stop serving the queue. The device's caller
 * turns -EINVAL into DEVICE_NEEDS_RESET via virtio_ctx.fail(). */
static int __attribute__((format(printf, 2, 3))) virtq_break(struct virtq *q, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	q->broken = true;
	log_warn_ratelimited(&q->rl, "%s: broken virtqueue: %s", q->name ? q->name : "virtio", msg);
	return -EINVAL;
}

/* ---- setup ---- */

/* [a, a+alen) and [b, b+blen) share a byte (lengths > 0; a sum that wraps
 * is caught by gm_slice afterwards, so saturate instead of overflowing). */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	uint64_t a_end, b_end;

	if (__builtin_add_overflow(a, alen, &a_end))
		a_end = UINT64_MAX;
	if (__builtin_add_overflow(b, blen, &b_end))
		b_end = UINT64_MAX;
	return a < b_end && b < a_end;
}

int virtq_init(struct virtq *q, const struct guest_mem *mem, uint64_t features)
{
	uint16_t size = q->size;

	/* 2.7: Queue Size is a power of 2, at most 32768; 0 means "no queue". */
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	/* 2.7, table "Virtqueue Part Alignment": 16, 2, 4. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	/* The used ring is the only part the device writes. Where it overlaps
	 * the avail ring or the descriptors, our own writes (used->flags,
	 * avail_event) change what we read next: a hostile driver can make
	 * avail->idx move every time notifications are toggled, so a drain
	 * loop ("re-enable, has_avail? pop again") never ends. No driver lays
	 * out its rings like that (2.7 draws them as three separate areas). */
	if (ranges_overlap(q->used_gpa, used_ring_bytes(size), q->avail_gpa,
			   avail_ring_bytes(size)) ||
	    ranges_overlap(q->used_gpa, used_ring_bytes(size), q->desc_gpa,
			   (uint64_t)VIRTQ_DESC_SIZE * size))
		return -EINVAL;
	q->desc_h = gm_slice(mem, q->desc_gpa, (uint64_t)VIRTQ_DESC_SIZE * size);
	q->avail_h = gm_slice(mem, q->avail_gpa, avail_ring_bytes(size));
	q->used_h = gm_slice(mem, q->used_gpa, used_ring_bytes(size));
	if (!q->desc_h || !q->avail_h || !q->used_h)
		goto inval;
	free(q->inflight);
	q->inflight = calloc((size + 7) / 8, 1);
	if (!q->inflight) {
		q->desc_h = q->avail_h = q->used_h = NULL;
		return -ENOMEM;
	}
	q->mem = mem;
	q->event_idx = features & (1ULL << VIRTIO_F_RING_EVENT_IDX);
	q->indirect = features & (1ULL << VIRTIO_F_RING_INDIRECT_DESC);
	q->last_avail = q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_used_valid = false;
	q->ninflight = 0;
	q->broken = false;
	q->notify_enabled = true;
	return 0;
inval:
	q->desc_h = q->avail_h = q->used_h = NULL;
	return -EINVAL;
}

void virtq_destroy(struct virtq *q)
{
	struct ratelimit rl = q->rl; /* a reset must not refill the warning budget */
	const char *name = q->name;

	free(q->inflight);
	memset(q, 0, sizeof(*q));
	q->rl = rl;
	q->name = name;
}

/* ---- popping ---- */

static bool inflight_test(const struct virtq *q, uint16_t head)
{
	return q->inflight[head / 8] & (1U << (head % 8));
}

static void inflight_set(struct virtq *q, uint16_t head, bool on)
{
	if (on)
		q->inflight[head / 8] |= (uint8_t)(1U << (head % 8));
	else
		q->inflight[head / 8] &= (uint8_t) ~(1U << (head % 8));
}

/* Read avail->idx and check it. Returns the number of entries available
 * (0..size) or -EINVAL. */
static int avail_count(struct virtq *q)
{
	/* (A): acquire pairs with the driver's virtio_wmb before it stores
	 * avail->idx: ring entries and descriptors are read after this. */
	uint16_t idx = __atomic_load_n(avail_idx(q), __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(idx - q->last_avail);

	/* 2.7.6: the driver can be at most `size` entries ahead of us. */
	if (n > q->size)
		return virtq_break(q, "avail idx %u is %u ahead of %u (size %u)", idx, n,
				   q->last_avail, q->size);
	return n;
}

/* Walk the chain starting at `head` into `e` (2.7.5, 2.7.5.3). */
static int walk_chain(struct virtq *q, uint16_t head, struct virtq_elem *e)
{
	const uint8_t *table = q->desc_h;
	uint32_t table_n = q->size;
	unsigned int direct = 0, nbuf = 0;
	bool in_indirect = false, seen_write = false;
	uint16_t i = head;
	struct vdesc d;

	e->head = head;
	e->nout = e->nin = 0;
	e->out_len = e->in_len = 0;
	for (;;) {
		void *p;

		if (!in_indirect && ++direct > q->size)
			return virtq_break(q, "chain at head %u loops (longer than %u)", head,
					   q->size);
		read_desc(table + (size_t)i * VIRTQ_DESC_SIZE, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* 2.7.5.3.1: only with the feature, not inside an
			 * indirect table, never together with NEXT; the table
			 * is whole descriptors. The WRITE flag is ignored. */
			if (!q->indirect)
				return virtq_break(q, "indirect descriptor without the feature");
			if (in_indirect)
				return virtq_break(q, "nested indirect table at head %u", head);
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return virtq_break(q, "INDIRECT together with NEXT at head %u",
						   head);
			if (d.len == 0 || d.len % VIRTQ_DESC_SIZE)
				return virtq_break(q, "indirect table length %u", d.len);
			table = gm_slice(q->mem, d.addr, d.len);
			if (!table)
				return virtq_break(q, "indirect table 0x%llx+%u outside RAM",
						   (unsigned long long)d.addr, d.len);
			table_n = d.len / VIRTQ_DESC_SIZE;
			in_indirect = true;
			i = 0;
			continue;
		}
		if (++nbuf > VIRTQ_MAX_CHAIN)
			return virtq_break(q, "chain at head %u longer than %u buffers", head,
					   VIRTQ_MAX_CHAIN);
		/* 2.7.4.2: device-readable buffers come before writable ones. */
		if (d.flags & VIRTQ_DESC_F_WRITE)
			seen_write = true;
		else if (seen_write)
			return virtq_break(q, "readable buffer after a writable one at head %u",
					   head);
		/* A zero-length buffer touches no memory: accept it and skip
		 * it (no iovec). Anything else must lie in one RAM region. */
		if (d.len) {
			p = gm_slice(q->mem, d.addr, d.len);
			if (!p)
				return virtq_break(q, "buffer 0x%llx+%u outside RAM at head %u",
						   (unsigned long long)d.addr, d.len, head);
			e->iov[e->nout + e->nin] =
				(struct iovec){ .iov_base = p, .iov_len = d.len };
			if (d.flags & VIRTQ_DESC_F_WRITE) {
				e->nin++;
				e->in_len += d.len;
			} else {
				e->nout++;
				e->out_len += d.len;
			}
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= table_n)
			return virtq_break(q, "next %u out of range (%u) at head %u", d.next,
					   table_n, head);
		i = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	uint16_t head;
	int n, ret;

	if (q->broken)
		return -EINVAL;
	if (!q->inflight)
		return 0; /* never set up (or reset): nothing to serve */
	n = avail_count(q);
	if (n == 0 && q->event_idx && q->notify_enabled) {
		/* Caught up: tell the driver to kick for the next entry
		 * (2.7.10), then look again (B): a full barrier orders our
		 * avail_event store before the re-read of avail->idx, pairing
		 * with the driver's virtio_mb between its avail->idx store and
		 * its avail_event load. */
		__atomic_store_n(avail_event(q), q->last_avail, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		n = avail_count(q);
	}
	if (n <= 0)
		return n;

	head = __atomic_load_n(avail_ring(q, q->last_avail), __ATOMIC_RELAXED);
	if (head >= q->size)
		return virtq_break(q, "head %u out of range (size %u)", head, q->size);
	/* 2.7.13.1: a head the device has not returned cannot be offered
	 * again; serving it twice would complete one request twice. */
	if (inflight_test(q, head))
		return virtq_break(q, "head %u offered while in flight", head);
	ret = walk_chain(q, head, e);
	if (ret)
		return ret;
	inflight_set(q, head, true);
	q->ninflight++;
	q->last_avail++;
	return 1;
}

bool virtq_has_avail(struct virtq *q)
{
	if (q->broken || !q->inflight)
		return false;
	return __atomic_load_n(avail_idx(q), __ATOMIC_ACQUIRE) != q->last_avail;
}

/* ---- returning ---- */

int virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	uint32_t *elem;

	if (!q->inflight || head >= q->size || !inflight_test(q, head))
		return -EINVAL;
	elem = used_elem(q, q->used_idx);
	__atomic_store_n(&elem[0], head, __ATOMIC_RELAXED);
	__atomic_store_n(&elem[1], len, __ATOMIC_RELAXED);
	q->used_idx++;
	/* (C), 2.7.8: the used element must be visible before the index the
	 * driver reads it by; release pairs with the driver's virtio_rmb. */
	__atomic_store_n(used_idx(q), q->used_idx, __ATOMIC_RELEASE);
	inflight_set(q, head, false);
	q->ninflight--;
	/* 65536 pushes without an interrupt make signalled_used ambiguous
	 * (vhost_add_used_n does the same). */
	if (q->used_idx == q->signalled_used)
		q->signalled_used_valid = false;
	return 0;
}

/* 2.7.10 / Linux vring_need_event: does moving used->idx from `old` to
 * `new_idx` cross `event`? Unsigned 16-bit arithmetic handles the wrap. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old, event;
	bool valid;

	if (!q->inflight)
		return false;
	/* (D): our used->idx store before the read of used_event / flags,
	 * pairing with the driver's virtio_mb between its used_event store
	 * and its used->idx re-read; without it both sides could miss. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(__atomic_load_n(avail_flags(q), __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = q->signalled_used;
	valid = q->signalled_used_valid;
	q->signalled_used = q->used_idx;
	q->signalled_used_valid = true;
	if (!valid)
		return true;
	event = __atomic_load_n(used_event(q), __ATOMIC_RELAXED);
	return need_event(event, q->used_idx, old);
}

void virtq_set_notify(struct virtq *q, bool enable)
{
	if (!q->inflight)
		return;
	q->notify_enabled = enable;
	if (q->event_idx) {
		/* 2.7.10: kick when you add the entry at last_avail. While
		 * disabled we just stop moving avail_event forward. */
		if (enable)
			__atomic_store_n(avail_event(q), q->last_avail, __ATOMIC_RELAXED);
	} else {
		/* 2.7.8: VIRTQ_USED_F_NO_NOTIFY is only a hint to the driver. */
		__atomic_store_n(used_flags(q), enable ? 0 : VIRTQ_USED_F_NO_NOTIFY,
				 __ATOMIC_RELAXED);
	}
	/* (B): the store above before the caller's virtq_has_avail() load. */
	if (enable)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* ---- copying through an element ---- */

size_t virtq_elem_read(const struct virtq_elem *e, size_t off, void *dst, size_t len)
{
	return iov_to_buf(e->iov, e->nout, off, dst, len);
}

size_t virtq_elem_write(const struct virtq_elem *e, size_t off, const void *src, size_t len)
{
	return iov_from_buf(e->iov + e->nout, e->nin, off, src, len);
}
