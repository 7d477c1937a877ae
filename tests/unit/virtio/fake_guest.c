/* SPDX-License-Identifier: MIT */
/* The fake guest for virtio tests: see fake_guest.h. */
#include "tests/unit/virtio/fake_guest.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <cmocka.h>

/* ---- guest RAM and interrupt line ---- */

static int fake_irq_set(struct irq_line *line, int level)
{
	struct fake_irq *fi = line->opaque;

	if (level && !fi->level)
		fi->pulses++;
	fi->level = level;
	return 0;
}

void fake_irq_init(struct fake_irq *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->line.set = fake_irq_set;
	fi->line.opaque = fi;
	fi->line.vm_fd = -1;
	fi->line.efd = -1;
}

void fg_init(struct fake_guest *g, uint64_t ram_size)
{
	memset(g, 0, sizeof(*g));
	g->ram = calloc(1, ram_size);
	assert_non_null(g->ram);
	g->ram_size = ram_size;
	g->brk = 0x1000;
	assert_int_equal(gm_add_region(&g->mem, 0, ram_size, g->ram), 0);
	fake_irq_init(&g->irq);
}

void fg_add_ram(struct fake_guest *g, uint64_t gpa, uint64_t size)
{
	void *p;

	assert_true(g->nextra < FG_MAX_EXTRA);
	p = calloc(1, size);
	assert_non_null(p);
	assert_int_equal(gm_add_region(&g->mem, gpa, size, p), 0);
	g->extra[g->nextra++] = p;
}

void fg_destroy(struct fake_guest *g)
{
	unsigned int i;

	for (i = 0; i < g->nextra; i++)
		free(g->extra[i]);
	free(g->ram);
	memset(g, 0, sizeof(*g));
}

uint64_t fg_alloc(struct fake_guest *g, uint64_t size, uint64_t align)
{
	uint64_t gpa = (g->brk + align - 1) & ~(align - 1);

	assert_true(align && (align & (align - 1)) == 0);
	assert_true(gpa + size <= g->ram_size); /* fake guest out of RAM: give it more */
	g->brk = gpa + size;
	memset(g->ram + gpa, 0, size);
	return gpa;
}

void *fg_ptr(struct fake_guest *g, uint64_t gpa, uint64_t len)
{
	void *p = gm_slice(&g->mem, gpa, len);

	assert_non_null(p);
	return p;
}

void fg_write(struct fake_guest *g, uint64_t gpa, const void *src, uint64_t len)
{
	memcpy(fg_ptr(g, gpa, len), src, len);
}

void fg_read(struct fake_guest *g, uint64_t gpa, void *dst, uint64_t len)
{
	memcpy(dst, fg_ptr(g, gpa, len), len);
}

/* ---- split virtqueue builder ---- */

/* 2.7.5 struct virtq_desc, as the guest lays it out (little-endian x86). */
struct fg_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint16_t *avail_flags_p(struct fg_vring *vr)
{
	return fg_ptr(vr->g, vr->avail, 2);
}

static uint16_t *avail_idx_p(struct fg_vring *vr)
{
	return fg_ptr(vr->g, vr->avail + 2, 2);
}

static uint16_t *avail_ring_p(struct fg_vring *vr, uint16_t slot)
{
	return fg_ptr(vr->g, vr->avail + 4 + 2ULL * slot, 2);
}

static uint16_t *used_event_p(struct fg_vring *vr)
{
	return fg_ptr(vr->g, vr->avail + 4 + 2ULL * vr->size, 2);
}

static uint16_t *used_idx_p(struct fg_vring *vr)
{
	return fg_ptr(vr->g, vr->used + 2, 2);
}

static uint16_t *avail_event_p(struct fg_vring *vr)
{
	return fg_ptr(vr->g, vr->used + 4 + 8ULL * vr->size, 2);
}

void fg_vring_place(struct fake_guest *g, struct fg_vring *vr, uint16_t size, uint64_t desc,
		    uint64_t avail, uint64_t used)
{
	assert_true(size && (size & (size - 1)) == 0);
	memset(vr, 0, sizeof(*vr));
	vr->g = g;
	vr->size = size;
	vr->desc = desc;
	vr->avail = avail;
	vr->used = used;
	vr->nfree = size;
	vr->desc_busy = calloc(size, 1);
	vr->next = calloc(size, sizeof(*vr->next));
	vr->chain_len = calloc(size, sizeof(*vr->chain_len));
	vr->indirect_tbl = calloc(size, sizeof(*vr->indirect_tbl));
	assert_true(vr->desc_busy && vr->next && vr->chain_len && vr->indirect_tbl);
}

void fg_vring_init(struct fake_guest *g, struct fg_vring *vr, uint16_t size)
{
	uint64_t desc = fg_alloc(g, 16ULL * size, 4096);
	uint64_t avail = fg_alloc(g, 6 + 2ULL * size, 4096);
	uint64_t used = fg_alloc(g, 6 + 8ULL * size, 4096);

	fg_vring_place(g, vr, size, desc, avail, used);
}

void fg_vring_destroy(struct fg_vring *vr)
{
	free(vr->desc_busy);
	free(vr->next);
	free(vr->chain_len);
	free(vr->indirect_tbl);
	memset(vr, 0, sizeof(*vr));
}

void fg_vring_set_desc(struct fg_vring *vr, uint16_t idx, uint64_t addr, uint32_t len,
		       uint16_t flags, uint16_t next)
{
	struct fg_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	fg_write(vr->g, vr->desc + 16ULL * idx, &d, sizeof(d));
}

void fg_table_set_desc(struct fake_guest *g, uint64_t table, unsigned int i, uint64_t addr,
		       uint32_t len, uint16_t flags, uint16_t next)
{
	struct fg_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	fg_write(g, table + 16ULL * i, &d, sizeof(d));
}

void fg_vring_set_avail_idx(struct fg_vring *vr, uint16_t idx)
{
	vr->avail_idx = idx;
	/* 2.7.13: the ring entries must be visible before the new index
	 * (Linux virtqueue_add_split: virtio_wmb before avail->idx). */
	__atomic_store_n(avail_idx_p(vr), idx, __ATOMIC_RELEASE);
}

void fg_vring_publish(struct fg_vring *vr, uint16_t head)
{
	*avail_ring_p(vr, vr->avail_idx & (vr->size - 1)) = head;
	fg_vring_set_avail_idx(vr, (uint16_t)(vr->avail_idx + 1));
}

/* Take `n` free descriptors and link them through the driver's shadow
 * `next` array, the way Linux keeps a free list. Returns the head or -1. */
static int alloc_chain(struct fg_vring *vr, unsigned int n, uint16_t *idx)
{
	unsigned int i, found = 0;

	if (n == 0 || n > vr->nfree)
		return -1;
	for (i = 0; i < vr->size && found < n; i++)
		if (!vr->desc_busy[i])
			idx[found++] = (uint16_t)i;
	for (i = 0; i < n; i++) {
		vr->desc_busy[idx[i]] = 1;
		vr->next[idx[i]] = i + 1 < n ? idx[i + 1] : 0;
	}
	vr->nfree -= n;
	vr->chain_len[idx[0]] = (uint16_t)n;
	return idx[0];
}

int fg_vring_add(struct fg_vring *vr, const struct fg_buf *bufs, unsigned int n)
{
	uint16_t *idx;
	unsigned int i;
	int head;

	if (n == 0 || n > vr->size)
		return -1;
	idx = calloc(n, sizeof(*idx));
	assert_non_null(idx);
	head = alloc_chain(vr, n, idx);
	if (head >= 0) {
		for (i = 0; i < n; i++) {
			uint16_t flags = (bufs[i].writable ? FG_DESC_F_WRITE : 0) |
					 (i + 1 < n ? FG_DESC_F_NEXT : 0);

			fg_vring_set_desc(vr, idx[i], bufs[i].gpa, bufs[i].len, flags,
					  vr->next[idx[i]]);
		}
		fg_vring_publish(vr, (uint16_t)head);
	}
	free(idx);
	return head;
}

int fg_vring_add_indirect(struct fg_vring *vr, const struct fg_buf *bufs, unsigned int n)
{
	uint16_t head;
	unsigned int i;
	uint64_t table;

	assert_true(n > 0 && n <= FG_INDIRECT_MAX);
	if (alloc_chain(vr, 1, &head) < 0)
		return -1;
	if (!vr->indirect_tbl[head])
		vr->indirect_tbl[head] = fg_alloc(vr->g, 16ULL * FG_INDIRECT_MAX, 16);
	table = vr->indirect_tbl[head];
	/* 2.7.5.3.1: inside the table, next is an index into the table. */
	for (i = 0; i < n; i++) {
		uint16_t flags =
			(bufs[i].writable ? FG_DESC_F_WRITE : 0) | (i + 1 < n ? FG_DESC_F_NEXT : 0);

		fg_table_set_desc(vr->g, table, i, bufs[i].gpa, bufs[i].len, flags,
				  (uint16_t)(i + 1 < n ? i + 1 : 0));
	}
	fg_vring_set_desc(vr, head, table, 16U * n, FG_DESC_F_INDIRECT, 0);
	fg_vring_publish(vr, head);
	return head;
}

void fg_vring_set_avail_flags(struct fg_vring *vr, uint16_t flags)
{
	__atomic_store_n(avail_flags_p(vr), flags, __ATOMIC_RELEASE);
}

void fg_vring_set_used_event(struct fg_vring *vr, uint16_t v)
{
	__atomic_store_n(used_event_p(vr), v, __ATOMIC_RELEASE);
}

uint16_t fg_vring_used_flags(struct fg_vring *vr)
{
	return __atomic_load_n((uint16_t *)fg_ptr(vr->g, vr->used, 2), __ATOMIC_ACQUIRE);
}

uint16_t fg_vring_used_idx(struct fg_vring *vr)
{
	return __atomic_load_n(used_idx_p(vr), __ATOMIC_ACQUIRE);
}

uint16_t fg_vring_avail_event(struct fg_vring *vr)
{
	return __atomic_load_n(avail_event_p(vr), __ATOMIC_ACQUIRE);
}

bool fg_vring_get_used(struct fg_vring *vr, uint32_t *id, uint32_t *len)
{
	uint32_t elem[2];
	uint16_t i, d, n;

	/* Acquire pairs with the device's release of used->idx (2.7.8). */
	if (fg_vring_used_idx(vr) == vr->last_used)
		return false;
	fg_read(vr->g, vr->used + 4 + 8ULL * (vr->last_used & (vr->size - 1)), elem, sizeof(elem));
	vr->last_used++;
	*id = elem[0];
	*len = elem[1];
	/* Free the chain (the driver trusts its own shadow, not the ring). */
	if (elem[0] < vr->size && vr->chain_len[elem[0]]) {
		n = vr->chain_len[elem[0]];
		vr->chain_len[elem[0]] = 0;
		for (i = 0, d = (uint16_t)elem[0]; i < n; i++, d = vr->next[d]) {
			vr->desc_busy[d] = 0;
			vr->nfree++;
		}
	}
	return true;
}

/* ---- driving a virtio-mmio transport ---- */

void fg_mmio_read(struct virtio_mmio *t, uint64_t off, void *data, uint32_t len)
{
	pthread_mutex_lock(&t->lock);
	virtio_mmio_bus_ops.read(t, off, data, len);
	pthread_mutex_unlock(&t->lock);
}

void fg_mmio_write(struct virtio_mmio *t, uint64_t off, const void *data, uint32_t len)
{
	pthread_mutex_lock(&t->lock);
	virtio_mmio_bus_ops.write(t, off, data, len);
	pthread_mutex_unlock(&t->lock);
}

uint32_t fg_mmio_read32(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v = 0;

	fg_mmio_read(t, off, &v, 4);
	return v;
}

void fg_mmio_write32(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	fg_mmio_write(t, off, &v, 4);
}

static void add_status(struct virtio_mmio *t, uint32_t bits)
{
	fg_mmio_write32(t, VIRTIO_MMIO_STATUS, fg_mmio_read32(t, VIRTIO_MMIO_STATUS) | bits);
}

int fg_mmio_probe(struct virtio_mmio *t)
{
	if (fg_mmio_read32(t, VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976) /* "virt" */
		return -ENODEV;
	if (fg_mmio_read32(t, VIRTIO_MMIO_VERSION) != 2)
		return -ENODEV;
	if (fg_mmio_read32(t, VIRTIO_MMIO_DEVICE_ID) == 0)
		return -ENODEV; /* a placeholder: Linux skips it */
	fg_mmio_write32(t, VIRTIO_MMIO_STATUS, 0);
	add_status(t, VIRTIO_STATUS_ACKNOWLEDGE);
	add_status(t, VIRTIO_STATUS_DRIVER);
	return 0;
}

int fg_mmio_negotiate(struct virtio_mmio *t, uint64_t want, bool force, uint64_t *got)
{
	uint64_t offered, feat;

	fg_mmio_write32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered = (uint64_t)fg_mmio_read32(t, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	fg_mmio_write32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered |= fg_mmio_read32(t, VIRTIO_MMIO_DEVICE_FEATURES);
	feat = force ? want : (want & offered);
	if (got)
		*got = feat;
	fg_mmio_write32(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fg_mmio_write32(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	fg_mmio_write32(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fg_mmio_write32(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	add_status(t, VIRTIO_STATUS_FEATURES_OK);
	if (!(fg_mmio_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return -EIO;
	return 0;
}

int fg_mmio_setup_queue(struct virtio_mmio *t, unsigned int idx, const struct fg_vring *vr)
{
	uint32_t max;

	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_SEL, idx);
	if (fg_mmio_read32(t, VIRTIO_MMIO_QUEUE_READY))
		return -EINVAL;
	max = fg_mmio_read32(t, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		return -ENOENT;
	if (vr->size > max)
		return -EINVAL;
	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_NUM, vr->size);
	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vr->desc);
	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(vr->desc >> 32));
	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)vr->avail);
	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(vr->avail >> 32));
	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)vr->used);
	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(vr->used >> 32));
	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

uint32_t fg_mmio_driver_ok(struct virtio_mmio *t)
{
	add_status(t, VIRTIO_STATUS_DRIVER_OK);
	return fg_mmio_read32(t, VIRTIO_MMIO_STATUS);
}

int fg_mmio_start(struct virtio_mmio *t, uint64_t want, struct fg_vring *vrs, unsigned int nvr,
		  uint64_t *got)
{
	const uint32_t ok = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	unsigned int i;
	int ret;

	ret = fg_mmio_probe(t);
	if (ret)
		return ret;
	ret = fg_mmio_negotiate(t, want, false, got);
	if (ret)
		return ret;
	for (i = 0; i < nvr; i++) {
		ret = fg_mmio_setup_queue(t, i, &vrs[i]);
		if (ret)
			return ret;
	}
	return fg_mmio_driver_ok(t) == ok ? 0 : -EIO;
}

void fg_mmio_kick(struct virtio_mmio *t, unsigned int idx)
{
	fg_mmio_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, idx);
}

uint32_t fg_mmio_ack_irq(struct virtio_mmio *t)
{
	uint32_t st = fg_mmio_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS);

	fg_mmio_write32(t, VIRTIO_MMIO_INTERRUPT_ACK, st);
	return st;
}

/* ---- the event loop, one step at a time ---- */

int fg_el_poll(struct event_loop *el, int timeout_ms)
{
	struct epoll_event evs[32];
	int n, i, ran = 0;

	n = epoll_wait(el->epfd, evs, 32, timeout_ms);
	for (i = 0; i < n; i++) {
		struct el_source *src = evs[i].data.ptr;

		if (!src)
			continue; /* the stop eventfd: leave it for el_run */
		src->handler(src, evs[i].events);
		ran++;
	}
	return ran;
}
