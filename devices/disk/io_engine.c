/* SPDX-License-Identifier: MIT */
/*
 * The I/O engine: Linux AIO (libaio) for reads and writes, a small thread
 * pool for what Linux AIO cannot do asynchronously, and a sync fallback.
 *
 * Completion paths, all ending in ioe_process() on the caller's thread:
 *   - libaio: every iocb carries IOCB_FLAG_RESFD (io_set_eventfd), so the
 *     kernel bumps e->efd when it completes; ioe_process() reaps them with
 *     io_getevents() and a zero timeout.
 *   - pool and sync: the finished request goes on e->done_head (under
 *     e->lock) and the worker (or ioe_submit, for sync) writes e->efd.
 *   - AUTO's inline page-cache requests (io_engine.h): done inside
 *     ioe_submit(), then queued on e->done like a pool completion.
 * So one eventfd covers everything, and a callback never runs inside
 * ioe_submit() (the disk.h contract: virtio-blk may hold queue state across
 * a submit that a callback would modify).
 *
 * Why a pool at all with libaio: io_submit() of IOCB_CMD_FDSYNC fails with
 * EINVAL on ext4/xfs/btrfs, and there is no AIO fallocate. fdatasync() and
 * fallocate() are slow, blocking calls that must not stall the event loop.
 *
 * Lock order: e->lock is a leaf; callbacks never run with it held.
 */
#include <errno.h>
#include <libaio.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <linux/falloc.h>

#include "devices/disk/io_engine.h"
#include "base/eventfd.h"
#include "base/iov.h"
#include "base/thread_hook.h"

#define IOE_POOL_THREADS_AIO	 2 /* fdatasync/fallocate/short-transfer tails */
#define IOE_POOL_THREADS_THREADS 4 /* the whole I/O load (2-core hosts: enough) */
/* AUTO: page-cache reads up to this size are always tried inline; larger
 * ones go to the pool when others are in flight (io_engine.h). */
#define IOE_INLINE_MAX		 (64 * 1024)
#define IOE_REAP_BATCH		 64
#define IOE_ZERO_CHUNK		 (64 * 1024)

_Static_assert(sizeof(struct iocb) <= sizeof(((struct ioe_req *)0)->priv_iocb),
	       "struct iocb does not fit in ioe_req.priv_iocb");

/* The zero-filled source for writing zeros (ZERO_RANGE fallback). Aligned
 * so it is usable on an O_DIRECT fd. Read-only: no mutable file-scope state. */
static const unsigned char ioe_zeros[IOE_ZERO_CHUNK] __attribute__((aligned(4096)));

struct ioe_fifo {
	struct ioe_req *head, *tail;
};

struct io_engine {
	enum disk_engine_kind kind;
	bool hybrid; /* AUTO: page-cache requests inline / pool */
	unsigned int depth;
	int efd;	       /* completion eventfd (EFD_NONBLOCK) */
	unsigned int inflight; /* accepted by submit, callback not yet run */

	/* libaio: owned by the caller's thread only. */
	io_context_t ctx;
	unsigned int aio_busy;	  /* iocbs in the kernel */
	struct ioe_fifo aio_wait; /* beyond `depth`: waiting for a slot */

	/* Pool. `lock` protects work, done and stop. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ioe_fifo work;
	struct ioe_fifo done;
	bool sig_pending; /* efd written since ioe_process last read it */
	bool stop;
	unsigned int nthreads;
	pthread_t threads[IOE_POOL_THREADS_THREADS];
};

static void fifo_push(struct ioe_fifo *f, struct ioe_req *r)
{
	r->priv_next = NULL;
	if (f->tail)
		f->tail->priv_next = r;
	else
		f->head = r;
	f->tail = r;
}

static struct ioe_req *fifo_pop(struct ioe_fifo *f)
{
	struct ioe_req *r = f->head;

	if (r) {
		f->head = r->priv_next;
		if (!f->head)
			f->tail = NULL;
		r->priv_next = NULL;
	}
	return r;
}

static const struct iovec *req_iov(const struct ioe_req *r, int *cnt)
{
	if (r->priv_bounce) {
		*cnt = 1;
		return &r->priv_biov;
	}
	*cnt = r->iovcnt;
	return r->iov;
}

/* Is the file at least `pos` bytes long? (O_DIRECT reads starting at an
 * unaligned end of file fail with EINVAL rather than returning 0.) */
static bool at_eof(int fd, uint64_t pos)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pos >= (uint64_t)st.st_size;
}

/* Blocking read/write of what is left of r, from priv_done on. */
static int exec_rw(struct ioe_req *r)
{
	struct iovec tail[IOE_MAX_IOV];
	const struct iovec *iov;
	int cnt;

	iov = req_iov(r, &cnt);
	while (r->priv_done < r->priv_total) {
		uint64_t pos = r->off + r->priv_done;
		int n = (int)iov_window(iov, (unsigned int)cnt, r->priv_done, SIZE_MAX, tail);
		ssize_t got;

		if (r->op == IOE_READ)
			got = preadv(r->fd, tail, n, (off_t)pos);
		else
			got = pwritev(r->fd, tail, n, (off_t)pos);
		if (got < 0 && errno == EINTR)
			continue;
		if (r->op == IOE_READ && (got == 0 || (got < 0 && errno == EINVAL && r->priv_done &&
						       at_eof(r->fd, pos)))) {
			/* End of file: the rest reads as zeros (io_engine.h). */
			iov_zero(iov, (unsigned int)cnt, r->priv_done, SIZE_MAX);
			r->priv_done = r->priv_total;
			break;
		}
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO; /* a write that makes no progress */
		r->priv_done += (uint64_t)got;
	}
	return 0;
}

static int write_zeros(struct ioe_req *r)
{
	uint64_t done = 0;

	while (done < r->len) {
		uint64_t n = r->len - done;
		ssize_t got;

		if (n > IOE_ZERO_CHUNK)
			n = IOE_ZERO_CHUNK;
		got = pwrite(r->fd, ioe_zeros, n, (off_t)(r->off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO;
		done += (uint64_t)got;
	}
	return 0;
}

/* Perform r synchronously; returns its result. */
static int exec_req(struct ioe_req *r)
{
	switch (r->op) {
	case IOE_READ:
	case IOE_WRITE:
		return exec_rw(r);
	case IOE_FDATASYNC:
		return fdatasync(r->fd) < 0 ? -errno : 0;
	case IOE_PUNCH_HOLE:
		if (r->len == 0)
			return 0;
		if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r->off,
			      (off_t)r->len) < 0)
			return -errno;
		return 0;
	case IOE_ZERO_RANGE:
		if (r->len == 0)
			return 0;
		if (fallocate(r->fd, FALLOC_FL_ZERO_RANGE, (off_t)r->off, (off_t)r->len) == 0)
			return 0;
		/* tmpfs, NFS, older file systems: write the zeros ourselves. */
		if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)
			return write_zeros(r);
		return -errno;
	case IOE_NOP:
		return 0;
	}
	return -EINVAL;
}

/*
 * Put r on the done list; with e->lock held. Returns whether the eventfd
 * must be written: only the first completion after ioe_process() took the
 * list needs to (one write(2) per wakeup instead of one per request).
 */
static bool done_push_locked(struct io_engine *e, struct ioe_req *r)
{
	fifo_push(&e->done, r);
	if (e->sig_pending)
		return false;
	e->sig_pending = true;
	return true;
}

/* Queue a finished request for ioe_process() and wake the event loop. */
static void finish_async(struct io_engine *e, struct ioe_req *r, int res)
{
	bool sig;

	r->priv_res = res;
	pthread_mutex_lock(&e->lock);
	sig = done_push_locked(e, r);
	pthread_mutex_unlock(&e->lock);
	if (sig)
		eventfd_signal(e->efd);
}

static void *pool_main(void *arg)
{
	struct io_engine *e = arg;

	thread_hook_run(THREAD_KIND_DISK_IO); /* vmm's sandbox, if any */
	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct ioe_req *r;
		int res;

		while (!e->stop && !e->work.head)
			pthread_cond_wait(&e->cond, &e->lock);
		if (e->stop && !e->work.head)
			break;
		r = fifo_pop(&e->work);
		pthread_mutex_unlock(&e->lock);
		res = exec_req(r);
		pthread_mutex_lock(&e->lock);
		r->priv_res = res;
		if (done_push_locked(e, r))
			eventfd_signal(e->efd);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static void pool_queue(struct io_engine *e, struct ioe_req *r)
{
	pthread_mutex_lock(&e->lock);
	fifo_push(&e->work, r);
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void aio_prep(struct io_engine *e, struct ioe_req *r)
{
	struct iocb *cb = (struct iocb *)r->priv_iocb;
	const struct iovec *iov;
	int cnt;

	iov = req_iov(r, &cnt);
	if (r->op == IOE_READ)
		io_prep_preadv(cb, r->fd, iov, cnt, (long long)r->off);
	else
		io_prep_pwritev(cb, r->fd, iov, cnt, (long long)r->off);
	io_set_eventfd(cb, e->efd);
	cb->data = r;
}

/*
 * Hand as many waiting requests to the kernel as there are free slots.
 * io_submit() stops at the first iocb it cannot take: on EAGAIN the rest
 * keep waiting; any other error belongs to that first iocb alone.
 */
static void aio_kick(struct io_engine *e)
{
	struct iocb *cbs[IOE_REAP_BATCH];

	while (e->aio_wait.head && e->aio_busy < e->depth) {
		struct ioe_req *r = e->aio_wait.head;
		unsigned int room = e->depth - e->aio_busy;
		int n = 0, got;

		for (; r && (unsigned int)n < room && n < IOE_REAP_BATCH; r = r->priv_next)
			cbs[n++] = (struct iocb *)r->priv_iocb;
		got = io_submit(e->ctx, n, cbs);
		if ((got == -EAGAIN || got == 0) && e->aio_busy)
			return; /* retried on the next completion */
		if (got == -EAGAIN || got == 0) {
			/* Nothing of ours in the kernel to wait for: the
			 * system is out of AIO resources; use the pool. */
			pool_queue(e, fifo_pop(&e->aio_wait));
			continue;
		}
		if (got < 0) {
			r = fifo_pop(&e->aio_wait);
			finish_async(e, r, got);
			continue;
		}
		e->aio_busy += (unsigned int)got;
		for (int i = 0; i < got; i++)
			fifo_pop(&e->aio_wait);
	}
}

/* Requests the kernel finished go on `out` (the caller completes them). */
static int aio_reap(struct io_engine *e, struct ioe_fifo *out)
{
	struct io_event ev[IOE_REAP_BATCH];
	struct timespec zero = { 0, 0 };
	int n = 0, got;

	do {
		got = io_getevents(e->ctx, 0, IOE_REAP_BATCH, ev, &zero);
		if (got < 0) {
			if (got == -EINTR)
				continue;
			break;
		}
		e->aio_busy -= (unsigned int)got;
		for (int i = 0; i < got; i++) {
			struct ioe_req *r = ev[i].data;
			long res = (long)ev[i].res;
			uint64_t left = r->priv_total - r->priv_done;

			if (res >= 0 && (uint64_t)res < left) {
				/* Short transfer (end of file, mostly): the pool
				 * finishes the rest with blocking calls. */
				r->priv_done += (uint64_t)res;
				pool_queue(e, r);
				continue;
			}
			r->priv_res = res < 0 ? (int)res : 0;
			fifo_push(out, r);
			n++;
		}
	} while (got == IOE_REAP_BATCH);
	aio_kick(e);
	return n;
}

/* Check the iovecs and set up a bounce buffer if the alignment needs one. */
static int prep_rw(struct ioe_req *r)
{
	uint64_t total = 0;
	bool misaligned = false;

	if (r->iovcnt < 0 || r->iovcnt > IOE_MAX_IOV || (r->iovcnt && !r->iov))
		return -EINVAL;
	for (int i = 0; i < r->iovcnt; i++) {
		if (__builtin_add_overflow(total, r->iov[i].iov_len, &total))
			return -EINVAL;
		if (r->align > 1 &&
		    (((uintptr_t)r->iov[i].iov_base | r->iov[i].iov_len) % r->align))
			misaligned = true;
	}
	if (total > INT64_MAX || r->off > INT64_MAX - total)
		return -EINVAL;
	r->priv_total = total;
	if (r->align > 1 && (r->off % r->align || total % r->align))
		return -EINVAL;
	if (misaligned && total) {
		/* O_DIRECT wants aligned memory; Linux guests send 512-aligned
		 * buffers that a 4K-sector disk refuses, tools send anything. */
		if (posix_memalign(&r->priv_bounce, r->align, total))
			return -ENOMEM;
		r->priv_biov.iov_base = r->priv_bounce;
		r->priv_biov.iov_len = total;
		if (r->op == IOE_WRITE)
			iov_to_buf(r->iov, (unsigned int)r->iovcnt, 0, r->priv_bounce, total);
	}
	return 0;
}

/*
 * AUTO, a READ/WRITE on a page-cache fd (io_engine.h has the why). e->inflight
 * already counts r.
 */
static void submit_cached(struct io_engine *e, struct ioe_req *r)
{
	const struct iovec *iov;
	ssize_t got;
	int cnt;

	if (r->op == IOE_WRITE) {
		/* Buffered writes to one file serialise on its inode lock
		 * (ext4, xfs), so the pool buys no parallelism, only a hand-off. */
		finish_async(e, r, exec_rw(r));
		return;
	}
	if (r->priv_total > IOE_INLINE_MAX && e->inflight > 1) {
		pool_queue(e, r); /* copies on several cores */
		return;
	}
	/* Only what is in the page cache; never waits for the disk. */
	iov = req_iov(r, &cnt);
	do {
		got = preadv2(r->fd, iov, cnt, (off_t)r->off, RWF_NOWAIT);
	} while (got < 0 && errno == EINTR);
	if (got >= 0 && (uint64_t)got == r->priv_total) {
		r->priv_done = r->priv_total;
		finish_async(e, r, 0);
		return;
	}
	/* A cache miss (EAGAIN), a partial hit, end of file, a file system
	 * without RWF_NOWAIT (EOPNOTSUPP), or an error: the pool does the rest
	 * with blocking calls (exec_rw: zeros past EOF, the real errno). */
	if (got > 0)
		r->priv_done = (uint64_t)got;
	pool_queue(e, r);
}

int ioe_submit(struct io_engine *e, struct ioe_req *r)
{
	int ret;

	r->priv_done = 0;
	r->priv_total = 0;
	r->priv_next = NULL;
	r->priv_bounce = NULL;
	r->priv_res = 0;
	switch (r->op) {
	case IOE_READ:
	case IOE_WRITE:
		ret = prep_rw(r);
		if (ret)
			return ret;
		break;
	case IOE_PUNCH_HOLE:
	case IOE_ZERO_RANGE:
		if (r->off > INT64_MAX || r->len > INT64_MAX - r->off)
			return -EINVAL;
		break;
	case IOE_FDATASYNC:
	case IOE_NOP:
		break;
	default:
		return -EINVAL;
	}
	e->inflight++;

	if (r->op == IOE_NOP || ((r->op == IOE_READ || r->op == IOE_WRITE) && !r->priv_total)) {
		finish_async(e, r, 0);
		return 0;
	}
	if (e->hybrid && r->cached && (r->op == IOE_READ || r->op == IOE_WRITE)) {
		submit_cached(e, r);
		return 0;
	}
	switch (e->kind) {
	case DISK_ENGINE_SYNC:
		finish_async(e, r, exec_req(r));
		break;
	case DISK_ENGINE_AIO:
		if (r->op == IOE_READ || r->op == IOE_WRITE) {
			aio_prep(e, r);
			fifo_push(&e->aio_wait, r);
			aio_kick(e);
			break;
		}
		/* fdatasync/fallocate go to the pool */
		__attribute__((fallthrough));
	default:
		pool_queue(e, r);
		break;
	}
	return 0;
}

static void complete(struct io_engine *e, struct ioe_req *r)
{
	int res = r->priv_res;

	if (r->priv_bounce) {
		if (r->op == IOE_READ && res == 0)
			iov_from_buf(r->iov, (unsigned int)r->iovcnt, 0, r->priv_bounce,
				     r->priv_total);
		free(r->priv_bounce);
		r->priv_bounce = NULL;
	}
	e->inflight--;
	r->done(r, res);
}

int ioe_process(struct io_engine *e)
{
	struct ioe_fifo list;
	int n = 0;

	/* Clear the eventfd first: a completion after this read signals it
	 * again, so nothing is missed (at worst one spurious wakeup). On
	 * -EAGAIN nothing was signalled: still look, it is cheap. */
	eventfd_drain(e->efd);
	pthread_mutex_lock(&e->lock);
	list = e->done;
	e->done.head = e->done.tail = NULL;
	/* After the read above: a completion from here on writes efd again. */
	e->sig_pending = false;
	pthread_mutex_unlock(&e->lock);
	if (e->kind == DISK_ENGINE_AIO) {
		struct ioe_fifo aio = { NULL, NULL };

		aio_reap(e, &aio);
		if (aio.head) {
			if (list.tail)
				list.tail->priv_next = aio.head;
			else
				list.head = aio.head;
			list.tail = aio.tail;
		}
	}

	/* Callbacks may submit more requests; those land on e->done for the
	 * next call, never on `list`. */
	for (struct ioe_req *r; (r = fifo_pop(&list)) != NULL; n++)
		complete(e, r);
	return n;
}

void ioe_drain(struct io_engine *e)
{
	while (e->inflight) {
		struct pollfd p = { .fd = e->efd, .events = POLLIN };

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break; /* cannot happen with one valid fd */
		ioe_process(e);
	}
}

int ioe_event_fd(const struct io_engine *e)
{
	return e->efd;
}

unsigned int ioe_inflight(const struct io_engine *e)
{
	return e->inflight;
}

enum disk_engine_kind ioe_kind(const struct io_engine *e)
{
	return e->kind;
}

static void pool_stop(struct io_engine *e)
{
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	for (unsigned int i = 0; i < e->nthreads; i++)
		pthread_join(e->threads[i], NULL);
	e->nthreads = 0;
}

int ioe_create(enum disk_engine_kind kind, unsigned int depth, struct io_engine **out)
{
	struct io_engine *e;
	unsigned int want;
	int ret;

	if (depth == 0)
		depth = 128;
	if (depth > 4096)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->depth = depth;
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->efd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = pthread_mutex_init(&e->lock, NULL);
	if (ret) {
		ret = -ret;
		goto err_efd;
	}
	ret = pthread_cond_init(&e->cond, NULL);
	if (ret) {
		ret = -ret;
		goto err_mutex;
	}

	if (kind == DISK_ENGINE_AIO || kind == DISK_ENGINE_AUTO) {
		/* io_setup fails with EAGAIN when fs.aio-max-nr is used up and
		 * ENOSYS in some sandboxes: AUTO then falls back to threads. */
		ret = io_setup((int)depth, &e->ctx);
		if (ret == 0) {
			e->hybrid = kind == DISK_ENGINE_AUTO;
			kind = DISK_ENGINE_AIO;
		} else if (kind == DISK_ENGINE_AIO)
			goto err_cond;
		else
			kind = DISK_ENGINE_THREADS;
	}
	e->kind = kind;

	want = e->hybrid		     ? IOE_POOL_THREADS_THREADS
	       : kind == DISK_ENGINE_AIO     ? IOE_POOL_THREADS_AIO
	       : kind == DISK_ENGINE_THREADS ? IOE_POOL_THREADS_THREADS
					     : 0;
	for (; e->nthreads < want; e->nthreads++) {
		ret = pthread_create(&e->threads[e->nthreads], NULL, pool_main, e);
		if (ret) {
			ret = -ret;
			goto err_pool;
		}
	}
	*out = e;
	return 0;

err_pool:
	pool_stop(e);
	if (kind == DISK_ENGINE_AIO)
		io_destroy(e->ctx);
err_cond:
	pthread_cond_destroy(&e->cond);
err_mutex:
	pthread_mutex_destroy(&e->lock);
err_efd:
	close(e->efd);
err_free:
	free(e);
	return ret;
}

void ioe_destroy(struct io_engine *e)
{
	if (!e)
		return;
	ioe_drain(e);
	pool_stop(e);
	if (e->kind == DISK_ENGINE_AIO)
		io_destroy(e->ctx);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	close(e->efd);
	free(e);
}
