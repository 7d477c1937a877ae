/* SPDX-License-Identifier: MIT */
/*
 * The user-mode NAT backend: libslirp (4.x, SlirpConfig version 4) driven
 * from vmm's event loop.
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
 * Why notify() never runs inside an op: slirp answers ARP, ICMP echo to the
 * gateway and DHCP synchronously inside slirp_input(), i.e. inside send(),
 * and its send_packet callback runs there. net.h forbids calling notify()
 * from an op (the device holds its lock), so send_packet only queues the
 * frame in a bounded FIFO and writes the wake eventfd; the wake handler
 * reports NETBE_EV_RX. send() also writes it, because slirp_input may have
 * opened sockets that must join the epoll set.
 *
 * Backpressure ("rx waits for guest buffers"). slirp itself never waits: it
 * hands frames to send_packet whenever it has them. So the backend stops
 * feeding slirp from the host instead: while rx is disabled, or while the
 * FIFO is above its high-water mark (3/4 of 512 frames or 4 MiB), the
 * private epoll source leaves the main loop and slirp_pollfds_poll sees no
 * revents for any socket (its timers still run). Host data then stays in
 * the kernel's socket buffers, so TCP peers see a full window instead of
 * losing data, and the loop does not spin on ready sockets nobody reads.
 * Reading resumes when rx is enabled and the FIFO has drained below a
 * quarter (hysteresis, so we do not flap per frame). What still arrives
 * while paused (TCP retransmits, timer-driven frames, replies to the
 * guest's own tx) is bounded by the FIFO caps; beyond them frames are
 * dropped and counted in rx_dropped, like a full NIC ring.
 *
 * Threads: everything here runs on the event-loop thread (net.h).
 */
#include "devices/net/slirp.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "base/log.h"

/* Bare Ethernet frames (no vnet header): a 64 KiB payload plus Ethernet
 * and VLAN headers. */
#define SLIRP_TX_MAX (65536 + 18)

/* The rx FIFO between slirp's send_packet and recv(). */
#define RX_FIFO_FRAMES 512u
#define RX_FIFO_BYTES  (4u << 20)
/* Stop reading host sockets at 3/4, resume below 1/4. */
#define RX_HIGH_FRAMES (RX_FIFO_FRAMES * 3 / 4)
#define RX_HIGH_BYTES  (RX_FIFO_BYTES / 4 * 3)
#define RX_LOW_FRAMES  (RX_FIFO_FRAMES / 4)
#define RX_LOW_BYTES   (RX_FIFO_BYTES / 4)

/* A timer callback that keeps re-arming in the past must not wedge us. */
#define TIMER_FIRE_MAX 64

struct slirp_timer {
	struct slirp_timer *next;
	int64_t expire_ms; /* -1: not armed */
	SlirpTimerId id;
	void *cb_opaque;
};

struct rx_frame {
	size_t len;
	uint8_t data[];
};

/* One fd in the private epoll set and the events it is registered for. */
struct slirp_fdent {
	int fd;
	uint32_t events;
	bool seen;
};

struct netbe_slirp {
	struct netbe nb; /* first: ops get &nb */
	struct event_loop *el;
	Slirp *slirp;

	struct el_source poll_src; /* private epoll fd */
	struct el_source timer_src;
	struct el_source wake_src;
	bool poll_in_loop; /* poll_src is in the main loop (reading) */
	bool timer_added, wake_added;
	bool wake_pending; /* wake_src written and not yet handled */
	bool in_service;   /* inside a service cycle: no wake needed */

	bool rx_enabled;
	bool rx_full;	   /* FIFO passed high water; cleared below low */
	bool mask_revents; /* this cycle: report no socket events */

	/* slirp_pollfds_fill output, reused every cycle */
	struct pollfd *pfds;
	unsigned int npfds, pfds_cap;
	bool pfds_short; /* an add_poll failed for lack of memory */

	struct slirp_fdent *fds; /* what the private epoll set holds */
	unsigned int nfds, fds_cap;

	struct slirp_timer *timers;

	struct rx_frame **fifo; /* ring of RX_FIFO_FRAMES */
	unsigned int fifo_head, fifo_count;
	size_t fifo_bytes;

	uint8_t *txbuf; /* send() gathers the iov here */
	struct ratelimit rl;
};

static struct netbe_slirp *to_slirp(struct netbe *nb)
{
	return (struct netbe_slirp *)nb;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- waking ourselves ---- */

static void slirp_kick(struct netbe_slirp *s)
{
	uint64_t one = 1;

	if (s->wake_pending || s->wake_src.fd < 0)
		return;
	/* A failed write means the counter is already huge: still a wake. */
	if (write(s->wake_src.fd, &one, sizeof(one)) == sizeof(one) || errno == EAGAIN)
		s->wake_pending = true;
}

/* Whether slirp may read host sockets now. */
static bool slirp_reading(const struct netbe_slirp *s)
{
	return s->rx_enabled && !s->rx_full;
}

/* Put the private epoll source into the loop or take it out, to match
 * slirp_reading(). Out of the loop, ready sockets cannot make it spin. */
static void slirp_update_reading(struct netbe_slirp *s)
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

/* ---- rx FIFO ---- */

static void fifo_free_all(struct netbe_slirp *s)
{
	while (s->fifo_count) {
		free(s->fifo[s->fifo_head]);
		s->fifo[s->fifo_head] = NULL;
		s->fifo_head = (s->fifo_head + 1) % RX_FIFO_FRAMES;
		s->fifo_count--;
	}
	s->fifo_bytes = 0;
}

/* slirp's send_packet: a frame for the guest. May run inside send(). */
static ssize_t slirp_cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct netbe_slirp *s = opaque;
	struct rx_frame *f;

	/* Returning len even when we drop: slirp would only log a negative
	 * value, and the drop is counted here. */
	if (s->fifo_count >= RX_FIFO_FRAMES || len > RX_FIFO_BYTES - s->fifo_bytes) {
		s->nb.stats.rx_dropped++;
		return (ssize_t)len;
	}
	f = malloc(sizeof(*f) + len);
	if (!f) {
		s->nb.stats.rx_dropped++;
		return (ssize_t)len;
	}
	f->len = len;
	memcpy(f->data, buf, len);
	s->fifo[(s->fifo_head + s->fifo_count) % RX_FIFO_FRAMES] = f;
	s->fifo_count++;
	s->fifo_bytes += len;
	if (!s->rx_full && (s->fifo_count >= RX_HIGH_FRAMES || s->fifo_bytes >= RX_HIGH_BYTES)) {
		s->rx_full = true;
		slirp_update_reading(s);
	}
	/* Inside a service cycle the handler reports rx when it ends. */
	if (!s->in_service)
		slirp_kick(s);
	return (ssize_t)len;
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
		int64_t now_ms = mono_ns() / 1000000;
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
		deadline_ms = mono_ns() / 1000000 + timeout_ms;
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

static void slirp_service(struct netbe_slirp *s)
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
static void slirp_handler(struct el_source *src, uint32_t events)
{
	struct netbe_slirp *s = src->opaque;
	uint64_t n;

	(void)events;
	if (src != &s->poll_src && read(src->fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: a timer re-arm raced the expiry; run anyway */
	}
	if (src == &s->wake_src)
		s->wake_pending = false;
	slirp_service(s);
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
	return mono_ns();
}

/* A guestfwd socket can take data again: run a cycle. */
static void slirp_cb_notify(void *opaque)
{
	struct netbe_slirp *s = opaque;

	if (!s->in_service)
		slirp_kick(s);
}

static const SlirpCb slirp_callbacks = {
	.send_packet = slirp_cb_send_packet,
	.guest_error = slirp_cb_guest_error,
	.clock_get_ns = slirp_cb_clock_get_ns,
	.timer_free = slirp_cb_timer_free,
	.timer_mod = slirp_cb_timer_mod,
	.register_poll_fd = slirp_cb_register_poll_fd,
	.unregister_poll_fd = slirp_cb_unregister_poll_fd,
	.notify = slirp_cb_notify,
	.timer_new_opaque = slirp_cb_timer_new_opaque,
};

/* ---- backend ops ---- */

static int slirp_send(struct netbe *nb, const struct iovec *iov, unsigned int iovcnt)
{
	struct netbe_slirp *s = to_slirp(nb);
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SLIRP_TX_MAX - len) {
			nb->stats.tx_dropped++;
			return -EINVAL;
		}
		if (iov[i].iov_len)
			memcpy(s->txbuf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (len < NETBE_FRAME_MIN) {
		nb->stats.tx_dropped++;
		return -EINVAL;
	}
	/* May call send_packet (ARP/ICMP/DHCP answers) and open sockets. */
	slirp_input(s->slirp, s->txbuf, (int)len);
	nb->stats.tx_frames++;
	nb->stats.tx_bytes += len;
	/* A cycle syncs new sockets into the epoll set and reports rx. */
	slirp_kick(s);
	return 0;
}

static ssize_t slirp_recv(struct netbe *nb, void *buf, size_t len)
{
	struct netbe_slirp *s = to_slirp(nb);

	while (s->fifo_count) {
		struct rx_frame *f = s->fifo[s->fifo_head];
		ssize_t ret = -1;

		s->fifo[s->fifo_head] = NULL;
		s->fifo_head = (s->fifo_head + 1) % RX_FIFO_FRAMES;
		s->fifo_count--;
		s->fifo_bytes -= f->len;
		if (f->len <= len) {
			memcpy(buf, f->data, f->len);
			ret = (ssize_t)f->len;
			nb->stats.rx_frames++;
			nb->stats.rx_bytes += f->len;
		} else {
			nb->stats.rx_dropped++;
		}
		free(f);
		if (s->rx_full && s->fifo_count <= RX_LOW_FRAMES && s->fifo_bytes <= RX_LOW_BYTES) {
			s->rx_full = false;
			slirp_update_reading(s);
		}
		if (ret >= 0)
			return ret;
	}
	return -EAGAIN;
}

static void slirp_rx_enable(struct netbe *nb, bool enable)
{
	struct netbe_slirp *s = to_slirp(nb);

	s->rx_enabled = enable;
	slirp_update_reading(s);
	/* Frames may be waiting, and sockets may be ready: a cycle reports
	 * them from a handler, never from inside this op. */
	if (enable)
		slirp_kick(s);
}

static int slirp_set_offloads(struct netbe *nb, unsigned int offloads)
{
	(void)nb;
	return offloads ? -EOPNOTSUPP : 0;
}

/* Also the unwinding path of a create that failed half-way: every field is
 * either set up or at its "absent" value (NULL, -1, false). */
static void slirp_free(struct netbe_slirp *s)
{
	if (s->poll_in_loop)
		el_remove(s->el, &s->poll_src);
	if (s->timer_added)
		el_remove(s->el, &s->timer_src);
	if (s->wake_added)
		el_remove(s->el, &s->wake_src);
	s->poll_in_loop = s->timer_added = s->wake_added = false;
	/* Calls unregister_poll_fd and timer_free: our tables must be alive. */
	if (s->slirp)
		slirp_cleanup(s->slirp);
	while (s->timers) {
		struct slirp_timer *t = s->timers;

		s->timers = t->next;
		free(t);
	}
	if (s->fifo)
		fifo_free_all(s);
	if (s->poll_src.fd >= 0)
		close(s->poll_src.fd);
	if (s->timer_src.fd >= 0)
		close(s->timer_src.fd);
	if (s->wake_src.fd >= 0)
		close(s->wake_src.fd);
	free(s->fifo);
	free(s->pfds);
	free(s->fds);
	free(s->txbuf);
	free(s);
}

static void slirp_destroy(struct netbe *nb)
{
	slirp_free(to_slirp(nb));
}

static const struct netbe_ops slirp_ops = {
	.send = slirp_send,
	.recv = slirp_recv,
	.rx_enable = slirp_rx_enable,
	.set_offloads = slirp_set_offloads,
	.destroy = slirp_destroy,
};

/* ---- configuration checks (the CLI checks too; we do not trust it) ---- */

static void fmt_ip(char *buf, size_t len, struct in_addr a)
{
	if (!inet_ntop(AF_INET, &a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* "hostfwd=tcp:127.0.0.1:2222-:22", as the user would have written it. */
static void fmt_rule(char *buf, size_t len, const struct netbe_hostfwd *f)
{
	char h[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN] = "";

	fmt_ip(h, sizeof(h), f->host_addr);
	if (f->guest_addr.s_addr)
		fmt_ip(g, sizeof(g), f->guest_addr);
	snprintf(buf, len, "hostfwd=%s:%s:%u-%s:%u", f->udp ? "udp" : "tcp", h, f->host_port, g,
		 f->guest_port);
}

__attribute__((warn_unused_result)) static int
add_hostfwds(struct netbe_slirp *s, const struct netbe_user_config *cfg, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < cfg->nfwd; i++) {
		const struct netbe_hostfwd *f = &cfg->fwd[i];
		struct in_addr guest = f->guest_addr.s_addr ? f->guest_addr : cfg->dhcp_start;
		char rule[96], h[INET_ADDRSTRLEN];
		int ret;

		errno = 0;
		if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, guest,
				      f->guest_port) == 0)
			continue;
		/* slirp keeps bind()'s errno; 0 would mean it failed elsewhere. */
		ret = errno ? -errno : -EADDRINUSE;
		fmt_rule(rule, sizeof(rule), f);
		fmt_ip(h, sizeof(h), f->host_addr);
		snprintf(err, errlen, "%s: cannot bind %s:%u (%s)", rule, h, f->host_port,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

int netbe_slirp_create(const struct netbe_user_config *cfg, struct event_loop *el,
		       struct netbe **out, char *err, size_t errlen)
{
	SlirpConfig sc = {
		.version = 4,
		.restricted = cfg->restricted,
		.in_enabled = true,
		.vnetwork = cfg->net,
		.vnetmask = cfg->mask,
		.vhost = cfg->host,
		.in6_enabled = false,
		.vhostname = "vmm",
		.vdhcp_start = cfg->dhcp_start,
		.vnameserver = cfg->dns,
	};
	struct netbe_slirp *s;
	int ret;

	ret = netbe_user_config_check(cfg, err, errlen);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->nb = (struct netbe){ .ops = &slirp_ops, .name = "user" };
	s->el = el;
	s->poll_src = (struct el_source){ .fd = -1, .handler = slirp_handler, .opaque = s };
	s->timer_src = (struct el_source){ .fd = -1, .handler = slirp_handler, .opaque = s };
	s->wake_src = (struct el_source){ .fd = -1, .handler = slirp_handler, .opaque = s };
	s->fifo = calloc(RX_FIFO_FRAMES, sizeof(*s->fifo));
	s->txbuf = malloc(SLIRP_TX_MAX);
	if (!s->fifo || !s->txbuf)
		goto nomem_free;

	s->poll_src.fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->poll_src.fd < 0)
		goto sys_err;
	s->timer_src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_src.fd < 0)
		goto sys_err;
	s->wake_src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_src.fd < 0)
		goto sys_err;

	s->slirp = slirp_new(&sc, &slirp_callbacks, s);
	if (!s->slirp)
		goto nomem_free;
	ret = add_hostfwds(s, cfg, err, errlen);
	if (ret)
		goto fail;

	ret = el_add(el, &s->wake_src, EPOLLIN);
	if (ret)
		goto loop_err;
	s->wake_added = true;
	ret = el_add(el, &s->timer_src, EPOLLIN);
	if (ret)
		goto loop_err;
	s->timer_added = true;
	/* Put the hostfwd listeners into the epoll set and arm the timer.
	 * rx starts disabled, so the set joins the loop at rx_enable(true). */
	slirp_service(s);
	*out = &s->nb;
	return 0;

loop_err:
	snprintf(err, errlen, "cannot add to the event loop: %s", strerror(-ret));
	goto fail;
sys_err:
	ret = -errno;
	snprintf(err, errlen, "%s", strerror(-ret));
	goto fail;
nomem_free:
	slirp_free(s);
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
fail:
	slirp_free(s);
	return ret;
}
