/* SPDX-License-Identifier: MIT */
#include "base/event_loop.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/eventfd.h"

int el_init(struct event_loop *el)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	memset(el, 0, sizeof(*el));
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (el->epfd < 0)
		return -errno;
	el->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (el->stop_fd < 0 || epoll_ctl(el->epfd, EPOLL_CTL_ADD, el->stop_fd, &ev) < 0) {
		int ret = -errno;

		if (el->stop_fd >= 0)
			close(el->stop_fd);
		close(el->epfd);
		return ret;
	}
	return 0;
}

void el_destroy(struct event_loop *el)
{
	if (el->epfd > 0)
		close(el->epfd);
	if (el->stop_fd > 0)
		close(el->stop_fd);
	el->epfd = el->stop_fd = -1;
}

static int el_ctl(struct event_loop *el, int op, struct el_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	if (epoll_ctl(el->epfd, op, src->fd, &ev) < 0)
		return -errno;
	return 0;
}

int el_add(struct event_loop *el, struct el_source *src, uint32_t events)
{
	return el_ctl(el, EPOLL_CTL_ADD, src, events);
}

int el_modify(struct event_loop *el, struct el_source *src, uint32_t events)
{
	return el_ctl(el, EPOLL_CTL_MOD, src, events);
}

int el_remove(struct event_loop *el, struct el_source *src)
{
	return el_ctl(el, EPOLL_CTL_DEL, src, 0);
}

int el_watch(struct event_loop *el, struct el_source *src, uint32_t *watched, uint32_t want)
{
	int ret;

	if (want == *watched)
		return 0;
	if (!want)
		ret = el_remove(el, src);
	else if (!*watched)
		ret = el_add(el, src, want);
	else
		ret = el_modify(el, src, want);
	if (ret < 0)
		return ret;
	*watched = want;
	return 0;
}

int el_run(struct event_loop *el)
{
	struct epoll_event evs[32];

	el->running = true;
	for (;;) {
		int n = epoll_wait(el->epfd, evs, 32, -1);
		int i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			el->running = false;
			return -errno;
		}
		for (i = 0; i < n; i++) {
			struct el_source *src = evs[i].data.ptr;

			if (!src) { /* the stop eventfd */
				/* -EAGAIN: another reader drained it; still stop */
				eventfd_drain(el->stop_fd);
				el->running = false;
				return 0;
			}
			src->handler(src, evs[i].events);
		}
	}
}

void el_stop(struct event_loop *el)
{
	/* Async-signal-safe: a signal handler may stop the loop. */
	eventfd_signal(el->stop_fd);
}
