/* SPDX-License-Identifier: MIT */
/*
 * The QMP socket's glue (qmp_server.h): accept, read into the client's
 * qmp_session, write its replies and the events, drop it when it goes or
 * stops reading. Everything runs on the event-loop thread.
 */
#include "vmm/qmp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "vmm/cli.h"

/* the longest --api-sock, with the temporary name's suffix, fits */
_Static_assert(CLI_API_SOCK_MAX + sizeof(".2147483647.tmp") <=
		       sizeof(((struct sockaddr_un *)0)->sun_path),
	       "CLI_API_SOCK_MAX leaves room for the .PID.tmp suffix");

static void client_close(struct qmp_client *c)
{
	if (c->fd < 0)
		return;
	if (c->srv->loop && c->watched)
		el_remove(c->srv->loop, &c->src);
	c->watched = 0;
	close(c->fd);
	c->fd = -1;
	qmp_session_free(&c->session);
	free(c->out);
	c->out = NULL;
	c->outlen = 0;
	c->dead = false;
}

/* Close it now, or once its own handler is done with it. */
static void client_drop(struct qmp_client *c)
{
	if (c->busy)
		c->dead = true;
	else
		client_close(c);
}

/* EPOLLOUT only while output waits. */
static void client_watch(struct qmp_client *c)
{
	uint32_t want = EPOLLIN | EPOLLRDHUP | (c->outlen ? EPOLLOUT : 0);

	if (c->srv->loop && el_watch(c->srv->loop, &c->src, &c->watched, want) < 0)
		client_drop(c);
}

/* Send what is buffered. 0, or -EPIPE when the client is gone. */
static int client_write_pending(struct qmp_client *c)
{
	while (c->outlen) {
		ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -EPIPE;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	return 0;
}

/* qmp_session's out callback, and the events' way out. */
static int client_out(void *opaque, const char *text, size_t len)
{
	struct qmp_client *c = opaque;

	if (c->fd < 0 || c->dead)
		return -EPIPE;
	if (len > QMP_OUT_MAX - c->outlen) {
		log_warn("QMP: a client that does not read its replies (%zu bytes waiting) was "
			 "dropped",
			 c->outlen);
		client_drop(c);
		return -ENOBUFS;
	}
	memcpy(c->out + c->outlen, text, len);
	c->outlen += len;
	if (client_write_pending(c) < 0) {
		client_drop(c);
		return -EPIPE;
	}
	client_watch(c);
	return 0;
}

static void client_handler(struct el_source *src, uint32_t events)
{
	struct qmp_client *c = src->opaque;
	char buf[4096];
	ssize_t n;
	int ret = 0;

	if (c->fd < 0)
		return; /* closed earlier in this epoll batch */
	if ((events & EPOLLOUT) && client_write_pending(c) < 0) {
		client_close(c);
		return;
	}
	c->busy = true;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			c->dead = true; /* gone, perhaps mid-command: nothing to undo */
		else if (n > 0)
			ret = qmp_session_input(&c->session, buf, (size_t)n);
		if (ret == -EMSGSIZE || ret == -ENOMEM)
			c->dead = true;
	}
	c->busy = false;
	if (c->dead) {
		/* its last replies, if the socket still takes them */
		(void)client_write_pending(c);
		client_close(c);
		return;
	}
	client_watch(c);
}

static void listen_handler(struct el_source *src, uint32_t events)
{
	struct qmp_server *srv = src->opaque;
	struct qmp_client *c = NULL;
	unsigned int i;
	int fd;

	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return; /* EAGAIN, or a client that left before we took it */
	for (i = 0; i < QMP_MAX_CLIENTS && !c; i++)
		if (srv->clients[i].fd < 0)
			c = &srv->clients[i];
	if (!c || !(c->out = malloc(QMP_OUT_MAX))) {
		log_warn("QMP: refusing a client: %s", c ? "out of memory" : "too many clients");
		close(fd);
		return;
	}
	c->fd = fd;
	c->outlen = 0;
	c->watched = 0;
	c->busy = c->dead = false;
	c->src = (struct el_source){ .fd = fd, .handler = client_handler, .opaque = c };
	qmp_session_init(&c->session, srv->ops, srv->vm, client_out, c);
	if (qmp_session_greet(&c->session) < 0) {
		client_close(c);
		return;
	}
	client_watch(c);
}

void qmp_server_init(struct qmp_server *srv)
{
	unsigned int i;

	memset(srv, 0, sizeof(*srv));
	srv->listen_fd = -1;
	for (i = 0; i < QMP_MAX_CLIENTS; i++) {
		srv->clients[i].fd = -1;
		srv->clients[i].srv = srv;
	}
}

/*
 * A vmm started on the same --api-sock path while we still run (a restore
 * right after the save, a restart) has renamed its own socket over ours:
 * the path is then its socket, and unlinking it would leave the new vmm
 * listening on a file nobody can find. So only the file we bound goes.
 * (A replacement between the lstat and the unlink is still possible, but
 * the window is two system calls, not the whole of our shutdown.)
 */
static void unlink_if_ours(const struct qmp_server *srv)
{
	struct stat st;

	if (lstat(srv->path, &st) == 0 && st.st_dev == srv->sock_dev && st.st_ino == srv->sock_ino)
		unlink(srv->path);
}

int qmp_server_open(struct qmp_server *srv, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int n, ret;

	qmp_server_init(srv);
	/* Listen under a temporary name, then rename: once PATH exists it
	 * accepts connections (a client polling for the file never meets
	 * the moment between bind() and listen()), and the rename replaces
	 * a socket left by an earlier run, as QEMU's server=on does. */
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.%d.tmp", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return err_set(err, errlen, -ENAMETOOLONG, "--api-sock %s: path too long", path);
	/* anything but a socket at that path is not ours to replace */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return err_set(err, errlen, -EEXIST, "--api-sock %s: exists and is not a socket",
			       path);
	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->listen_fd < 0)
		return err_set(err, errlen, -errno, "--api-sock: socket: %s", strerror(errno));
	unlink(sa.sun_path); /* ours, from a run with our pid */
	/* The file's identity, which the rename keeps: see qmp_server_close(). */
	if (bind(srv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    lstat(sa.sun_path, &st) < 0) {
		ret = -errno;
		unlink(sa.sun_path);
		goto fail;
	}
	srv->sock_dev = st.st_dev;
	srv->sock_ino = st.st_ino;
	if (listen(srv->listen_fd, QMP_MAX_CLIENTS) < 0 || rename(sa.sun_path, path) < 0) {
		ret = -errno;
		unlink(sa.sun_path);
		goto fail;
	}
	srv->path = strdup(path);
	if (!srv->path) {
		qmp_server_close(srv);
		return err_set(err, errlen, -ENOMEM, "--api-sock: out of memory");
	}
	return 0;
fail:
	close(srv->listen_fd);
	srv->listen_fd = -1;
	return err_set(err, errlen, ret, "--api-sock %s: %s", path, strerror(-ret));
}

int qmp_server_attach(struct qmp_server *srv, struct event_loop *loop, const struct qmp_vm_ops *ops,
		      void *vm, char *err, size_t errlen)
{
	unsigned int i;
	int ret;

	srv->loop = loop;
	srv->ops = ops;
	srv->vm = vm;
	srv->listen_src = (struct el_source){ .fd = srv->listen_fd,
					      .handler = listen_handler,
					      .opaque = srv };
	ret = el_add(loop, &srv->listen_src, EPOLLIN);
	if (ret) {
		srv->loop = NULL;
		return err_set(err, errlen, ret, "QMP: cannot watch the socket: %s",
			       strerror(-ret));
	}
	/* clients of the VM before a --reboot: same sessions, new VM */
	for (i = 0; i < QMP_MAX_CLIENTS; i++) {
		struct qmp_client *c = &srv->clients[i];

		if (c->fd < 0)
			continue;
		c->session.vm = vm;
		c->session.ops = ops;
		c->watched = 0;
		client_watch(c);
	}
	return 0;
}

void qmp_server_detach(struct qmp_server *srv)
{
	unsigned int i;

	if (!srv->loop)
		return;
	el_remove(srv->loop, &srv->listen_src);
	for (i = 0; i < QMP_MAX_CLIENTS; i++) {
		struct qmp_client *c = &srv->clients[i];

		if (c->fd >= 0 && c->watched)
			el_remove(srv->loop, &c->src);
		c->watched = 0;
	}
	srv->loop = NULL;
}

void qmp_server_event(struct qmp_server *srv, const char *name, json_t *data)
{
	struct timespec ts;
	unsigned int i;
	char *line;

	clock_gettime(CLOCK_REALTIME, &ts);
	line = qmp_event_format(name, data,
				(uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
	if (!line)
		return;
	for (i = 0; i < QMP_MAX_CLIENTS; i++) {
		struct qmp_client *c = &srv->clients[i];

		if (c->fd >= 0 && !c->dead && c->session.negotiated)
			(void)client_out(c, line, strlen(line));
	}
	free(line);
}

void qmp_server_flush(struct qmp_server *srv, int timeout_ms)
{
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		struct pollfd pfd[QMP_MAX_CLIENTS];
		unsigned int i, n = 0;
		uint64_t now;

		for (i = 0; i < QMP_MAX_CLIENTS; i++) {
			struct qmp_client *c = &srv->clients[i];

			if (c->fd < 0 || !c->outlen)
				continue;
			if (client_write_pending(c) < 0) {
				client_close(c);
				continue;
			}
			if (c->outlen)
				pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLOUT };
		}
		now = clock_monotonic_ns();
		if (!n || now >= deadline)
			return;
		(void)poll(pfd, n, (int)((deadline - now) / 1000000u) + 1);
	}
}

void qmp_server_close(struct qmp_server *srv)
{
	unsigned int i;

	qmp_server_detach(srv);
	for (i = 0; i < QMP_MAX_CLIENTS; i++)
		client_close(&srv->clients[i]);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
	if (srv->path) {
		unlink_if_ours(srv);
		free(srv->path);
		srv->path = NULL;
	}
}
