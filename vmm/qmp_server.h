/* SPDX-License-Identifier: MIT */
/*
 * The QMP socket (--api-sock PATH): a listening unix socket and its clients
 * on the event loop, each client a qmp_session (qmp.h). Owned by main.c and
 * kept across --reboot: each new VM attaches it to its event loop, so
 * clients stay connected through a reset, as with QEMU.
 *
 * A client that does not read must not block the VM: its replies and
 * events wait in a bounded buffer, and a client whose buffer is full is
 * dropped. A client that vanishes mid-command is closed when its socket
 * says so; the command itself has run or will not.
 */
#ifndef VMM_QMP_SERVER_H
#define VMM_QMP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>

#include "base/event_loop.h"
#include "vmm/qmp.h"

#define QMP_MAX_CLIENTS 16
#define QMP_OUT_MAX	(256 * 1024) /* a client's unsent output, at most */

struct qmp_server;

struct qmp_client {
	struct qmp_server *srv;
	int fd; /* -1: a free slot */
	struct el_source src;
	uint32_t watched;
	struct qmp_session session;
	char *out; /* QMP_OUT_MAX bytes */
	size_t outlen;
	bool busy; /* its input is being served: close it afterwards */
	bool dead;
};

struct qmp_server {
	int listen_fd;
	char *path;
	/* The socket file we bound: at close, `path` is unlinked only if it is
	 * still this file (another vmm may have replaced it since). */
	dev_t sock_dev;
	ino_t sock_ino;
	struct el_source listen_src;
	struct event_loop *loop; /* NULL: not attached */
	const struct qmp_vm_ops *ops;
	void *vm;
	/* Fixed slots, never freed while the server lives: an event for a
	 * client closed earlier in the same epoll batch finds a slot with
	 * fd -1 (or a new client, whose socket then reads EAGAIN). */
	struct qmp_client clients[QMP_MAX_CLIENTS];
};

/* An idle server (qmp_server_close() is then a no-op). */
void qmp_server_init(struct qmp_server *srv);
/* Listen on `path` (a stale socket there is replaced; any other file is an
 * error). */
int qmp_server_open(struct qmp_server *srv, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Serve on `loop`, driving the VM through ops/vm. */
int qmp_server_attach(struct qmp_server *srv, struct event_loop *loop, const struct qmp_vm_ops *ops,
		      void *vm, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Off the loop (before it is destroyed); clients stay connected. */
void qmp_server_detach(struct qmp_server *srv);
/* An event to every negotiated client; `data` (may be NULL) is taken over. */
void qmp_server_event(struct qmp_server *srv, const char *name, json_t *data);
/* Try for up to timeout_ms to send what the clients have not taken yet
 * (before the process exits). */
void qmp_server_flush(struct qmp_server *srv, int timeout_ms);
/* Close every client and the socket, and unlink its file if that is still
 * the one we bound. */
void qmp_server_close(struct qmp_server *srv);

#endif /* VMM_QMP_SERVER_H */
