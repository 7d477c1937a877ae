/* SPDX-License-Identifier: MIT */
/*
 * The slirp backend's main loop (see slirp.c for the backend itself).
 *
 * How slirp meets the loop. libslirp wants a poll()-style main loop: before
 * sleeping, slirp_pollfds_fill() names the sockets it cares about and how
 * long it may sleep; after waking, slirp_pollfds_poll() reads the revents.
 * Our loop is epoll, so the sockets live in a private epoll set that is ONE
 * source of the main loop (it becomes readable when any of them is ready).
 * Three sources in all:
 *   poll_src   the private epoll fd: some slirp socket is ready;
 *   timer_src  one timerfd armed for the earliest slirp timer and for the
 *              timeout slirp_pollfds_fill reports (TCP fast/slow timers:
 *              2 ms .. 1 s; slirp always asks to be woken at least once a
 *              second);
 *   wake_src   an eventfd we write ourselves: "run slirp and report rx".
 * Every wake runs one service cycle: fire expired timers, fill a pollfd
 * array, poll(fds, n, 0) for the real revents (cheap, never sleeps), hand
 * them to slirp_pollfds_poll, fill again to learn which sockets slirp wants
 * now, bring the private epoll set in line with that (a small fd->events
 * table, so only changes cost a syscall), and re-arm the timerfd.
 *
 * Threads: everything here runs on the event-loop thread (net.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "devices/net/slirp_priv.h"
#include "base/clock.h"
#include "base/eventfd.h"
#include "base/log.h"

/* A timer callback that keeps re-arming in the past must not wedge us. */
#define TIMER_FIRE_MAX 64

/* libslirp counts time in signed ns and its timers in signed ms. */
static int64_t mono_ms(void)
{
	return (int64_t)(clock_monotonic_ns() / 1000000);
}

/* ---- waking ourselves ---- */

void netbe_slirp_kick(struct netbe_slirp *s)
{
	if (s->wake_pending || s->wake_src.fd < 0)
		return;
	if (eventfd_signal(s->wake_src.fd) == 0)
		s->wake_pending = true;
}

/* Whether slirp may read host sockets now. */
static bool slirp_reading(const struct netbe_slirp *s)
{
	return s->rx_enabled && !s->rx_full;
}

/* Put the private epoll source into the loop or take it out, to match
 * slirp_reading(). Out of the loop, ready sockets cannot make it spin. */
void netbe_slirp_update_reading(struct netbe_slirp *s)
{
	bool want = slirp_reading(s);
	int ret;

	if (want == s->poll_in_loop || s->poll_src.fd < 0)
		return;
	if (want) {
		ret = el_add(s->el, &s->poll_src, EPOLLIN);
		if (ret < 0) {
			/* Timers still wake us every second at most, so
			 * traffic slows down instead of stopping. */
			log_warn_ratelimited(&s->rl, "net user: cannot poll slirp sockets: %s",
					     strerror(-ret));
			return;
		}
	} else {
		el_remove(s->el, &s->poll_src);
	}
	s->poll_in_loop = want;
}

/* ---- timers ---- */

/* With SlirpConfig version 4 and timer_new_opaque, slirp never calls the
 * older timer_new; a fired timer goes back through slirp_handle_timer. */
static void *slirp_cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct netbe_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct slirp_timer){
		.next = s->timers, .expire_ms = -1, .id = id, .cb_opaque = cb_opaque
	};
	s->timers = t;
	return t;
}

static void slirp_cb_timer_free(void *timer, void *opaque)
{
	struct netbe_slirp *s = opaque;
	struct slirp_timer **pp;

	for (pp = &s->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

/* expire_time is in ms of clock_get_ns. The timerfd is re-armed at the end
 * of the service cycle, and every slirp call that can get here is inside
 * one or is send(), which kicks a cycle. */
static void slirp_cb_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
	(void)opaque;
	if (timer)
		((struct slirp_timer *)timer)->expire_ms = expire_time < 0 ? 0 : expire_time;
}

static void timers_run(struct netbe_slirp *s)
{
	unsigned int fired;

	for (fired = 0; fired < TIMER_FIRE_MAX; fired++) {
		int64_t now_ms = mono_ms();
		struct slirp_timer *t;

		for (t = s->timers; t; t = t->next)
			if (t->expire_ms >= 0 && t->expire_ms <= now_ms)
				break;
		if (!t)
			return;
		/* Disarm first: the callback may re-arm or free it. */
		t->expire_ms = -1;
		slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
	}
}

static void timerfd_rearm(struct netbe_slirp *s, uint32_t timeout_ms)
{
	int64_t deadline_ms = -1;
	struct itimerspec its = { 0 };
	struct slirp_timer *t;

	if (timeout_ms != UINT32_MAX)
		deadline_ms = mono_ms() + timeout_ms;
	for (t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 && (deadline_ms < 0 || t->expire_ms < deadline_ms))
			deadline_ms = t->expire_ms;
	if (deadline_ms >= 0) {
		/* An absolute time in the past fires at once; 0 would disarm. */
		its.it_value.tv_sec = deadline_ms / 1000;
		its.it_value.tv_nsec = (deadline_ms % 1000) * 1000000;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(s->timer_src.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn_ratelimited(&s->rl, "net user: timerfd_settime: %s", strerror(errno));
}

/* ---- sockets: pollfd array and the private epoll set ---- */

static int slirp_cb_add_poll(int fd, int events, void *opaque)
{
	struct netbe_slirp *s = opaque;
	short ev = 0;

	if (s->npfds == s->pfds_cap) {
		unsigned int cap = s->pfds_cap ? s->pfds_cap * 2 : 16;
		struct pollfd *p = realloc(s->pfds, cap * sizeof(*p));

		if (!p) {
			s->pfds_short = true;
			return -1;
		}
		s->pfds = p;
		s->pfds_cap = cap;
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	/* POLLERR/POLLHUP are always reported. */
	s->pfds[s->npfds] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)s->npfds++;
}

static int slirp_cb_get_revents(int idx, void *opaque)
{
	struct netbe_slirp *s = opaque;
	short rev;
	int ret = 0;

	if (idx < 0 || (unsigned int)idx >= s->npfds || s->mask_revents)
		return 0;
	rev = s->pfds[idx].revents;
	if (rev & POLLIN)
		ret |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		ret |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		ret |= SLIRP_POLL_PRI;
	if (rev & (POLLERR | POLLNVAL))
		ret |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		ret |= SLIRP_POLL_HUP;
	return ret;
}

static int fdtab_find(const struct netbe_slirp *s, int fd)
{
	unsigned int i;

	for (i = 0; i < s->nfds; i++)
		if (s->fds[i].fd == fd)
			return (int)i;
	return -1;
}

static void fdtab_drop(struct netbe_slirp *s, unsigned int i)
{
	/* The fd may be closed already (closing removes it from epoll). */
	epoll_ctl(s->poll_src.fd, EPOLL_CTL_DEL, s->fds[i].fd, NULL);
	s->fds[i] = s->fds[--s->nfds];
}

/* slirp calls this before it closes a socket. Dropping the fd here matters:
 * once closed, its number can come back as a new socket with the same
 * events, which the table would otherwise think is registered already. */
static void slirp_cb_unregister_poll_fd(int fd, void *opaque)
{
	struct netbe_slirp *s = opaque;
	int i = fdtab_find(s, fd);

	if (i >= 0)
		fdtab_drop(s, (unsigned int)i);
}

static void slirp_cb_register_poll_fd(int fd, void *opaque)
{
	/* The sync after each cycle adds it once slirp polls it. */
	(void)fd;
	(void)opaque;
}

/* The private epoll set takes pollfd event bits as they are. */
_Static_assert(POLLIN == EPOLLIN && POLLOUT == EPOLLOUT && POLLPRI == EPOLLPRI,
	       "poll and epoll bits differ");

__attribute__((warn_unused_result)) static int epoll_set(struct netbe_slirp *s, int fd,
							 uint32_t events, bool known)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int op = known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (epoll_ctl(s->poll_src.fd, op, fd, &ev) == 0)
		return 0;
	/* The table and the kernel disagree (an fd closed and reused
	 * without unregister_poll_fd): take the kernel's word. */
	if (errno == ENOENT || errno == EEXIST) {
		op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		if (epoll_ctl(s->poll_src.fd, op, fd, &ev) == 0)
			return 0;
	}
	return -errno;
}

/* Make the private epoll set hold exactly the fds in s->pfds. */
static void slirp_sync_fds(struct netbe_slirp *s)
{
	unsigned int i;

	for (i = 0; i < s->nfds; i++)
		s->fds[i].seen = false;
	for (i = 0; i < s->npfds; i++) {
		int fd = s->pfds[i].fd;
		uint32_t events = (uint16_t)s->pfds[i].events;
		int j = fdtab_find(s, fd);
		int ret;

		if (j >= 0 && s->fds[j].events == events) {
			s->fds[j].seen = true;
			continue;
		}
		if (j < 0 && s->nfds == s->fds_cap) {
			unsigned int cap = s->fds_cap ? s->fds_cap * 2 : 16;
			struct slirp_fdent *p = realloc(s->fds, cap * sizeof(*p));

			if (!p) {
				s->pfds_short = true;
				continue;
			}
			s->fds = p;
			s->fds_cap = cap;
		}
		ret = epoll_set(s, fd, events, j >= 0);
		if (ret < 0) {
			log_warn_ratelimited(&s->rl, "net user: cannot poll fd %d: %s", fd,
					     strerror(-ret));
			continue;
		}
		if (j < 0)
			j = (int)s->nfds++;
		s->fds[j] = (struct slirp_fdent){ .fd = fd, .events = events, .seen = true };
	}
	/* With an incomplete list, keep what we have rather than drop live fds. */
	if (s->pfds_short)
		return;
	for (i = 0; i < s->nfds;) {
		if (!s->fds[i].seen)
			fdtab_drop(s, i);
		else
			i++;
	}
}

/* ---- the service cycle ---- */

static void slirp_fill(struct netbe_slirp *s, uint32_t *timeout)
{
	s->npfds = 0;
	s->pfds_short = false;
	*timeout = UINT32_MAX;
	slirp_pollfds_fill(s->slirp, timeout, slirp_cb_add_poll, s);
}

void netbe_slirp_service(struct netbe_slirp *s)
{
	uint32_t timeout;
	int select_error = 0;

	s->in_service = true;
	timers_run(s);
	slirp_fill(s, &timeout);
	if (s->npfds && poll(s->pfds, s->npfds, 0) < 0)
		select_error = 1;
	/* Paused: slirp reads no socket, but its TCP timers and queued
	 * output still run. */
	s->mask_revents = !slirp_reading(s);
	slirp_pollfds_poll(s->slirp, select_error, slirp_cb_get_revents, s);
	s->mask_revents = false;
	/* Which sockets slirp wants now (it may have accepted or closed some),
	 * and how long it may sleep. */
	slirp_fill(s, &timeout);
	slirp_sync_fds(s);
	timerfd_rearm(s, timeout);
	s->in_service = false;
}

static void slirp_report_rx(struct netbe_slirp *s)
{
	if (s->rx_enabled && s->fifo_count && s->nb.notify)
		s->nb.notify(s->nb.notify_opaque, NETBE_EV_RX);
}

/* The three sources share it; the timerfd and the eventfd need draining. */
void netbe_slirp_handler(struct el_source *src, uint32_t events)
{
	struct netbe_slirp *s = src->opaque;

	(void)events;
	/* A timerfd reads as 8 bytes too. -EAGAIN: a timer re-arm raced the
	 * expiry; run anyway. */
	if (src != &s->poll_src)
		(void)eventfd_drain(src->fd);
	if (src == &s->wake_src)
		s->wake_pending = false;
	netbe_slirp_service(s);
	slirp_report_rx(s);
}

/* ---- the other slirp callbacks ---- */

static void slirp_cb_guest_error(const char *msg, void *opaque)
{
	struct netbe_slirp *s = opaque;

	log_warn_ratelimited(&s->rl, "net user: guest error: %s", msg);
}

static int64_t slirp_cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)clock_monotonic_ns();
}

/* A guestfwd socket can take data again: run a cycle. */
static void slirp_cb_notify(void *opaque)
{
	struct netbe_slirp *s = opaque;

	if (!s->in_service)
		netbe_slirp_kick(s);
}

const SlirpCb netbe_slirp_callbacks = {
	.send_packet = netbe_slirp_send_packet,
	.guest_error = slirp_cb_guest_error,
	.clock_get_ns = slirp_cb_clock_get_ns,
	.timer_free = slirp_cb_timer_free,
	.timer_mod = slirp_cb_timer_mod,
	.register_poll_fd = slirp_cb_register_poll_fd,
	.unregister_poll_fd = slirp_cb_unregister_poll_fd,
	.notify = slirp_cb_notify,
	.timer_new_opaque = slirp_cb_timer_new_opaque,
};
