/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the split virtqueue (devices/virtio/queue.c).
 *
 * The input is a hostile guest: a small header with queue parameters, then
 * the contents of guest RAM (rings, descriptors, indirect tables, all where
 * the header says). The device side pops and pushes until the ring is empty
 * or broken, touching every popped buffer, while the "guest" keeps rewriting
 * RAM between pops (bytes taken from the input again) to model a driver
 * changing descriptors under the device.
 *
 * Guest RAM is two exactly-sized malloc'd regions with a gap between them,
 * so ASan reports any access the queue makes outside what gm_slice allowed.
 *
 * Input layout (little-endian):
 *   0  u8  log2 of the queue size (mod 16)
 *   1  u8  flags: 1 INDIRECT_DESC, 2 EVENT_IDX, 4 keep up to 8 chains in
 *          flight, 8 toggle notifications while draining
 *   2  u16 desc offset, 4 u16 avail offset, 6 u16 used offset (gpas in RAM0)
 *   8  u16 start index (last_avail = used_idx = this: exercises the wrap)
 *   10 ...  RAM0 contents (the rest of the input, up to RAM0_SIZE bytes)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "base/log.h"

#define RAM0_GPA  0x0ULL
#define RAM0_SIZE 0x10000ULL
#define RAM1_GPA  0x11000ULL /* a 4 KiB hole in between */
#define RAM1_SIZE 0x1000ULL
#define HDR	  10
#define MAX_HELD  8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR); /* a broken ring warns once per input */
	return 0;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

/* Touch the first and last byte of every segment (ASan checks that each
 * lies in the fake RAM), and go through the copy helpers a little. */
static uint32_t consume(const struct virtq_elem *e)
{
	volatile uint8_t *p;
	uint8_t buf[64];
	uint32_t sum = 0;
	unsigned int i;

	for (i = 0; i < e->nout + e->nin; i++) {
		p = e->iov[i].iov_base;
		sum += p[0] + p[e->iov[i].iov_len - 1];
		if (i >= e->nout)
			p[0] = p[e->iov[i].iov_len - 1] = 0xa5;
	}
	if (virtq_elem_read(e, e->out_len / 2, buf, sizeof(buf)) > e->out_len)
		abort();
	memset(buf, 0x5a, sizeof(buf));
	if (virtq_elem_write(e, e->in_len / 2, buf, sizeof(buf)) > e->in_len)
		abort();
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem = { 0 };
	struct virtq q = { 0 };
	struct virtq_elem *e = NULL;
	uint8_t *ram0 = NULL, *ram1 = NULL;
	uint16_t held[MAX_HELD];
	unsigned int nheld = 0, iter, max_iter;
	const uint8_t *mut;
	size_t nmut, mi = 0;
	uint64_t features = 0;
	uint8_t flags;
	int r;

	if (size < HDR)
		return 0;
	flags = data[1];
	ram0 = calloc(1, RAM0_SIZE);
	ram1 = calloc(1, RAM1_SIZE);
	e = malloc(sizeof(*e));
	if (!ram0 || !ram1 || !e)
		goto out;
	memcpy(ram0, data + HDR, size - HDR < RAM0_SIZE ? size - HDR : RAM0_SIZE);
	if (gm_add_region(&mem, RAM0_GPA, RAM0_SIZE, ram0) ||
	    gm_add_region(&mem, RAM1_GPA, RAM1_SIZE, ram1))
		goto out;

	if (flags & 1)
		features |= 1ULL << VIRTIO_F_RING_INDIRECT_DESC;
	if (flags & 2)
		features |= 1ULL << VIRTIO_F_RING_EVENT_IDX;
	q.size = (uint16_t)(1U << (data[0] % 16));
	q.desc_gpa = le16(data + 2);
	q.avail_gpa = le16(data + 4);
	q.used_gpa = le16(data + 6);
	q.ready = true;
	if (virtq_init(&q, &mem, features))
		goto out;
	q.last_avail = q.used_idx = le16(data + 8);

	/* Guest rewrites between pops: (offset, value) pairs from the input. */
	mut = data + HDR;
	nmut = (size - HDR) / 3;
	max_iter = q.size < 512 ? 2U * q.size + 16 : 1040;
	for (iter = 0; iter < max_iter; iter++) {
		r = virtq_pop(&q, e);
		if (r <= 0)
			break;
		(void)consume(e);
		if ((flags & 4) && nheld < MAX_HELD) {
			held[nheld++] = e->head;
		} else if (virtq_push(&q, e->head, (uint32_t)e->in_len)) {
			abort(); /* a head we just popped must be pushable */
		}
		(void)virtq_should_notify(&q);
		if (flags & 8) {
			virtq_set_notify(&q, iter & 1);
			(void)virtq_has_avail(&q);
		}
		if (nmut) {
			const uint8_t *m = mut + 3 * (mi++ % nmut);

			ram0[le16(m) % RAM0_SIZE] = m[2];
		}
	}
	/* Complete what was held; a second push of the same head must fail. */
	while (nheld) {
		uint16_t h = held[--nheld];

		if (virtq_push(&q, h, 0) || !virtq_push(&q, h, 0))
			abort();
	}
	if (q.ninflight)
		abort();
	(void)virtq_should_notify(&q);
out:
	virtq_destroy(&q);
	free(e);
	free(ram0);
	free(ram1);
	return 0;
}
