/* SPDX-License-Identifier: MIT */
/* Compressing qcow2 clusters on worker threads (img_compress.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/eventfd.h"
#include "base/zero.h"
#include "devices/disk/qcow2.h"
#include "tools/img_compress.h"

struct img_compress_pool {
	pthread_mutex_t mu;
	pthread_cond_t wake;
	struct img_compress_job *todo, **todo_tail, *done;
	bool stop;
	int fd;
	unsigned int n;
	pthread_t th[IMG_COMPRESS_MAX_THREADS];
};

static void run_job(struct img_compress_job *j)
{
	uint64_t cs = qcow2_cluster_size(j->dst);
	size_t i, k;

	j->ret = cs ? 0 : -EINVAL;
	for (i = 0, k = 0; i < j->len && j->ret == 0; i += cs, k++) {
		size_t n = j->len - i < cs ? j->len - i : cs;

		if (buf_is_zero(j->in + i, n))
			j->clen[k] = IMG_COMPRESS_ZERO;
		else
			j->ret = qcow2_compress_cluster(j->dst, j->in + i, n, j->out + i,
							&j->clen[k]);
	}
}

static void *worker(void *arg)
{
	struct img_compress_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct img_compress_job *j;

		while (!p->todo && !p->stop)
			pthread_cond_wait(&p->wake, &p->mu);
		if (p->stop)
			break;
		j = p->todo;
		p->todo = j->next;
		if (!p->todo)
			p->todo_tail = &p->todo;
		pthread_mutex_unlock(&p->mu);
		run_job(j);
		pthread_mutex_lock(&p->mu);
		j->next = p->done;
		p->done = j;
		eventfd_signal(p->fd);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int img_compress_start(struct img_compress_pool **out)
{
	struct img_compress_pool *p = calloc(1, sizeof(*p));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int want;

	if (!p)
		return -ENOMEM;
	want = cpus < 1				 ? 1
	       : cpus > IMG_COMPRESS_MAX_THREADS ? IMG_COMPRESS_MAX_THREADS
						 : (unsigned int)cpus;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->todo_tail = &p->todo;
	p->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->fd < 0) {
		int e = -errno;

		free(p);
		return e;
	}
	for (; p->n < want; p->n++)
		if (pthread_create(&p->th[p->n], NULL, worker, p))
			break;
	if (p->n == 0) {
		close(p->fd);
		free(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
}

int img_compress_fd(const struct img_compress_pool *p)
{
	return p->fd;
}

void img_compress_submit(struct img_compress_pool *p, struct img_compress_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	*p->todo_tail = j;
	p->todo_tail = &j->next;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);
}

struct img_compress_job *img_compress_done(struct img_compress_pool *p)
{
	struct img_compress_job *j;

	eventfd_drain(p->fd);
	pthread_mutex_lock(&p->mu);
	j = p->done;
	if (j)
		p->done = j->next;
	pthread_mutex_unlock(&p->mu);
	return j;
}

void img_compress_stop(struct img_compress_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (unsigned int i = 0; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	close(p->fd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->wake);
	free(p);
}
