/* SPDX-License-Identifier: MIT */
#include "tests/unit/net/loop_wait.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void loop_wait_notify(void *opaque, unsigned int events)
{
	struct loop_wait *w = opaque;

	w->events |= events;
	el_stop(&w->el);
}

static void loop_wait_timer(struct el_source *src, uint32_t events)
{
	struct loop_wait *w = src->opaque;
	uint64_t v;

	(void)events;
	if (read(src->fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: consumed already */
	}
	w->timed_out = true;
	el_stop(&w->el);
}

int loop_wait_init(struct loop_wait *w)
{
	int ret;

	*w = (struct loop_wait){ .timer = { .fd = -1 } };
	ret = el_init(&w->el);
	if (ret < 0) {
		w->el.epfd = w->el.stop_fd = -1; /* el_init closed them */
		return ret;
	}
	w->timer = (struct el_source){
		.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
		.handler = loop_wait_timer,
		.opaque = w,
	};
	if (w->timer.fd < 0)
		return -errno;
	return el_add(&w->el, &w->timer, EPOLLIN);
}

void loop_wait_destroy(struct loop_wait *w)
{
	if (w->timer.fd >= 0) {
		if (el_remove(&w->el, &w->timer) < 0) {
			/* init failed before the add */
		}
		close(w->timer.fd);
		w->timer.fd = -1;
	}
	el_destroy(&w->el);
}

void loop_wait_attach(struct loop_wait *w, struct netbe *nb)
{
	nb->notify = loop_wait_notify;
	nb->notify_opaque = w;
}

int loop_wait_run(struct loop_wait *w, int ms, unsigned int *events)
{
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
						.tv_nsec = (long)(ms % 1000) * 1000000 } };
	struct itimerspec off = { 0 };
	int ret;

	w->events = 0;
	w->timed_out = false;
	if (timerfd_settime(w->timer.fd, 0, &its, NULL) < 0)
		return -errno;
	ret = el_run(&w->el);
	if (timerfd_settime(w->timer.fd, 0, &off, NULL) < 0 && ret == 0)
		ret = -errno;
	*events = w->events;
	return ret;
}
