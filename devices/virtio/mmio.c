/* SPDX-License-Identifier: MIT */
/*
 * The virtio-mmio transport, version 2 (virtio 1.2 section 4.2.2).
 *
 * Register accesses arrive on vCPU threads with t->lock held (the bus takes
 * it); kicks arrive on the event-loop thread (kick_handler takes it). The
 * device's ops therefore never run concurrently.
 *
 * The driver side this is written against is Linux's
 * drivers/virtio/virtio_mmio.c (vm_probe, vm_finalize_features,
 * vm_setup_vq, vm_notify, vm_interrupt) and virtio.c (the status sequence
 * of 3.1.1).
 */
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/err.h"
#include "base/eventfd.h"

#define VIRTIO_MMIO_MAGIC  0x74726976U /* "virt", little-endian */
#define VIRTIO_MMIO_VENDOR 0x554d4d56U /* "VMMU" */

/*
 * 2.2: bits 24..49 are the transport/ring range. Of those we implement
 * INDIRECT_DESC and EVENT_IDX (queue.c) and VERSION_1 (this transport);
 * anything else a device might list there (RING_PACKED, ACCESS_PLATFORM,
 * NOTIFICATION_DATA, RING_RESET, ...) is not offered.
 */
#define TRANSPORT_BITS (((1ULL << 50) - 1) & ~((1ULL << 24) - 1))
#define TRANSPORT_OK                                                                 \
	((1ULL << VIRTIO_F_RING_INDIRECT_DESC) | (1ULL << VIRTIO_F_RING_EVENT_IDX) | \
	 (1ULL << VIRTIO_F_VERSION_1))

static uint64_t offered_features(struct virtio_mmio *t)
{
	uint64_t f = t->dev->ops->features(t->dev);

	return (f & ~(TRANSPORT_BITS & ~TRANSPORT_OK)) | (1ULL << VIRTIO_F_VERSION_1);
}

static const char *dev_name(const struct virtio_mmio *t)
{
	return t->dev->name ? t->dev->name : "virtio-mmio";
}

/* ---- interrupts ---- */

static void raise_irq(struct virtio_mmio *t, uint32_t bits)
{
	uint32_t was = t->interrupt_status;

	t->interrupt_status |= bits;
	/*
	 * Edge-triggered (an irqfd injects once per write). If every bit was
	 * already pending, an edge is already on its way and the guest has
	 * not acked yet: Linux's vm_interrupt reads InterruptStatus, acks it,
	 * and only then walks the used ring, so it also sees this event (the
	 * ack takes t->lock, which we hold). Skipping the extra edge saves a
	 * spurious interrupt that would find the status already 0 (Linux
	 * disables a line after too many IRQ_NONE).
	 */
	if ((was & bits) == bits)
		return;
	if (irq_line_pulse(t->p.irq) < 0)
		log_warn_ratelimited(&t->rl, "%s: cannot raise the interrupt", dev_name(t));
}

/* The device can no longer go on (a broken queue, a failed activate). 2.1.2:
 * set DEVICE_NEEDS_RESET and, if DRIVER_OK is set, send a configuration
 * change notification. */
static void set_needs_reset(struct virtio_mmio *t)
{
	if (t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	/* 4.2.2: ConfigGeneration changes whenever the config may have. */
	t->config_generation++;
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(t, VIRTIO_MMIO_INT_CONFIG);
}

static void ctx_signal_used(struct virtio_ctx *ctx, struct virtq *q)
{
	struct virtio_mmio *t = ctx->transport;

	if (virtq_should_notify(q))
		raise_irq(t, VIRTIO_MMIO_INT_VRING);
}

static void ctx_fail(struct virtio_ctx *ctx)
{
	set_needs_reset(ctx->transport);
}

static void ctx_config_changed(struct virtio_ctx *ctx)
{
	virtio_mmio_config_changed(ctx->transport);
}

/* ---- reset and activation ---- */

/* 4.2.2.1 / 2.4: writing 0 to Status resets the device: queues, features,
 * interrupt status, selectors. ConfigGeneration is left alone. */
static void transport_reset(struct virtio_mmio *t)
{
	unsigned int i;

	t->dev->ops->reset(t->dev);
	t->active = false;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_destroy(&t->queues[i]);
	t->status = 0;
	t->device_features_sel = t->driver_features_sel = 0;
	t->driver_features = 0;
	t->features_bad = false;
	t->queue_sel = 0;
	t->interrupt_status = 0;
	memset(&t->ctx, 0, sizeof(t->ctx));
}

/* 3.1.1 step 8: DRIVER_OK. Validate the queues the driver made ready and
 * hand them to the device. Any failure is the driver's (or the device's)
 * problem, never the VMM's: DEVICE_NEEDS_RESET. */
static void activate(struct virtio_mmio *t)
{
	unsigned int i;
	int ret;

	for (i = 0; i < t->dev->nqueues; i++) {
		struct virtq *q = &t->queues[i];

		if (!q->ready)
			continue;
		ret = virtq_init(q, t->p.mem, t->driver_features);
		if (ret) {
			log_warn_ratelimited(
				&t->rl,
				"%s: queue %u set up badly (size %u desc 0x%llx "
				"avail 0x%llx used 0x%llx)",
				dev_name(t), i, q->size, (unsigned long long)q->desc_gpa,
				(unsigned long long)q->avail_gpa, (unsigned long long)q->used_gpa);
			goto fail;
		}
	}
	t->ctx = (struct virtio_ctx){
		.mem = t->p.mem,
		.queues = t->queues,
		.nqueues = t->dev->nqueues,
		.features = t->driver_features,
		.signal_used = ctx_signal_used,
		.fail = ctx_fail,
		.config_changed = ctx_config_changed,
		.transport = t,
	};
	ret = t->dev->ops->activate(t->dev, &t->ctx);
	if (ret) {
		log_warn_ratelimited(&t->rl, "%s: activation failed (%d)", dev_name(t), ret);
		goto fail;
	}
	t->active = true;
	return;
fail:
	set_needs_reset(t);
}

/* ---- Status ---- */

static bool features_acceptable(struct virtio_mmio *t)
{
	uint64_t f = t->driver_features;

	/* 3.1.1 step 5 / 6.1: only what we offered, and VERSION_1 (we offer
	 * no legacy interface, so a driver without it cannot drive us). */
	return !t->features_bad && !(f & ~offered_features(t)) &&
	       (f & (1ULL << VIRTIO_F_VERSION_1));
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	const uint32_t driver_bits = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK |
				     VIRTIO_STATUS_FAILED;
	uint32_t set;

	if (v == 0) {
		transport_reset(t);
		return;
	}
	/* 2.1.2: the driver MUST NOT clear a bit; only 0 resets. The device
	 * owns DEVICE_NEEDS_RESET, so it does not count as cleared. */
	if ((t->status & ~v) & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
		log_warn_ratelimited(&t->rl, "%s: status 0x%x -> 0x%x clears bits; ignored",
				     dev_name(t), t->status, v);
		return;
	}
	set = v & ~t->status & driver_bits;
	if (set & VIRTIO_STATUS_FAILED)
		t->status |= VIRTIO_STATUS_FAILED; /* the driver gave up */
	/* 3.1.1: ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, in order (the
	 * same write may set several). A bit whose predecessor is missing is
	 * ignored. */
	if (set & VIRTIO_STATUS_ACKNOWLEDGE)
		t->status |= VIRTIO_STATUS_ACKNOWLEDGE;
	if ((set & VIRTIO_STATUS_DRIVER) && (t->status & VIRTIO_STATUS_ACKNOWLEDGE))
		t->status |= VIRTIO_STATUS_DRIVER;
	if ((set & VIRTIO_STATUS_FEATURES_OK) && (t->status & VIRTIO_STATUS_DRIVER)) {
		/* 3.1.1 step 6: the driver re-reads Status; if FEATURES_OK
		 * is not set, the device did not accept the features. */
		if (features_acceptable(t))
			t->status |= VIRTIO_STATUS_FEATURES_OK;
		else
			log_warn_ratelimited(&t->rl, "%s: driver features 0x%llx refused",
					     dev_name(t), (unsigned long long)t->driver_features);
	}
	if ((set & VIRTIO_STATUS_DRIVER_OK) && (t->status & VIRTIO_STATUS_FEATURES_OK)) {
		t->status |= VIRTIO_STATUS_DRIVER_OK;
		if (!(t->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
			activate(t);
	}
	if (v & ~t->status & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		log_warn_ratelimited(&t->rl, "%s: status 0x%x: bits 0x%x ignored", dev_name(t), v,
				     v & ~t->status);
}

/* ---- queue registers ---- */

/* The selected queue, if its registers may still be written: before
 * QueueReady (4.2.2: the driver writes QueueNum etc. and then QueueReady)
 * and before DRIVER_OK. */
static struct virtq *writable_queue(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q;

	if (t->queue_sel >= t->dev->nqueues)
		return NULL;
	q = &t->queues[t->queue_sel];
	if (q->ready || (t->status & VIRTIO_STATUS_DRIVER_OK)) {
		log_warn_ratelimited(&t->rl, "%s: queue %u register 0x%llx written while live",
				     dev_name(t), t->queue_sel, (unsigned long long)off);
		return NULL;
	}
	return q;
}

static void set_half(uint64_t *reg, bool high, uint32_t v)
{
	if (high)
		*reg = (*reg & 0xffffffffULL) | ((uint64_t)v << 32);
	else
		*reg = (*reg & ~0xffffffffULL) | v;
}

static void write_queue_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q;

	if (off == VIRTIO_MMIO_QUEUE_READY && v == 0 && t->queue_sel < t->dev->nqueues &&
	    !(t->status & VIRTIO_STATUS_DRIVER_OK)) {
		t->queues[t->queue_sel].ready = false; /* vm_del_vq, before DRIVER_OK */
		return;
	}
	q = writable_queue(t, off);
	if (!q)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		/* 2.7: a power of 2, at most QueueNumMax. A bad size is kept
		 * as 0, so DRIVER_OK then fails with DEVICE_NEEDS_RESET. */
		if (v == 0 || v > t->dev->queue_max_size || (v & (v - 1))) {
			log_warn_ratelimited(&t->rl, "%s: queue %u: bad QueueNum %u (max %u)",
					     dev_name(t), t->queue_sel, v, t->dev->queue_max_size);
			v = 0;
		}
		q->size = (uint16_t)v;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&q->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_half(&q->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_half(&q->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		q->ready = v == 1; /* checked by virtq_init at DRIVER_OK */
		break;
	}
}

static void notify(struct virtio_mmio *t, uint32_t v)
{
	/* 4.2.2: without VIRTIO_F_NOTIFICATION_DATA the value is the queue
	 * index. Signal the same eventfd KVM would have (the ioeventfd missed
	 * or there is none): the device runs on the loop thread either way. */
	if (v >= t->dev->nqueues || t->kick_fd[v] < 0) {
		log_warn_ratelimited(&t->rl, "%s: notify of queue %u", dev_name(t), v);
		return;
	}
	(void)eventfd_signal(t->kick_fd[v]); /* a wake-up: nothing to report */
}

/* ---- the register window ---- */

static bool config_access_ok(struct virtio_mmio *t, uint64_t off, uint32_t len)
{
	uint64_t coff = off - VIRTIO_MMIO_CONFIG;

	if ((len == 1 || len == 2 || len == 4 || len == 8) && coff + len <= t->dev->config_size)
		return true;
	log_warn_ratelimited(&t->rl, "%s: config access at 0x%llx len %u outside %u bytes",
			     dev_name(t), (unsigned long long)coff, len, t->dev->config_size);
	return false;
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = t->queue_sel < t->dev->nqueues ? &t->queues[t->queue_sel] : NULL;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2; /* 4.2.4: version 1 is legacy, not offered */
	case VIRTIO_MMIO_DEVICE_ID:
		return t->dev->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t)(offered_features(t) >> (32 * t->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? t->dev->queue_max_size : 0; /* 0: no such queue */
	case VIRTIO_MMIO_QUEUE_NUM:
		return q ? q->size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return q ? (uint32_t)(q->desc_gpa >> (off == VIRTIO_MMIO_QUEUE_DESC_HIGH ? 32 : 0))
			 : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return q ? (uint32_t)(q->avail_gpa >>
				      (off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH ? 32 : 0))
			 : 0;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return q ? (uint32_t)(q->used_gpa >> (off == VIRTIO_MMIO_QUEUE_USED_HIGH ? 32 : 0))
			 : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* 4.2.2: no shared memory regions; a non-existent region has
		 * length -1 (Linux vm_get_shm_region checks ~0). */
		return 0xffffffffU;
	case VIRTIO_MMIO_QUEUE_RESET:
		return 0; /* VIRTIO_F_RING_RESET is not offered */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_generation;
	default:
		log_warn_ratelimited(&t->rl, "%s: read of register 0x%llx", dev_name(t),
				     (unsigned long long)off);
		return 0;
	}
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* 3.1.1: features are written after DRIVER and frozen by
		 * FEATURES_OK. */
		if (!(t->status & VIRTIO_STATUS_DRIVER) ||
		    (t->status & VIRTIO_STATUS_FEATURES_OK)) {
			log_warn_ratelimited(&t->rl, "%s: DriverFeatures written in status 0x%x",
					     dev_name(t), t->status);
			break;
		}
		if (t->driver_features_sel <= 1) {
			uint64_t mask = 0xffffffffULL << (32 * t->driver_features_sel);

			t->driver_features = (t->driver_features & ~mask) |
					     ((uint64_t)v << (32 * t->driver_features_sel));
		} else if (v) {
			t->features_bad = true;
		}
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		write_queue_reg(t, off, v);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		notify(t, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->interrupt_status &= ~v;
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(t, v);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		break; /* every region is non-existent */
	default:
		log_warn_ratelimited(&t->rl, "%s: write of register 0x%llx", dev_name(t),
				     (unsigned long long)off);
		break;
	}
}

static void mmio_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	memset(data, 0, len);
	if (off >= VIRTIO_MMIO_CONFIG) {
		if (config_access_ok(t, off, len))
			t->dev->ops->config_read(t->dev, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data,
						 len);
		return;
	}
	/* 4.2.2.2: the driver MUST use 32-bit wide, aligned accesses. */
	if (len != 4 || (off & 3)) {
		log_warn_ratelimited(&t->rl, "%s: %u-byte read of register 0x%llx", dev_name(t),
				     len, (unsigned long long)off);
		return;
	}
	v = read_reg(t, off);
	memcpy(data, &v, 4);
}

static void mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	if (off >= VIRTIO_MMIO_CONFIG) {
		if (config_access_ok(t, off, len) && t->dev->ops->config_write)
			t->dev->ops->config_write(t->dev, (uint32_t)(off - VIRTIO_MMIO_CONFIG),
						  data, len);
		return;
	}
	if (len != 4 || (off & 3)) {
		log_warn_ratelimited(&t->rl, "%s: %u-byte write of register 0x%llx", dev_name(t),
				     len, (unsigned long long)off);
		return;
	}
	memcpy(&v, data, 4);
	write_reg(t, off, v);
}

const struct bus_dev_ops virtio_mmio_bus_ops = {
	.read = mmio_read,
	.write = mmio_write,
};

/* ---- kicks (event-loop thread) ---- */

static void kick_handler(struct el_source *src, uint32_t events)
{
	struct virtio_mmio *t = src->opaque;
	unsigned int qidx = (unsigned int)(src - t->kick_src);

	if (eventfd_drain(src->fd) == -EAGAIN)
		return; /* someone else drained it */
	pthread_mutex_lock(&t->lock);
	/* A kick may be stale: it can race with a reset or arrive after the
	 * device failed. Serve only a live, ready queue. */
	if (t->active && (t->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) && qidx < t->dev->nqueues &&
	    t->queues[qidx].ready)
		t->dev->ops->queue_notify(t->dev, qidx);
	pthread_mutex_unlock(&t->lock);
}

/* ---- lifetime ---- */

static void close_kicks(struct virtio_mmio *t)
{
	unsigned int i;

	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (t->kick_fd[i] < 0)
			continue;
		if (t->kick_src[i].handler)
			(void)el_remove(t->p.el, &t->kick_src[i]);
		close(t->kick_fd[i]);
		t->kick_fd[i] = -1;
		t->kick_src[i].handler = NULL;
	}
}

int virtio_mmio_init(struct virtio_mmio *t, struct virtio_dev *dev,
		     const struct virtio_mmio_params *p)
{
	uint16_t qmax = dev->queue_max_size;
	unsigned int i;
	int ret;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		t->kick_fd[i] = -1;
	if (!p->mem || !p->el || !p->irq || !dev->ops || dev->nqueues > VIRTIO_MAX_QUEUES ||
	    qmax == 0 || qmax > VIRTQ_MAX_SIZE || (qmax & (qmax - 1)) ||
	    dev->config_size > VIRTIO_MMIO_WINDOW_SIZE - VIRTIO_MMIO_CONFIG)
		return -EINVAL;
	t->dev = dev;
	t->p = *p;
	ret = pthread_mutex_init(&t->lock, NULL);
	if (ret)
		return -ret;
	dev->lock = &t->lock;
	for (i = 0; i < dev->nqueues; i++) {
		t->queues[i].name = dev->name;
		t->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->kick_fd[i] < 0) {
			ret = -errno;
			goto fail;
		}
		t->kick_src[i] = (struct el_source){ .fd = t->kick_fd[i],
						     .handler = kick_handler,
						     .opaque = t };
		ret = el_add(p->el, &t->kick_src[i], EPOLLIN);
		if (ret) {
			t->kick_src[i].handler = NULL;
			goto fail;
		}
	}
	return 0;
fail:
	close_kicks(t);
	dev->lock = NULL;
	pthread_mutex_destroy(&t->lock);
	return ret;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t->dev)
		return;
	close_kicks(t);
	pthread_mutex_lock(&t->lock);
	transport_reset(t);
	pthread_mutex_unlock(&t->lock);
	t->dev->lock = NULL;
	pthread_mutex_destroy(&t->lock);
	t->dev = NULL;
}

int virtio_mmio_register(struct virtio_mmio *t, struct bus *mmio, char *err, size_t errlen)
{
	char why[BUS_ERR_MAX];
	int ret = bus_register(mmio, t->p.base, VIRTIO_MMIO_WINDOW_SIZE, &virtio_mmio_bus_ops, t,
			       &t->lock, dev_name(t), why, sizeof(why));

	if (ret)
		return err_set(err, errlen, ret,
			       "%s: cannot place its window at 0x%llx on the MMIO bus: %s",
			       dev_name(t), (unsigned long long)t->p.base, why);
	return 0;
}

int virtio_mmio_get_notifier(const struct virtio_mmio *t, unsigned int qidx,
			     struct virtio_mmio_notifier *n)
{
	if (!t->dev || qidx >= t->dev->nqueues)
		return -ENOENT;
	/* 4.2.2: without VIRTIO_F_NOTIFICATION_DATA (not offered) the driver
	 * writes the queue index, 32 bits wide, to QueueNotify. */
	*n = (struct virtio_mmio_notifier){
		.fd = t->kick_fd[qidx],
		.addr = t->p.base + VIRTIO_MMIO_QUEUE_NOTIFY,
		.len = 4,
		.value = qidx,
	};
	return 0;
}

/* ---- Snapshots ---- */

int virtio_mmio_state_save(struct virtio_mmio *t, struct virtio_mmio_state *st, char *err,
			   size_t errlen)
{
	unsigned int i;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->lock);
	st->status = t->status;
	st->device_features_sel = t->device_features_sel;
	st->driver_features_sel = t->driver_features_sel;
	st->queue_sel = t->queue_sel;
	st->interrupt_status = t->interrupt_status;
	st->config_generation = t->config_generation;
	st->features_bad = t->features_bad;
	st->driver_features = t->driver_features;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		const struct virtq *q = &t->queues[i];

		if (q->ninflight)
			ret = err_set(err, errlen, -EBUSY, "%s: %u requests in flight on queue %u",
				      dev_name(t), q->ninflight, i);
		st->q[i] = (struct virtio_mmio_queue_state){
			.size = q->size,
			.ready = q->ready,
			.desc = q->desc_gpa,
			.avail = q->avail_gpa,
			.used = q->used_gpa,
			.last_avail = q->last_avail,
			.used_idx = q->used_idx,
			.signalled_used = q->signalled_used,
			.signalled_used_valid = q->signalled_used_valid,
		};
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

void virtio_mmio_state_load(struct virtio_mmio *t, const struct virtio_mmio_state *st)
{
	unsigned int i;

	pthread_mutex_lock(&t->lock);
	t->status = st->status & 0xff;
	t->device_features_sel = st->device_features_sel;
	t->driver_features_sel = st->driver_features_sel;
	t->queue_sel = st->queue_sel < VIRTIO_MAX_QUEUES ? st->queue_sel : 0;
	t->interrupt_status =
		st->interrupt_status & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	t->config_generation = st->config_generation;
	t->features_bad = st->features_bad != 0;
	/* only what was offered: the driver cannot have accepted more */
	t->driver_features = st->driver_features & offered_features(t);
	for (i = 0; i < t->dev->nqueues; i++) {
		struct virtq *q = &t->queues[i];

		/* virtq_init (in activate) checks size and ring addresses */
		q->size = (uint16_t)(st->q[i].size > VIRTQ_MAX_SIZE ? 0 : st->q[i].size);
		q->ready = st->q[i].ready == 1;
		q->desc_gpa = st->q[i].desc;
		q->avail_gpa = st->q[i].avail;
		q->used_gpa = st->q[i].used;
	}
	if ((t->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
		activate(t);
		for (i = 0; t->active && i < t->dev->nqueues; i++) {
			struct virtq *q = &t->queues[i];

			/* the positions are 16-bit ring indices (2.7.6, 2.7.8) */
			q->last_avail = (uint16_t)st->q[i].last_avail;
			q->used_idx = (uint16_t)st->q[i].used_idx;
			q->signalled_used = (uint16_t)st->q[i].signalled_used;
			q->signalled_used_valid = st->q[i].signalled_used_valid != 0;
		}
	}
	pthread_mutex_unlock(&t->lock);
}
