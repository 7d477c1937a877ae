/* SPDX-License-Identifier: MIT */
/*
 * QMP, the QEMU Machine Protocol, as a pure module: bytes from one client
 * in, replies out through a callback. It knows no sockets and no struct vm:
 * the machine is a table of operations (struct qmp_vm_ops), which vm_qmp.c
 * implements on the real VM and tests/fuzz/fuzz_qmp.c on a fake one. The
 * socket side is qmp_server.c.
 *
 * The protocol (QEMU's docs/interop/qmp-spec.rst): the server greets with
 * {"QMP": {"version": ..., "capabilities": []}}; the client must send
 * {"execute": "qmp_capabilities"} before anything else ("capabilities
 * negotiation mode"; other commands get CommandNotFound as QEMU answers);
 * then each {"execute": NAME, "arguments": {...}, "id": ANY} gets
 * {"return": ..., "id": ...} or {"error": {"class": ..., "desc": ...},
 * "id": ...}. Events ({"event": NAME, "data": ..., "timestamp": ...}) go to
 * every negotiated client. Input is a stream of JSON values (whitespace and
 * newlines between them optional), parsed with jansson.
 *
 * Every byte is hostile: malformed JSON, a value that is not an object, a
 * missing or mistyped member, an unknown command or argument each get one
 * error object, and the session goes on.
 */
#ifndef VMM_QMP_H
#define VMM_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A value still incomplete past this many bytes ends the session. */
#define QMP_MAX_PENDING (64 * 1024)

struct qmp_cpu {
	unsigned int index;
	int thread_id; /* the vCPU thread's Linux tid (0: not started yet) */
};

/*
 * The machine as QMP drives it. Each op that can fail returns 0 or a
 * negative errno and fills err with QMP's "desc". Events that a change of
 * state causes (STOP, RESUME, POWERDOWN...) are the implementation's to
 * send, before the op returns, so a client sees them before the reply, as
 * from QEMU.
 */
/* What query-migrate reports (QEMU's MigrationInfo, the part that applies
 * to a save into a file). status NULL: no migrate yet ({}). */
struct qmp_migrate_info {
	const char *status; /* "completed" or "failed" */
	uint64_t total_time_ms;
	uint64_t bytes; /* the file's size */
	char error_desc[256];
};

struct qmp_vm_ops {
	int (*stop)(void *vm, char *err, size_t errlen);
	int (*cont)(void *vm, char *err, size_t errlen);
	bool (*paused)(void *vm);
	int (*powerdown)(void *vm, char *err, size_t errlen);
	int (*reset)(void *vm, char *err, size_t errlen);
	int (*quit)(void *vm, char *err, size_t errlen);
	/* fill up to max entries, return how many vCPUs there are */
	unsigned int (*cpus)(void *vm, struct qmp_cpu *cpus, unsigned int max);
	/* migrate: save the VM to `uri` ("file:PATH"); done when it returns */
	int (*migrate)(void *vm, const char *uri, char *err, size_t errlen);
	/* query-migrate: the last migrate's outcome */
	void (*migrate_info)(void *vm, struct qmp_migrate_info *info);
};

struct qmp_session {
	const struct qmp_vm_ops *ops;
	void *vm;
	/* One line of output (a reply or the greeting, ending in "\n") for
	 * the client. Returns 0, or a negative errno when the client is gone
	 * (its output is full): the session then reads no further input. */
	int (*out)(void *opaque, const char *text, size_t len);
	void *out_opaque;
	bool negotiated; /* qmp_capabilities done: commands and events */
	bool gone;	 /* out failed */
	char *in;	 /* bytes not parsed yet */
	size_t inlen, incap;
};

void qmp_session_init(struct qmp_session *s, const struct qmp_vm_ops *ops, void *vm,
		      int (*out)(void *opaque, const char *text, size_t len), void *out_opaque);
void qmp_session_free(struct qmp_session *s);

/* Send the greeting. 0 or the out callback's error. */
int qmp_session_greet(struct qmp_session *s) __attribute__((warn_unused_result));

/*
 * Feed `len` bytes from the client: every complete value in them is
 * answered. Returns 0; -EMSGSIZE when an incomplete value grew past
 * QMP_MAX_PENDING (an error object was sent; the caller drops the client);
 * -ENOMEM; or the out callback's error.
 */
int qmp_session_input(struct qmp_session *s, const void *buf, size_t len)
	__attribute__((warn_unused_result));

/*
 * An event as one line ending in "\n": {"event": name, "data": data,
 * "timestamp": {"seconds": ..., "microseconds": ...}} from `realtime_us`
 * (microseconds since the epoch). `data` (may be NULL: no "data" member) is
 * taken over. NULL on ENOMEM; the caller frees.
 */
char *qmp_event_format(const char *name, json_t *data, uint64_t realtime_us);

/* The commands this server knows, in the table's order (query-commands). */
unsigned int qmp_command_count(void);
const char *qmp_command_name(unsigned int i);

#endif /* VMM_QMP_H */
