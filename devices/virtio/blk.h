/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2 section 5.2) over a block backend (devices/disk).
 */
#ifndef VMM_DEVICES_VIRTIO_BLK_H
#define VMM_DEVICES_VIRTIO_BLK_H

#include "devices/disk/disk.h"
#include "devices/virtio/virtio.h"
#include "base/event_loop.h"

struct virtio_blk;

struct virtio_blk_params {
	struct disk *disk;     /* not owned: the caller closes it after destroy */
	const char *serial;    /* VIRTIO_BLK_T_GET_ID, up to 20 bytes; NULL = none */
	struct event_loop *el; /* the disk's completion fd is watched here */
	const char *name;      /* "virtio-blk vda" */
};

/* On failure, says why in err (base/err.h), or leaves it alone where
 * strerror(-ret) says it all (out of memory, no disk or loop given). */
int virtio_blk_create(const struct virtio_blk_params *p, struct virtio_blk **out, char *err,
		      size_t errlen) __attribute__((warn_unused_result));
/* The device to hand to the transport (virtio_mmio_init). */
struct virtio_dev *virtio_blk_dev(struct virtio_blk *b);
/* Complete what the disk has finished, as the event loop does when the
 * disk's completion fd is readable (takes the device lock). For a snapshot,
 * which waits for the requests in flight and may run on the event-loop
 * thread itself, where that fd is not watched while it waits. */
void virtio_blk_poll(struct virtio_blk *b);
/* After the transport is destroyed and with the event loop stopped:
 * complete everything in flight (disk_drain), leave the loop, free. */
void virtio_blk_destroy(struct virtio_blk *b);

#endif /* VMM_DEVICES_VIRTIO_BLK_H */
