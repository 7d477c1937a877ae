/* SPDX-License-Identifier: MIT */
/* The virtio-mmio transport (devices/virtio/mmio.c), driven by the fake
 * guest's Linux-like driver against a tiny test device. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/bus.h"
#include "devices/virtio/mmio.h"
#include "tests/unit/virtio/fake_guest.h"

#define RAM_SIZE    (1ULL << 20)
#define F_DEV0	    (1ULL << 0) /* a device-type feature bit */
#define F_INDIRECT  (1ULL << VIRTIO_F_RING_INDIRECT_DESC)
#define F_EVENT_IDX (1ULL << VIRTIO_F_RING_EVENT_IDX)
#define F_VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define F_PACKED    (1ULL << 34) /* VIRTIO_F_RING_PACKED: not implemented */
#define STATUS_UP                                                                       \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | \
	 VIRTIO_STATUS_DRIVER_OK)

/* ---- the test device: 2 queues; on a kick it answers every chain with
 * "ok" in the writable part ---- */

struct tdev {
	struct virtio_dev dev;
	uint8_t config[24];
	unsigned int activates, notifies, resets, config_reads, config_writes;
	int activate_ret;
	struct virtio_ctx *ctx;
	unsigned int served;
	bool lock_held; /* every op ran with dev->lock held */
};

static struct tdev *to_tdev(struct virtio_dev *dev)
{
	return (struct tdev *)dev;
}

static void check_locked(struct tdev *td)
{
	/* The lock is a default mutex: trylock fails while anyone holds it. */
	if (pthread_mutex_trylock(td->dev.lock) == 0) {
		pthread_mutex_unlock(td->dev.lock);
		td->lock_held = false;
	}
}

static uint64_t tdev_features(struct virtio_dev *dev)
{
	return F_DEV0 | F_INDIRECT | F_EVENT_IDX | F_PACKED;
}

static void tdev_config_read(struct virtio_dev *dev, uint32_t off, void *data, uint32_t len)
{
	struct tdev *td = to_tdev(dev);

	check_locked(td);
	td->config_reads++;
	memcpy(data, td->config + off, len);
}

static void tdev_config_write(struct virtio_dev *dev, uint32_t off, const void *data, uint32_t len)
{
	struct tdev *td = to_tdev(dev);

	td->config_writes++;
	memcpy(td->config + off, data, len);
}

static int tdev_activate(struct virtio_dev *dev, struct virtio_ctx *ctx)
{
	struct tdev *td = to_tdev(dev);

	check_locked(td);
	td->activates++;
	td->ctx = ctx;
	return td->activate_ret;
}

static void tdev_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct tdev *td = to_tdev(dev);
	struct virtq *q = &td->ctx->queues[qidx];
	struct virtq_elem *e = malloc(sizeof(*e));
	int r;

	check_locked(td);
	td->notifies++;
	while ((r = virtq_pop(q, e)) == 1) {
		size_t n = virtq_elem_write(e, 0, "ok", 2);

		assert_int_equal(virtq_push(q, e->head, (uint32_t)n), 0);
		td->served++;
		td->ctx->signal_used(td->ctx, q);
	}
	if (r < 0)
		(td->ctx->fail)(td->ctx); /* parenthesised: cmocka defines fail() */
	free(e);
}

static void tdev_reset(struct virtio_dev *dev)
{
	struct tdev *td = to_tdev(dev);

	check_locked(td);
	td->resets++;
	td->ctx = NULL;
}

static const struct virtio_dev_ops tdev_ops = {
	.features = tdev_features,
	.config_read = tdev_config_read,
	.config_write = tdev_config_write,
	.activate = tdev_activate,
	.queue_notify = tdev_queue_notify,
	.reset = tdev_reset,
};

/* ---- fixture ---- */

struct env {
	struct fake_guest g;
	struct event_loop el;
	struct fg_vring vr[2];
	struct tdev td;
	struct virtio_mmio t;
};

static int setup(void **state)
{
	struct env *v = calloc(1, sizeof(*v));
	unsigned int i;

	assert_non_null(v);
	fg_init(&v->g, RAM_SIZE);
	assert_int_equal(el_init(&v->el), 0);
	fg_vring_init(&v->g, &v->vr[0], 16);
	fg_vring_init(&v->g, &v->vr[1], 8);
	v->td.dev = (struct virtio_dev){ .ops = &tdev_ops,
					 .device_id = 42,
					 .nqueues = 2,
					 .queue_max_size = 16,
					 .config_size = sizeof(v->td.config),
					 .name = "tdev" };
	v->td.lock_held = true;
	for (i = 0; i < sizeof(v->td.config); i++)
		v->td.config[i] = (uint8_t)(0x10 + i);
	assert_int_equal(virtio_mmio_init(&v->t, &v->td.dev,
					  &(struct virtio_mmio_params){ .mem = &v->g.mem,
									.el = &v->el,
									.irq = &v->g.irq.line,
									.base = 0xd0000000 }),
			 0);
	*state = v;
	return 0;
}

static int teardown(void **state)
{
	struct env *v = *state;

	virtio_mmio_destroy(&v->t);
	assert_true(v->td.lock_held);
	fg_vring_destroy(&v->vr[0]);
	fg_vring_destroy(&v->vr[1]);
	el_destroy(&v->el);
	fg_destroy(&v->g);
	free(v);
	return 0;
}

static uint32_t status(struct env *v)
{
	return fg_mmio_read32(&v->t, VIRTIO_MMIO_STATUS);
}

static void start(struct env *v, uint64_t want)
{
	uint64_t got;

	assert_int_equal(fg_mmio_start(&v->t, want, v->vr, 2, &got), 0);
	assert_int_equal(status(v), STATUS_UP);
}

static int add_request(struct env *v, unsigned int qi, uint64_t *reply)
{
	*reply = fg_alloc(&v->g, 8, 8);
	return fg_vring_add(&v->vr[qi],
			    (struct fg_buf[]){ { 0x1000, 16, false }, { *reply, 8, true } }, 2);
}

/* ---- tests ---- */

static void test_probe(void **state)
{
	struct env *v = *state;
	uint64_t got;
	uint32_t hi, lo;

	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_VENDOR_ID), 0x554d4d56);
	/* Offered: the device's bits + VERSION_1, without RING_PACKED. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	hi = fg_mmio_read32(&v->t, VIRTIO_MMIO_DEVICE_FEATURES);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = fg_mmio_read32(&v->t, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_int_equal(((uint64_t)hi << 32) | lo,
			 F_DEV0 | F_INDIRECT | F_EVENT_IDX | F_VERSION_1);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	/* No shared memory regions. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_SHM_SEL, 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	/* Queues 0 and 1 exist, 2 does not. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_NUM_MAX), 16);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);

	assert_int_equal(fg_mmio_start(&v->t, ~0ULL, v->vr, 2, &got), 0);
	assert_int_equal(got, F_DEV0 | F_INDIRECT | F_EVENT_IDX | F_VERSION_1);
	assert_int_equal(status(v), STATUS_UP);
	assert_int_equal(v->td.activates, 1);
	assert_non_null(v->td.ctx);
	assert_int_equal(v->td.ctx->features, got);
	assert_int_equal(v->td.ctx->nqueues, 2);
	assert_true(v->td.ctx->queues[0].ready && v->td.ctx->queues[0].event_idx);
	assert_int_equal(v->td.ctx->queues[1].size, 8);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_READY), 1);
	/* DRIVER_OK again (same status) does not activate twice. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS, STATUS_UP);
	assert_int_equal(v->td.activates, 1);
}

static void test_feature_refusal(void **state)
{
	struct env *v = *state;
	uint64_t got;

	/* Without VERSION_1 (a legacy driver). */
	assert_int_equal(fg_mmio_probe(&v->t), 0);
	assert_int_equal(fg_mmio_negotiate(&v->t, F_DEV0, false, &got), -EIO);
	assert_false(status(v) & VIRTIO_STATUS_FEATURES_OK);
	/* DRIVER_OK without FEATURES_OK is ignored: no activation. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS, status(v) | VIRTIO_STATUS_DRIVER_OK);
	assert_false(status(v) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(v->td.activates, 0);

	/* With a bit we did not offer (RING_PACKED, or device bit 5). */
	assert_int_equal(fg_mmio_probe(&v->t), 0);
	assert_int_equal(fg_mmio_negotiate(&v->t, F_VERSION_1 | F_PACKED, true, NULL), -EIO);
	assert_int_equal(fg_mmio_probe(&v->t), 0);
	assert_int_equal(fg_mmio_negotiate(&v->t, F_VERSION_1 | (1ULL << 5), true, NULL), -EIO);

	/* With a non-zero word beyond bit 63. */
	assert_int_equal(fg_mmio_probe(&v->t), 0);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	assert_int_equal(fg_mmio_negotiate(&v->t, F_VERSION_1, false, NULL), -EIO);

	/* Reset clears that; a good set is accepted and then frozen. */
	assert_int_equal(fg_mmio_probe(&v->t), 0);
	assert_int_equal(fg_mmio_negotiate(&v->t, F_VERSION_1 | F_DEV0, false, &got), 0);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(v->t.driver_features, F_VERSION_1 | F_DEV0);
	assert_int_equal(fg_mmio_setup_queue(&v->t, 0, &v->vr[0]), 0);
	assert_int_equal(fg_mmio_driver_ok(&v->t), STATUS_UP);
	assert_int_equal(v->td.ctx->features, F_VERSION_1 | F_DEV0);
	assert_false(v->td.ctx->queues[0].event_idx);
	/* Queue 1 was not set up: not ready, pops nothing. */
	assert_false(v->td.ctx->queues[1].ready);
}

static void test_status_machine(void **state)
{
	struct env *v = *state;

	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER); /* before ACK */
	assert_int_equal(status(v), 0);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS,
			VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	assert_int_equal(status(v), 3);
	/* Clearing a bit without a full reset is ignored. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER);
	assert_int_equal(status(v), 3);
	/* The driver cannot set DEVICE_NEEDS_RESET. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS, 3 | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(status(v), 3);
	/* FAILED sticks; DRIVER_OK is then not activated. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS, 3 | VIRTIO_STATUS_FAILED);
	assert_int_equal(status(v), 3 | VIRTIO_STATUS_FAILED);
	assert_int_equal(v->td.activates, 0);
}

static void test_queue_setup_validation(void **state)
{
	struct env *v = *state;
	static const uint32_t bad_sizes[] = { 0, 3, 32, 65536 + 16 };
	unsigned int i;

	for (i = 0; i < 4; i++) {
		assert_int_equal(fg_mmio_probe(&v->t), 0);
		assert_int_equal(fg_mmio_negotiate(&v->t, ~0ULL, false, NULL), 0);
		assert_int_equal(fg_mmio_setup_queue(&v->t, 0, &v->vr[0]), 0);
		fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_READY, 0);
		fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_NUM, bad_sizes[i]);
		assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_NUM), 0);
		fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_READY, 1);
		assert_true(fg_mmio_driver_ok(&v->t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
		assert_int_equal(v->td.activates, 0);
	}

	/* Rings outside RAM, or misaligned. */
	for (i = 0; i < 2; i++) {
		struct fg_vring out;

		fg_vring_place(&v->g, &out, 16, i ? v->vr[0].desc + 8 : RAM_SIZE, v->vr[0].avail,
			       v->vr[0].used);
		assert_int_equal(fg_mmio_probe(&v->t), 0);
		assert_int_equal(fg_mmio_negotiate(&v->t, ~0ULL, false, NULL), 0);
		assert_int_equal(fg_mmio_setup_queue(&v->t, 0, &out), 0);
		assert_true(fg_mmio_driver_ok(&v->t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
		assert_int_equal(v->td.activates, 0);
		fg_vring_destroy(&out);
	}

	/* Queue registers are frozen once the queue is ready. */
	assert_int_equal(fg_mmio_probe(&v->t), 0);
	assert_int_equal(fg_mmio_negotiate(&v->t, ~0ULL, false, NULL), 0);
	assert_int_equal(fg_mmio_setup_queue(&v->t, 0, &v->vr[0]), 0);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x12340);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_NUM, 4);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_DESC_LOW), v->vr[0].desc);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_NUM), 16);
	/* ... and after DRIVER_OK even for a queue that is not ready. */
	assert_int_equal(fg_mmio_driver_ok(&v->t), STATUS_UP);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_SEL, 1);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_NUM, 4);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_NUM), 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_READY), 0);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_SEL, 0);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_READY), 1);
	/* A queue that does not exist ignores writes. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_SEL, 5);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_NUM, 4);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_NUM), 0);
	assert_int_equal(v->td.activates, 1);
}

static void test_activate_failure(void **state)
{
	struct env *v = *state;
	uint64_t got;

	v->td.activate_ret = -ENODEV;
	assert_int_equal(fg_mmio_start(&v->t, ~0ULL, v->vr, 2, &got), -EIO);
	assert_int_equal(status(v), STATUS_UP | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(v->td.activates, 1);
	/* 2.1.2: with DRIVER_OK, NEEDS_RESET comes with a config interrupt. */
	assert_int_equal(v->g.irq.pulses, 1);
	assert_int_equal(fg_mmio_ack_irq(&v->t), VIRTIO_MMIO_INT_CONFIG);
	/* A kick is not delivered to a device that failed. */
	fg_mmio_kick(&v->t, 0);
	fg_el_poll(&v->el, 0);
	assert_int_equal(v->td.notifies, 0);
}

static void test_kick_and_interrupt(void **state)
{
	struct env *v = *state;
	uint64_t reply;
	uint32_t id, len;
	int head;

	/* A kick before DRIVER_OK reaches the loop but not the device. */
	fg_mmio_kick(&v->t, 0);
	assert_int_equal(fg_el_poll(&v->el, 0), 1);
	assert_int_equal(v->td.notifies, 0);

	start(v, ~0ULL & ~F_EVENT_IDX);
	head = add_request(v, 0, &reply);
	assert_true(head >= 0);
	assert_int_equal(fg_el_poll(&v->el, 0), 0); /* nothing until the kick */
	fg_mmio_kick(&v->t, 0);
	assert_int_equal(v->td.notifies, 0); /* the vCPU only signals the eventfd */
	assert_int_equal(fg_el_poll(&v->el, 100), 1);
	assert_int_equal(v->td.notifies, 1);
	assert_int_equal(v->td.served, 1);
	assert_true(fg_vring_get_used(&v->vr[0], &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 2);
	assert_memory_equal(fg_ptr(&v->g, reply, 2), "ok", 2);
	assert_int_equal(v->g.irq.pulses, 1);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_VRING);
	/* While VRING is pending (not acked), more used buffers add no edge. */
	head = add_request(v, 0, &reply);
	fg_mmio_kick(&v->t, 0);
	assert_int_equal(fg_el_poll(&v->el, 100), 1);
	assert_int_equal(v->td.served, 2);
	assert_int_equal(v->g.irq.pulses, 1);
	/* Partial ack leaves the other bit. */
	virtio_mmio_config_changed(&v->t);
	assert_int_equal(v->g.irq.pulses, 2);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(fg_mmio_ack_irq(&v->t), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* After the ack, the next used buffer raises a new edge. */
	fg_vring_get_used(&v->vr[0], &id, &len);
	add_request(v, 0, &reply);
	fg_mmio_kick(&v->t, 0);
	assert_int_equal(fg_el_poll(&v->el, 100), 1);
	assert_int_equal(v->g.irq.pulses, 3);
	assert_int_equal(fg_mmio_ack_irq(&v->t), VIRTIO_MMIO_INT_VRING);

	/* The driver suppresses interrupts: served, no pulse. */
	fg_vring_set_avail_flags(&v->vr[1], FG_AVAIL_F_NO_INTERRUPT);
	add_request(v, 1, &reply);
	fg_mmio_kick(&v->t, 1);
	assert_int_equal(fg_el_poll(&v->el, 100), 1);
	assert_int_equal(v->td.served, 4);
	assert_int_equal(v->g.irq.pulses, 3);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* QueueNotify of a queue that does not exist is ignored. */
	fg_mmio_kick(&v->t, 7);
	assert_int_equal(fg_el_poll(&v->el, 0), 0);
}

static void *loop_thread(void *arg)
{
	struct event_loop *el = arg;

	assert_int_equal(el_run(el), 0);
	return NULL;
}

/* The real arrangement: the loop runs on its own thread, the "vCPU" (this
 * thread) kicks and waits for the used ring. */
static void test_kick_with_loop_thread(void **state)
{
	struct env *v = *state;
	struct timespec ts = { 0, 1000000 };
	pthread_t th;
	uint64_t reply;
	uint32_t id, len;
	int i, n, head;

	start(v, ~0ULL);
	assert_int_equal(pthread_create(&th, NULL, loop_thread, &v->el), 0);
	for (n = 0; n < 20; n++) {
		head = add_request(v, 0, &reply);
		assert_true(head >= 0);
		fg_mmio_kick(&v->t, 0);
		for (i = 0; i < 2000 && !fg_vring_get_used(&v->vr[0], &id, &len); i++)
			nanosleep(&ts, NULL);
		assert_true(i < 2000);
		assert_int_equal(id, head);
	}
	el_stop(&v->el);
	pthread_join(th, NULL);
	pthread_mutex_lock(&v->t.lock);
	assert_int_equal(v->td.served, 20);
	pthread_mutex_unlock(&v->t.lock);
	assert_true(v->td.notifies >= 1 && v->td.notifies <= 20);
}

static void test_config_space(void **state)
{
	struct env *v = *state;
	uint8_t b = 0;
	uint16_t w = 0;
	uint32_t d = 0;
	uint64_t q = 0;

	fg_mmio_read(&v->t, VIRTIO_MMIO_CONFIG + 1, &b, 1);
	assert_int_equal(b, 0x11);
	fg_mmio_read(&v->t, VIRTIO_MMIO_CONFIG + 2, &w, 2);
	assert_int_equal(w, 0x1312);
	fg_mmio_read(&v->t, VIRTIO_MMIO_CONFIG + 4, &d, 4);
	assert_int_equal(d, 0x17161514);
	fg_mmio_read(&v->t, VIRTIO_MMIO_CONFIG + 16, &q, 8);
	assert_int_equal(q, 0x2726252423222120ULL);
	assert_int_equal(v->td.config_reads, 4);
	/* Past the end: 0, and the device is not asked. */
	q = 0x55;
	fg_mmio_read(&v->t, VIRTIO_MMIO_CONFIG + 20, &q, 8);
	assert_int_equal(q, 0);
	fg_mmio_read(&v->t, VIRTIO_MMIO_CONFIG + 0x100, &d, 4);
	assert_int_equal(d, 0);
	assert_int_equal(v->td.config_reads, 4);
	d = 0xaabbccdd;
	fg_mmio_write(&v->t, VIRTIO_MMIO_CONFIG + 8, &d, 4);
	assert_int_equal(v->td.config[8], 0xdd);
	fg_mmio_write(&v->t, VIRTIO_MMIO_CONFIG + 22, &d, 4); /* straddles the end */
	assert_int_equal(v->td.config_writes, 1);

	/* Registers: 4 bytes, aligned, or nothing. */
	fg_mmio_read(&v->t, VIRTIO_MMIO_MAGIC_VALUE, &w, 2);
	assert_int_equal(w, 0);
	fg_mmio_read(&v->t, VIRTIO_MMIO_MAGIC_VALUE, &q, 8);
	assert_int_equal(q, 0);
	fg_mmio_read(&v->t, VIRTIO_MMIO_MAGIC_VALUE + 2, &d, 4);
	assert_int_equal(d, 0);
	b = VIRTIO_STATUS_ACKNOWLEDGE;
	fg_mmio_write(&v->t, VIRTIO_MMIO_STATUS, &b, 1);
	assert_int_equal(status(v), 0);
	/* Unknown and read-only registers. */
	assert_int_equal(fg_mmio_read32(&v->t, 0x0f0), 0);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_MAGIC_VALUE, 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);

	/* ConfigGeneration moves on a config change; no interrupt before
	 * DRIVER_OK. */
	d = fg_mmio_read32(&v->t, VIRTIO_MMIO_CONFIG_GENERATION);
	pthread_mutex_lock(&v->t.lock);
	virtio_mmio_config_changed(&v->t);
	pthread_mutex_unlock(&v->t.lock);
	assert_int_not_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_CONFIG_GENERATION), d);
	assert_int_equal(v->g.irq.pulses, 0);
}

static void test_reset(void **state)
{
	struct env *v = *state;
	uint32_t gen, resets;
	uint64_t reply;

	start(v, ~0ULL);
	add_request(v, 0, &reply);
	fg_mmio_kick(&v->t, 0);
	fg_el_poll(&v->el, 100);
	assert_int_equal(v->td.served, 1);
	gen = fg_mmio_read32(&v->t, VIRTIO_MMIO_CONFIG_GENERATION);
	resets = v->td.resets;

	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(v->td.resets, resets + 1);
	assert_null(v->td.ctx);
	assert_int_equal(status(v), 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_int_equal(v->t.driver_features, 0);
	assert_false(v->t.active);
	fg_mmio_write32(&v->t, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_NUM), 0);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	assert_null(v->t.queues[0].inflight);

	/* A stale kick after the reset is dropped. */
	fg_mmio_kick(&v->t, 0);
	fg_el_poll(&v->el, 0);
	assert_int_equal(v->td.notifies, 1);

	/* The driver starts over with fresh rings. */
	fg_vring_destroy(&v->vr[0]);
	fg_vring_destroy(&v->vr[1]);
	fg_vring_init(&v->g, &v->vr[0], 16);
	fg_vring_init(&v->g, &v->vr[1], 8);
	start(v, ~0ULL);
	assert_int_equal(v->td.activates, 2);
	add_request(v, 0, &reply);
	fg_mmio_kick(&v->t, 0);
	fg_el_poll(&v->el, 100);
	assert_int_equal(v->td.served, 2);
}

/* A malformed chain: DEVICE_NEEDS_RESET plus a config interrupt; the VMM
 * (this process) goes on, and a reset brings the device back. */
static void test_needs_reset_after_bad_chain(void **state)
{
	struct env *v = *state;
	uint64_t reply;

	start(v, ~0ULL);
	fg_vring_publish(&v->vr[0], 99); /* head out of range */
	fg_mmio_kick(&v->t, 0);
	assert_int_equal(fg_el_poll(&v->el, 100), 1);
	assert_int_equal(v->td.notifies, 1);
	assert_int_equal(status(v), STATUS_UP | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(v->g.irq.pulses, 1);
	assert_int_equal(fg_mmio_read32(&v->t, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG);
	/* Kicks are no longer delivered. */
	fg_mmio_kick(&v->t, 0);
	fg_el_poll(&v->el, 0);
	assert_int_equal(v->td.notifies, 1);
	/* Writing the same status back (NEEDS_RESET is device-owned) is
	 * harmless. */
	fg_mmio_write32(&v->t, VIRTIO_MMIO_STATUS, STATUS_UP);
	assert_true(status(v) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);

	fg_vring_destroy(&v->vr[0]);
	fg_vring_init(&v->g, &v->vr[0], 16);
	start(v, ~0ULL);
	add_request(v, 0, &reply);
	fg_mmio_kick(&v->t, 0);
	fg_el_poll(&v->el, 100);
	assert_int_equal(v->td.served, 1);
}

/* The notifiers the device manager hands to KVM: one eventfd per queue and
 * the QueueNotify write that signals it. Signalling the fd directly (what
 * a KVM ioeventfd does) serves the queue without a register access. */
static void test_notifiers(void **state)
{
	struct env *v = *state;
	struct virtio_mmio_notifier n0, n1, n;
	uint64_t reply, one = 1;
	uint32_t id, len;
	int head;

	assert_int_equal(virtio_mmio_get_notifier(&v->t, 0, &n0), 0);
	assert_int_equal(virtio_mmio_get_notifier(&v->t, 1, &n1), 0);
	assert_int_equal(virtio_mmio_get_notifier(&v->t, 2, &n), -ENOENT);
	assert_true(n0.fd >= 0 && n1.fd >= 0 && n0.fd != n1.fd);
	assert_int_equal(n0.addr, 0xd0000000 + VIRTIO_MMIO_QUEUE_NOTIFY);
	assert_int_equal(n1.addr, n0.addr);
	assert_int_equal(n0.len, 4);
	assert_int_equal(n0.value, 0);
	assert_int_equal(n1.value, 1);

	start(v, ~0ULL & ~F_EVENT_IDX);
	head = add_request(v, 1, &reply);
	assert_true(head >= 0);
	assert_int_equal(write(n1.fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(fg_el_poll(&v->el, 100), 1);
	assert_int_equal(v->td.notifies, 1);
	assert_true(fg_vring_get_used(&v->vr[1], &id, &len));
	assert_int_equal(id, head);
	assert_memory_equal(fg_ptr(&v->g, reply, 2), "ok", 2);
}

/* The window goes where the device manager said (params.base); a second
 * window over it is refused with a one-line reason. */
static void test_register(void **state)
{
	struct env *v = *state;
	struct bus bus;
	uint32_t magic = 0;
	char err[128] = "";

	bus_init(&bus, "mmio");
	assert_int_equal(virtio_mmio_register(&v->t, &bus, err, sizeof(err)), 0);
	assert_int_equal(bus_read(&bus, 0xd0000000 + VIRTIO_MMIO_MAGIC_VALUE, &magic, 4), 0);
	assert_memory_equal(&magic, "virt", 4);
	assert_int_not_equal(virtio_mmio_register(&v->t, &bus, err, sizeof(err)), 0);
	assert_string_equal(err, "tdev: cannot place its window at 0xd0000000 on the MMIO bus: it "
				 "overlaps tdev at 0xd0000000..0xd0000fff");
	assert_null(strchr(err, '\n'));
	bus_destroy(&bus);
}

static void test_init_rejects(void **state)
{
	struct env *v = *state;
	struct tdev td = { .dev = { .ops = &tdev_ops, .nqueues = 1, .queue_max_size = 12 } };
	struct virtio_mmio t;
	struct virtio_mmio_params p = { .mem = &v->g.mem, .el = &v->el, .irq = &v->g.irq.line };

	assert_int_equal(virtio_mmio_init(&t, &td.dev, &p), -EINVAL); /* max not 2^n */
	td.dev.queue_max_size = 16;
	td.dev.nqueues = VIRTIO_MAX_QUEUES + 1;
	assert_int_equal(virtio_mmio_init(&t, &td.dev, &p), -EINVAL);
	td.dev.nqueues = 1;
	td.dev.config_size = 0x1000;
	assert_int_equal(virtio_mmio_init(&t, &td.dev, &p), -EINVAL);
	td.dev.config_size = 0;
	p.irq = NULL;
	assert_int_equal(virtio_mmio_init(&t, &td.dev, &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feature_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_machine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_setup_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_and_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_with_loop_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needs_reset_after_bad_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifiers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_rejects, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
