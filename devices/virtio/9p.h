/* SPDX-License-Identifier: MIT */
/*
 * virtio-9p: virtio device ID 9 ("9P transport", virtio 1.2 section 5; the
 * layout is Linux's include/uapi/linux/virtio_9p.h and net/9p/trans_virtio.c):
 * one request queue, each chain one 9P request (readable part) and room for
 * its reply (writable part), and the mount tag in the configuration space.
 * The messages are served by the 9P2000.L server of devices/fs (--share).
 */
#ifndef VMM_DEVICES_VIRTIO_9P_H
#define VMM_DEVICES_VIRTIO_9P_H

#include "devices/fs/p9_server.h"
#include "devices/virtio/virtio.h"
#include "base/event_loop.h"

#define VIRTIO_ID_9P	  9
/* The longest mount tag we offer. The config field tag_len is 16 bits and
 * Linux copies any length, but QEMU's limit (MAX_TAG_LEN) is 255 and a tag
 * is a mount source string: 255 is plenty and keeps the config space small. */
#define VIRTIO_9P_MAX_TAG 255
/* Worker threads serving requests (blocking file I/O off the event loop). */
#define VIRTIO_9P_WORKERS 4

struct virtio_9p;

struct virtio_9p_params {
	struct p9_server *server; /* not owned: destroy it after the device */
	const char *tag;	  /* 1..VIRTIO_9P_MAX_TAG bytes */
	struct event_loop *el;	  /* completions come back here */
	const char *name;	  /* "virtio-9p TAG", for log messages */
	unsigned int nworkers;	  /* 0: VIRTIO_9P_WORKERS */
};

int virtio_9p_create(const struct virtio_9p_params *p, struct virtio_9p **out, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
struct virtio_dev *virtio_9p_dev(struct virtio_9p *d);
/* After the transport is destroyed and with the event loop stopped: stop
 * and join the workers, drop what is still queued, free. */
void virtio_9p_destroy(struct virtio_9p *d);

#endif /* VMM_DEVICES_VIRTIO_9P_H */
