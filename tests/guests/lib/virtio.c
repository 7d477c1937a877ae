// SPDX-License-Identifier: MIT
/*
 * A minimal polled virtio driver: the virtio-mmio v2 transport (virtio 1.2
 * section 4.2.2) and the driver side of the split virtqueue (section 2.7).
 * See virtio.h for the model (polling, caller-supplied ring memory).
 */
#include "virtio.h"

/* rdtsc ticks per millisecond on a TSC of at most 5 GHz: timeouts are at
 * least as long as asked for (longer on a slower TSC). */
#define TSC_TICKS_PER_MS_MAX 5000000ULL

static inline uint8_t mmio_read8(uint64_t pa)
{
	return *(volatile uint8_t *)phys(pa);
}

static inline uint16_t mmio_read16(uint64_t pa)
{
	return *(volatile uint16_t *)phys(pa);
}

int vio_probe(uint64_t base)
{
	if (mmio_read32(base + VIO_MAGIC_VALUE) != VIO_MAGIC)
		return -1;
	if (mmio_read32(base + VIO_VERSION) != 2)
		return -1;
	return (int)mmio_read32(base + VIO_DEVICE_ID);
}

uint32_t vio_wait_status(struct vio_dev *d, uint32_t mask, uint32_t ms)
{
	uint64_t start = rdtsc(), ticks = ms * TSC_TICKS_PER_MS_MAX;
	uint32_t s;

	do {
		s = vio_status(d);
		if (s & mask)
			break;
		cpu_relax();
	} while (rdtsc() - start < ticks);
	return s;
}

int vio_reset(struct vio_dev *d)
{
	uint64_t start = rdtsc(), ticks = 1000 * TSC_TICKS_PER_MS_MAX;

	vio_write32(d, VIO_STATUS, 0);
	/* 4.2.3.1.1: after writing 0 the driver waits for Status to read 0;
	 * the reset may complete asynchronously. */
	while (vio_status(d) != 0) {
		if (rdtsc() - start > ticks) {
			printf("virtio@0x%lx: reset did not complete (status 0x%x)\n", d->base,
			       vio_status(d));
			return GS_TIMEOUT;
		}
		cpu_relax();
	}
	return 0;
}

static void vio_set_status(struct vio_dev *d, uint32_t bits)
{
	vio_write32(d, VIO_STATUS, vio_status(d) | bits);
}

int vio_init(struct vio_dev *d, uint64_t base, uint64_t wanted, uint64_t required)
{
	uint32_t s;
	int ret;

	d->base = base;
	d->device_id = vio_read32(d, VIO_DEVICE_ID);
	d->ints_seen = 0;
	/* 3.1.1 driver initialization, steps 1-6 */
	ret = vio_reset(d);
	if (ret)
		return ret;
	vio_set_status(d, VIO_S_ACKNOWLEDGE);
	vio_set_status(d, VIO_S_DRIVER);
	vio_write32(d, VIO_DEVICE_FEATURES_SEL, 0);
	d->device_features = vio_read32(d, VIO_DEVICE_FEATURES);
	vio_write32(d, VIO_DEVICE_FEATURES_SEL, 1);
	d->device_features |= (uint64_t)vio_read32(d, VIO_DEVICE_FEATURES) << 32;
	if ((d->device_features & required) != required) {
		printf("virtio@0x%lx: features 0x%lx lack required 0x%lx\n", base,
		       d->device_features, required & ~d->device_features);
		vio_set_status(d, VIO_S_FAILED);
		return GS_BAD_CONFIG;
	}
	d->features = d->device_features & wanted;
	vio_write32(d, VIO_DRIVER_FEATURES_SEL, 0);
	vio_write32(d, VIO_DRIVER_FEATURES, (uint32_t)d->features);
	vio_write32(d, VIO_DRIVER_FEATURES_SEL, 1);
	vio_write32(d, VIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	vio_set_status(d, VIO_S_FEATURES_OK);
	/* 3.1.1 step 6: re-read; the device clears FEATURES_OK if it cannot
	 * work with the subset we accepted. */
	s = vio_status(d);
	if (!(s & VIO_S_FEATURES_OK)) {
		printf("virtio@0x%lx: device refused features 0x%lx (status 0x%x)\n", base,
		       d->features, s);
		vio_set_status(d, VIO_S_FAILED);
		return GS_BAD_CONFIG;
	}
	return 0;
}

void vio_driver_ok(struct vio_dev *d)
{
	vio_set_status(d, VIO_S_DRIVER_OK);
}

int vq_setup(struct vio_dev *d, struct vq *q, uint16_t index, uint16_t size, struct vq_mem *mem)
{
	uint32_t max;
	uint16_t i;

	vio_write32(d, VIO_QUEUE_SEL, index);
	/* 4.2.3.2: the queue must not be in use yet */
	if (vio_read32(d, VIO_QUEUE_READY)) {
		printf("virtio@0x%lx: queue %u already ready\n", d->base, index);
		return GS_BAD_CONFIG;
	}
	max = vio_read32(d, VIO_QUEUE_NUM_MAX);
	if (max == 0) {
		printf("virtio@0x%lx: queue %u not available\n", d->base, index);
		return GS_BAD_CONFIG;
	}
	if (size > max)
		size = (uint16_t)max;
	if (size > VQ_MAX_SIZE)
		size = VQ_MAX_SIZE;
	/* a split queue's size is a power of two (2.7) */
	while (size & (size - 1))
		size &= (uint16_t)(size - 1);

	memset(mem, 0, sizeof(*mem));
	q->dev = d;
	q->mem = mem;
	q->index = index;
	q->size = size;
	q->free_head = 0;
	q->num_free = size;
	q->avail_idx = q->kicked_idx = q->last_used = 0;
	q->event_idx = !!(d->features & VIO_BIT(VIO_F_EVENT_IDX));
	q->indirect = !!(d->features & VIO_BIT(VIO_F_INDIRECT_DESC));
	for (i = 0; i < size; i++)
		mem->desc[i].next = (uint16_t)(i + 1);

	vio_write32(d, VIO_QUEUE_NUM, size);
	vio_write32(d, VIO_QUEUE_DESC_LOW, (uint32_t)(uintptr_t)mem->desc);
	vio_write32(d, VIO_QUEUE_DESC_HIGH, (uint32_t)((uintptr_t)mem->desc >> 32));
	vio_write32(d, VIO_QUEUE_AVAIL_LOW, (uint32_t)(uintptr_t)&mem->avail);
	vio_write32(d, VIO_QUEUE_AVAIL_HIGH, (uint32_t)((uintptr_t)&mem->avail >> 32));
	vio_write32(d, VIO_QUEUE_USED_LOW, (uint32_t)(uintptr_t)&mem->used);
	vio_write32(d, VIO_QUEUE_USED_HIGH, (uint32_t)((uintptr_t)&mem->used >> 32));
	vio_write32(d, VIO_QUEUE_READY, 1);
	return 0;
}

uint8_t vio_config8(const struct vio_dev *d, uint32_t off)
{
	return mmio_read8(d->base + VIO_CONFIG + off);
}

uint16_t vio_config16(const struct vio_dev *d, uint32_t off)
{
	return mmio_read16(d->base + VIO_CONFIG + off);
}

uint32_t vio_config32(const struct vio_dev *d, uint32_t off)
{
	return vio_read32(d, VIO_CONFIG + off);
}

uint64_t vio_config64(const struct vio_dev *d, uint32_t off)
{
	uint32_t gen, lo, hi, tries = 0;

	/* 2.5.1/4.2.2.2: the two halves must come from one generation */
	do {
		gen = vio_read32(d, VIO_CONFIG_GENERATION);
		lo = vio_config32(d, off);
		hi = vio_config32(d, off + 4);
	} while (vio_read32(d, VIO_CONFIG_GENERATION) != gen && ++tries < 100);
	return (uint64_t)hi << 32 | lo;
}

uint32_t vio_ack_interrupt(struct vio_dev *d)
{
	uint32_t s = vio_read32(d, VIO_INTERRUPT_STATUS);

	if (s)
		vio_write32(d, VIO_INTERRUPT_ACK, s);
	d->ints_seen |= s;
	return s;
}

int vq_add(struct vq *q, const struct vio_buf *bufs, unsigned int nout, unsigned int nin,
	   struct vring_desc *indirect)
{
	struct vring_desc *desc = q->mem->desc;
	unsigned int n = nout + nin, i;
	uint16_t head = q->free_head, d;

	if (n == 0)
		return -1;
	if (indirect && q->indirect) {
		/* 2.7.5.3: one ring descriptor pointing at a table of n; the
		 * table's own descriptors chain through next from 0. */
		if (q->num_free < 1)
			return -1;
		for (i = 0; i < n; i++) {
			indirect[i].addr = bufs[i].addr;
			indirect[i].len = bufs[i].len;
			indirect[i].flags = (uint16_t)((i >= nout ? VRING_DESC_F_WRITE : 0) |
						       (i + 1 < n ? VRING_DESC_F_NEXT : 0));
			indirect[i].next = (uint16_t)(i + 1);
		}
		desc[head].addr = (uint64_t)(uintptr_t)indirect;
		desc[head].len = (uint32_t)(n * sizeof(*indirect));
		desc[head].flags = VRING_DESC_F_INDIRECT;
		q->free_head = desc[head].next;
		q->num_free--;
		q->chain_len[head] = 1;
	} else {
		if (q->num_free < n)
			return -1;
		d = head;
		for (i = 0; i < n; i++) {
			desc[d].addr = bufs[i].addr;
			desc[d].len = bufs[i].len;
			desc[d].flags = (uint16_t)((i >= nout ? VRING_DESC_F_WRITE : 0) |
						   (i + 1 < n ? VRING_DESC_F_NEXT : 0));
			if (i + 1 < n)
				d = desc[d].next;
		}
		/* the free list continues after the chain's last descriptor,
		 * whose .next still holds the old link */
		q->free_head = desc[d].next;
		q->num_free = (uint16_t)(q->num_free - n);
		q->chain_len[head] = (uint16_t)n;
	}
	q->mem->avail.ring[q->avail_idx & (q->size - 1)] = head;
	q->avail_idx++;
	return head;
}

void vq_kick(struct vq *q)
{
	uint16_t old = q->kicked_idx, new = q->avail_idx;
	bool notify;

	/* 2.7.13.2-3: descriptors and ring entries before avail.idx (the
	 * device reads them after it sees idx); x86 keeps stores in order. */
	vio_barrier();
	q->mem->avail.idx = new;
	q->kicked_idx = new;
	/* 2.7.13.4: the idx store must be visible before we read the
	 * device's suppression state, else we could skip a needed kick
	 * while the device goes idle: store-load needs mfence on x86. */
	vio_mb();
	if (q->event_idx) {
		/* avail_event sits right after the used ring's `size`
		 * entries; read it as the u16 the device writes there */
		uint16_t event = *(volatile uint16_t *)phys((uintptr_t)&q->mem->used.ring[q->size]);

		/* vring_need_event(): did new pass event since old? */
		notify = (uint16_t)(new - event - 1) < (uint16_t)(new - old);
	} else {
		notify = !(*(volatile uint16_t *)&q->mem->used.flags &
			   1); /* VRING_USED_F_NO_NOTIFY */
	}
	if (notify)
		vio_write32(q->dev, VIO_QUEUE_NOTIFY, q->index);
}

int vq_get_used(struct vq *q, uint16_t *head, uint32_t *len)
{
	struct vring_desc *desc = q->mem->desc;
	const struct vring_used_elem *e;
	uint16_t id, n, last;

	if (*(volatile uint16_t *)&q->mem->used.idx == q->last_used)
		return 0;
	/* 2.7.14: read the entry only after seeing idx move; x86 does not
	 * reorder loads with loads, the compiler must not either. */
	vio_barrier();
	e = &q->mem->used.ring[q->last_used & (q->size - 1)];
	id = (uint16_t)e->id;
	*len = e->len;
	*head = id;
	q->last_used++;
	if (id >= q->size || !q->chain_len[id])
		return 1; /* a device bug (not a head in flight): the caller sees it */
	/* give the chain's descriptors back to the free list */
	n = q->chain_len[id];
	for (last = id; n > 1; n--)
		last = desc[last].next;
	desc[last].next = q->free_head;
	q->free_head = id;
	q->num_free = (uint16_t)(q->num_free + q->chain_len[id]);
	q->chain_len[id] = 0;
	return 1;
}

int vq_wait_used(struct vq *q, uint16_t *head, uint32_t *len, uint32_t ms)
{
	uint64_t start = rdtsc(), ticks = ms * TSC_TICKS_PER_MS_MAX;

	do {
		if (vq_get_used(q, head, len))
			return 1;
		cpu_relax();
	} while (rdtsc() - start < ticks);
	return 0;
}

void vq_enable_interrupts(struct vq *q)
{
	if (q->event_idx)
		q->mem->avail.ring[q->size] = q->last_used; /* used_event */
	else
		q->mem->avail.flags = 0;
	vio_mb();
}

void vq_disable_interrupts(struct vq *q)
{
	/* With EVENT_IDX the device ignores flags (2.7.7.2); put used_event
	 * half the index space away, which a run of < 32768 completions
	 * never reaches. */
	if (q->event_idx)
		q->mem->avail.ring[q->size] = (uint16_t)(q->last_used + 0x8000);
	else
		q->mem->avail.flags = VRING_AVAIL_F_NO_INTERRUPT;
}
