/* SPDX-License-Identifier: MIT */
/*
 * A 9P2000.L file server for one shared host directory (vmm --share), as
 * Linux's v9fs client speaks it. Transport-free: it takes one request
 * message and writes one reply; devices/virtio/9p.c carries the messages
 * over a virtqueue, the unit tests and the benchmark call it directly.
 *
 * Threads: p9_server_handle() may run on several threads at once (the
 * device's worker pool). The fid table is under the server's lock; each fid
 * is reference-counted (a Tclunk racing a Tread on the same fid frees it
 * only when the read is done) and has its own lock for its state (path,
 * open fd). No operation holds two fid locks at once.
 *
 * Ownership (QEMU's security_model=none): files are created by, and owned
 * by, the user vmm runs as; the guest's uid/gid for a new file is tried with
 * chown and a failure is ignored (as QEMU does in that model), while an
 * explicit Tsetattr of uid/gid reports the host's answer. Modes are applied
 * as the guest asks (& 07777). Device nodes are neither created nor opened
 * (EPERM): a guest must not reach a host device through a share.
 */
#ifndef VMM_DEVICES_FS_P9_SERVER_H
#define VMM_DEVICES_FS_P9_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest msize we agree to: a 1 MiB read or write plus headers. */
#define P9_MAX_MSIZE	((1U << 20) + 4096)
/* Smaller than this cannot carry a useful Treaddir or Rgetattr. */
#define P9_MIN_MSIZE	4096
/* The fid table's bound: a guest cannot make us allocate more. */
#define P9_DEFAULT_FIDS 65536

struct p9_server;

struct p9_server_params {
	const char *dir;       /* the shared directory */
	bool readonly;	       /* refuse every change with EROFS */
	uint32_t max_msize;    /* 0: P9_MAX_MSIZE */
	unsigned int max_fids; /* 0: P9_DEFAULT_FIDS */
};

struct p9_stats {
	uint64_t requests;  /* messages handled */
	uint64_t errors;    /* answered with Rlerror (host errors included) */
	uint64_t malformed; /* messages that broke the protocol (Rlerror EPROTO/EINVAL) */
};

/* Opens the directory (a missing or unreadable one fails with the reason
 * in err). */
int p9_server_create(const struct p9_server_params *p, struct p9_server **out, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
void p9_server_destroy(struct p9_server *s);

/* Answer one request (req, len: the whole message) into resp (cap bytes).
 * Returns the reply's length; 0 only if cap cannot hold even an Rlerror
 * (11 bytes). A malformed request gets Rlerror and is counted. Thread-safe. */
size_t p9_server_handle(struct p9_server *s, const uint8_t *req, size_t len, uint8_t *resp,
			size_t cap);

/* The msize agreed in the last Tversion (P9_MAX_MSIZE before one). */
uint32_t p9_server_msize(struct p9_server *s);
/* Count a message the transport could not even hand over (a chain too
 * short for a header, a reply buffer too small). */
void p9_server_count_malformed(struct p9_server *s);
void p9_server_stats(struct p9_server *s, struct p9_stats *out);

#endif /* VMM_DEVICES_FS_P9_SERVER_H */
