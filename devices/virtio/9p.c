/* SPDX-License-Identifier: MIT */
/*
 * virtio-9p over the devices/fs 9P2000.L server (see 9p.h).
 *
 * Threads and locks. The event-loop thread pops requests (queue_notify,
 * under the transport lock dev.lock), reads each one's header, and queues
 * it for a pool of worker threads. A worker copies the whole message out
 * of the chain's readable buffers into its own buffer, once (the guest may
 * change them afterwards: the server parses only the copy), runs
 * p9_server_handle(), which may block on the host file system as long as
 * it likes, writes the reply into the chain's writable buffers, puts the
 * request on the done list and signals done_fd. The event loop
 * (p9_done_ready, under dev.lock again) returns the chain to the used ring
 * and raises the interrupt. So only the event-loop thread touches the
 * rings; workers touch only the buffers of the chains they were given
 * (gm_slice'd by virtq_pop: guest RAM never moves while the VM exists), and
 * several requests are outstanding at once. Each worker's two buffers are
 * allocated once (P9_MAX_MSIZE each), not per request.
 * Lock order: dev.lock, then work_lock or done_lock (both leaves; a worker
 * takes only those two, never dev.lock).
 *
 * Tflush(oldtag): 9P says Rflush must not come before the old request's
 * reply. If oldtag is still in flight, the flush waits on it and is
 * answered right after it; otherwise at once.
 *
 * Reset: each activation is a generation, as in blk.c. A request from an
 * older one still runs to its end in a worker (its host side effects
 * happen, and its reply lands in its buffers, as a real device's DMA
 * would), but its chain is never returned to the (reset) queue.
 */
#include "devices/virtio/9p.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "devices/fs/p9_proto.h"
#include "base/err.h"
#include "base/eventfd.h"
#include "base/iov.h"
#include "base/thread_hook.h"
#include "base/log.h"

#define P9_QUEUE_SIZE	      128 /* Linux's trans_virtio uses VIRTQUEUE_NUM = 128 */
#define VIRTIO_9P_F_MOUNT_TAG 0
#define P9_MAX_WORKERS	      16

struct p9_req {
	struct p9_req *next;	      /* work queue or done list */
	struct p9_req *inflight_next; /* d->inflight, under dev.lock */
	struct p9_req *flush;	      /* a Tflush waiting for this one */
	uint64_t gen;
	uint16_t head, tag;
	uint8_t hdr[P9_HDR_SIZE + 2]; /* header (+ Tflush's oldtag), read by the loop */
	size_t out_len, in_len;	      /* the chain's two parts, in bytes */
	size_t used;		      /* reply bytes the worker wrote into the chain */
	bool replied;		      /* the server produced a reply */
	unsigned int nout, nin;
	struct iovec iov[]; /* nout readable, then nin writable buffers */
};

struct p9_worker {
	struct virtio_9p *d;
	pthread_t thread;
	uint8_t *msg, *resp; /* P9_MAX_MSIZE each */
};

struct virtio_9p {
	struct virtio_dev dev; /* first: virtio_dev -> virtio_9p */
	struct p9_server *server;
	struct event_loop *el;
	char *name;
	uint8_t *cfg; /* le16 tag_len, tag[tag_len] */
	size_t cfg_len;

	/* Under dev.lock. */
	struct virtio_ctx *ctx;
	uint64_t gen;
	bool failed;
	struct p9_req *inflight;
	struct virtq_elem elem;
	struct ratelimit rl;

	/* The worker pool. */
	pthread_mutex_t work_lock;
	pthread_cond_t work_cond;
	struct p9_req *work_head, **work_tail;
	bool stop;
	struct p9_worker workers[P9_MAX_WORKERS];
	unsigned int nworkers;

	pthread_mutex_t done_lock;
	struct p9_req *done_list;
	struct el_source done_src; /* done_fd: an eventfd */
};

static struct virtio_9p *to_9p(struct virtio_dev *dev)
{
	return (struct virtio_9p *)dev;
}

static void req_free(struct p9_req *r)
{
	free(r);
}

/* Copy the message out, answer it, write the reply into the chain. */
static void worker_serve(struct p9_worker *w, struct p9_req *r)
{
	size_t cap = r->in_len < P9_MAX_MSIZE ? r->in_len : P9_MAX_MSIZE;
	size_t len = iov_to_buf(r->iov, r->nout, 0, w->msg, r->out_len);
	size_t rlen = p9_server_handle(w->d->server, w->msg, len, w->resp, cap);

	r->replied = rlen > 0;
	r->used = iov_from_buf(r->iov + r->nout, r->nin, 0, w->resp, rlen);
}

static void *p9_worker(void *opaque)
{
	struct p9_worker *w = opaque;
	struct virtio_9p *d = w->d;

	thread_hook_run(THREAD_KIND_FS_IO); /* vmm's sandbox, if any */
	for (;;) {
		struct p9_req *r;

		pthread_mutex_lock(&d->work_lock);
		while (!d->work_head && !d->stop)
			pthread_cond_wait(&d->work_cond, &d->work_lock);
		if (d->stop) {
			pthread_mutex_unlock(&d->work_lock);
			return NULL;
		}
		r = d->work_head;
		d->work_head = r->next;
		if (!d->work_head)
			d->work_tail = &d->work_head;
		pthread_mutex_unlock(&d->work_lock);

		worker_serve(w, r);

		pthread_mutex_lock(&d->done_lock);
		r->next = d->done_list;
		d->done_list = r;
		pthread_mutex_unlock(&d->done_lock);
		(void)eventfd_signal(d->done_src.fd);
	}
}

static void inflight_remove(struct virtio_9p *d, struct p9_req *r)
{
	struct p9_req **pp;

	for (pp = &d->inflight; *pp; pp = &(*pp)->inflight_next)
		if (*pp == r) {
			*pp = r->inflight_next;
			return;
		}
}

static bool req_current(const struct virtio_9p *d, const struct p9_req *r)
{
	return r->gen == d->gen && d->ctx && !d->failed;
}

static void p9_fail(struct virtio_9p *d, const char *why)
{
	log_warn_ratelimited(&d->rl, "%s: %s; device needs reset", d->dev.name, why);
	d->failed = true;
	d->gen++;
	d->ctx->fail(d->ctx);
}

/* Return the chain to the used ring with `used` reply bytes in it. */
static void req_push(struct virtio_9p *d, struct p9_req *r, size_t used)
{
	if (virtq_push(&d->ctx->queues[0], r->head, (uint32_t)used) < 0)
		p9_fail(d, "cannot return a request to the used ring");
}

/* Write a reply made on the loop thread (Rflush, Rlerror) and push. */
static void req_reply(struct virtio_9p *d, struct p9_req *r, const uint8_t *resp, size_t len)
{
	req_push(d, r, resp ? iov_from_buf(r->iov + r->nout, r->nin, 0, resp, len) : 0);
}

/* Answer a Tflush (Rflush: just the header). */
static void flush_complete(struct virtio_9p *d, struct p9_req *f)
{
	uint8_t buf[P9_HDR_SIZE];
	struct p9w w;
	size_t len;

	p9w_init(&w, buf, sizeof(buf));
	p9w_begin(&w, P9_TFLUSH + 1, f->tag);
	len = p9w_finish(&w);
	if (req_current(d, f))
		req_reply(d, f, buf, len);
	req_free(f);
}

static void p9_signal(struct virtio_9p *d)
{
	if (d->ctx && !d->failed)
		d->ctx->signal_used(d->ctx, &d->ctx->queues[0]);
}

/* Workers finished requests (event-loop thread). */
static void p9_done_ready(struct el_source *src, uint32_t events)
{
	struct virtio_9p *d = src->opaque;
	struct p9_req *list, *r;

	(void)eventfd_drain(src->fd);
	if (d->dev.lock)
		pthread_mutex_lock(d->dev.lock);
	pthread_mutex_lock(&d->done_lock);
	list = d->done_list;
	d->done_list = NULL;
	pthread_mutex_unlock(&d->done_lock);
	while ((r = list)) {
		list = r->next;
		inflight_remove(d, r);
		if (req_current(d, r)) {
			if (!r->replied)
				p9_server_count_malformed(d->server);
			req_push(d, r, r->used);
		}
		if (r->flush)
			flush_complete(d, r->flush);
		req_free(r);
	}
	p9_signal(d);
	if (d->dev.lock)
		pthread_mutex_unlock(d->dev.lock);
}

/* A Tflush: wait for oldtag if it is in flight (answered right after it,
 * in p9_done_ready), else answer now. */
static void start_flush(struct virtio_9p *d, struct p9_req *f)
{
	struct p9r rd;
	struct p9_req *o;
	uint16_t oldtag;

	p9r_init(&rd, f->hdr + P9_HDR_SIZE,
		 f->out_len < sizeof(f->hdr) ? f->out_len - P9_HDR_SIZE : 2);
	oldtag = p9r_u16(&rd);
	if (!rd.bad)
		for (o = d->inflight; o; o = o->inflight_next)
			if (o->tag == oldtag && !o->flush && o->gen == d->gen) {
				o->flush = f;
				return;
			}
	if (rd.bad)
		p9_server_count_malformed(d->server);
	flush_complete(d, f);
}

/* One popped chain: read its header and hand it to the workers. */
static void p9_start(struct virtio_9p *d, const struct virtq_elem *e)
{
	uint32_t max = p9_server_msize(d->server);
	uint8_t err[16], type = 0;
	struct p9_req *r;
	uint16_t tag = P9_NOTAG;
	size_t len;

	r = calloc(1, sizeof(*r) + (e->nout + e->nin) * sizeof(struct iovec));
	if (!r) {
		p9_fail(d, "out of memory");
		return;
	}
	r->head = e->head;
	r->gen = d->gen;
	r->nout = e->nout;
	r->nin = e->nin;
	memcpy(r->iov, e->iov, (e->nout + e->nin) * sizeof(struct iovec));
	r->out_len = e->out_len;
	r->in_len = e->in_len;
	len = virtq_elem_read(e, 0, r->hdr, sizeof(r->hdr));
	/* p9_parse_header reads only the 7 header bytes; it checks their
	 * size field against the whole message's length. */
	if (len < P9_HDR_SIZE || e->out_len > max || e->out_len > P9_MAX_MSIZE ||
	    e->in_len < P9_HDR_SIZE + 4 || p9_parse_header(r->hdr, e->out_len, &type, &tag)) {
		/* Not a message we can hand to the server: Rlerror(EPROTO) if the
		 * guest left room for one, and counted. */
		if (len >= P9_HDR_SIZE)
			tag = (uint16_t)(r->hdr[5] | r->hdr[6] << 8);
		p9_server_count_malformed(d->server);
		len = p9_encode_lerror(err, sizeof(err), tag, e->out_len > max ? EMSGSIZE : EPROTO);
		req_reply(d, r, e->in_len >= len ? err : NULL, len);
		req_free(r);
		return;
	}
	r->tag = tag;
	if (type == P9_TFLUSH) {
		start_flush(d, r);
		return;
	}
	r->inflight_next = d->inflight;
	d->inflight = r;
	pthread_mutex_lock(&d->work_lock);
	*d->work_tail = r;
	d->work_tail = &r->next;
	pthread_cond_signal(&d->work_cond);
	pthread_mutex_unlock(&d->work_lock);
}

static void p9_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct virtio_9p *d = to_9p(dev);
	struct virtq *q;
	int ret;

	if (!d->ctx || d->failed || qidx != 0)
		return;
	q = &d->ctx->queues[0];
	for (;;) {
		virtq_set_notify(q, false);
		while (!d->failed && (ret = virtq_pop(q, &d->elem)) > 0)
			p9_start(d, &d->elem);
		if (!d->failed && ret < 0)
			p9_fail(d, "malformed descriptor chain");
		if (d->failed)
			return;
		virtq_set_notify(q, true);
		if (!virtq_has_avail(q))
			break;
	}
	p9_signal(d);
}

static uint64_t p9_features(struct virtio_dev *dev)
{
	return VIRTIO_BIT(VIRTIO_9P_F_MOUNT_TAG) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
	       VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
}

static void p9_config_read(struct virtio_dev *dev, uint32_t off, void *data, uint32_t len)
{
	memcpy(data, to_9p(dev)->cfg + off, len);
}

static void p9_config_write(struct virtio_dev *dev, uint32_t off, const void *data, uint32_t len)
{
	/* The tag is read-only. */
}

static int p9_activate(struct virtio_dev *dev, struct virtio_ctx *ctx)
{
	struct virtio_9p *d = to_9p(dev);

	if (ctx->nqueues < 1)
		return -EINVAL;
	d->ctx = ctx;
	d->gen++;
	d->failed = false;
	return 0;
}

static void p9_reset(struct virtio_dev *dev)
{
	struct virtio_9p *d = to_9p(dev);

	/* Requests in the workers finish and are dropped (generation); a
	 * waiting flush goes with its request. */
	d->ctx = NULL;
	d->gen++;
	d->failed = false;
}

static const struct virtio_dev_ops p9_ops = {
	.features = p9_features,
	.config_read = p9_config_read,
	.config_write = p9_config_write,
	.activate = p9_activate,
	.queue_notify = p9_queue_notify,
	.reset = p9_reset,
};

static void stop_workers(struct virtio_9p *d)
{
	unsigned int i;

	pthread_mutex_lock(&d->work_lock);
	d->stop = true;
	pthread_cond_broadcast(&d->work_cond);
	pthread_mutex_unlock(&d->work_lock);
	for (i = 0; i < d->nworkers; i++) {
		pthread_join(d->workers[i].thread, NULL);
		free(d->workers[i].msg);
		free(d->workers[i].resp);
	}
	d->nworkers = 0;
}

int virtio_9p_create(const struct virtio_9p_params *p, struct virtio_9p **out, char *err,
		     size_t errlen)
{
	size_t tag_len = p->tag ? strlen(p->tag) : 0;
	unsigned int n = p->nworkers ? p->nworkers : VIRTIO_9P_WORKERS;
	struct virtio_9p *d;
	int ret;

	if (!p->server || !p->el)
		return -EINVAL;
	if (!tag_len || tag_len > VIRTIO_9P_MAX_TAG)
		return err_set(err, errlen, -EINVAL, "mount tag must be 1 to %d bytes",
			       VIRTIO_9P_MAX_TAG);
	if (n > P9_MAX_WORKERS)
		n = P9_MAX_WORKERS;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->server = p->server;
	d->el = p->el;
	d->name = strdup(p->name ? p->name : "virtio-9p");
	d->cfg_len = 2 + tag_len;
	d->cfg = malloc(d->cfg_len);
	d->done_src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!d->name || !d->cfg || d->done_src.fd < 0) {
		ret = d->done_src.fd < 0 ? -errno : -ENOMEM;
		goto err_free;
	}
	/* struct virtio_9p_config: le16 tag_len, then the tag (no NUL). */
	d->cfg[0] = (uint8_t)tag_len;
	d->cfg[1] = (uint8_t)(tag_len >> 8);
	memcpy(d->cfg + 2, p->tag, tag_len);

	d->dev.ops = &p9_ops;
	d->dev.device_id = VIRTIO_ID_9P;
	d->dev.nqueues = 1;
	d->dev.queue_max_size = P9_QUEUE_SIZE;
	d->dev.config_size = (uint32_t)d->cfg_len;
	d->dev.name = d->name;

	pthread_mutex_init(&d->work_lock, NULL);
	pthread_cond_init(&d->work_cond, NULL);
	pthread_mutex_init(&d->done_lock, NULL);
	d->work_tail = &d->work_head;
	for (d->nworkers = 0; d->nworkers < n; d->nworkers++) {
		struct p9_worker *w = &d->workers[d->nworkers];

		w->d = d;
		w->msg = malloc(P9_MAX_MSIZE);
		w->resp = malloc(P9_MAX_MSIZE);
		ret = !w->msg || !w->resp ? -ENOMEM
					  : -pthread_create(&w->thread, NULL, p9_worker, w);
		if (ret) {
			free(w->msg);
			free(w->resp);
			err_set(err, errlen, ret, "cannot start a 9p worker thread: %s",
				strerror(-ret));
			goto err_stop;
		}
	}
	d->done_src.handler = p9_done_ready;
	d->done_src.opaque = d;
	ret = el_add(d->el, &d->done_src, EPOLLIN);
	if (ret < 0) {
		err_set(err, errlen, ret, "cannot watch the 9p completion fd: %s", strerror(-ret));
		goto err_stop;
	}
	*out = d;
	return 0;

err_stop:
	stop_workers(d);
	pthread_mutex_destroy(&d->done_lock);
	pthread_cond_destroy(&d->work_cond);
	pthread_mutex_destroy(&d->work_lock);
err_free:
	if (d->done_src.fd >= 0)
		close(d->done_src.fd);
	free(d->cfg);
	free(d->name);
	free(d);
	return ret;
}

struct virtio_dev *virtio_9p_dev(struct virtio_9p *d)
{
	return &d->dev;
}

static void free_list(struct p9_req *r, bool via_next)
{
	while (r) {
		struct p9_req *next = via_next ? r->next : r->inflight_next;

		if (r->flush)
			req_free(r->flush);
		req_free(r);
		r = next;
	}
}

void virtio_9p_destroy(struct virtio_9p *d)
{
	if (!d)
		return;
	stop_workers(d);
	el_remove(d->el, &d->done_src);
	/* With the workers joined, every request not yet completed is on
	 * the in-flight list (queued, or on the done list: a worker always
	 * puts what it took there), so it frees them all. */
	free_list(d->inflight, false);
	pthread_mutex_destroy(&d->done_lock);
	pthread_cond_destroy(&d->work_cond);
	pthread_mutex_destroy(&d->work_lock);
	close(d->done_src.fd);
	free(d->cfg);
	free(d->name);
	free(d);
}
