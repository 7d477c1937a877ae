/* SPDX-License-Identifier: MIT */
/*
 * The event loop: one thread waiting in epoll on every file descriptor the
 * VMM serves outside the vCPU threads (stdin, signalfd, timerfd, queue
 * ioeventfds, backend completion eventfds, tap and slirp sockets).
 *
 * A source is a caller-owned struct; its handler runs on the loop thread.
 */
#ifndef BASE_EVENT_LOOP_H
#define BASE_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct el_source {
	int fd;
	void (*handler)(struct el_source *src, uint32_t events);
	void *opaque;
};

struct event_loop {
	int epfd;
	int stop_fd; /* eventfd: written by el_stop() from any thread */
	bool running;
};

int el_init(struct event_loop *el) __attribute__((warn_unused_result));
void el_destroy(struct event_loop *el);

/* events: EPOLLIN / EPOLLOUT ... */
int el_add(struct event_loop *el, struct el_source *src, uint32_t events)
	__attribute__((warn_unused_result));
int el_modify(struct event_loop *el, struct el_source *src, uint32_t events)
	__attribute__((warn_unused_result));
int el_remove(struct event_loop *el, struct el_source *src);

/*
 * Watch src for `want` and nothing else, given `*watched`, what it is
 * watched for now (0: it is not in the loop). want == 0 takes it out of the
 * loop (a level-triggered fd that must not be read yet, e.g. a backend
 * while the guest has no receive buffers, would otherwise wake the loop
 * forever); a change of events modifies it; the same events cost no system
 * call. *watched is updated on success and left as it was on failure.
 */
int el_watch(struct event_loop *el, struct el_source *src, uint32_t *watched, uint32_t want)
	__attribute__((warn_unused_result));

/* Run handlers until el_stop(). Returns 0, or a negative errno if epoll
 * itself fails. */
int el_run(struct event_loop *el);

/* Ask el_run() to return; safe from any thread and from signal handlers. */
void el_stop(struct event_loop *el);

#endif /* BASE_EVENT_LOOP_H */
