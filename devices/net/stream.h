/* SPDX-License-Identifier: MIT */
/*
 * The stream backend (QEMU's -netdev stream, and -netdev socket with
 * listen=/connect=): Ethernet frames over a unix or TCP stream socket, each
 * behind its length as a 4-byte big-endian number, no virtio-net header.
 * This is also how passt talks to a VM. A server takes one peer at a time
 * and takes the next when it goes; a client reconnects every `reconnect`
 * seconds after its peer went, if asked to.
 */
#ifndef DEVICES_NET_STREAM_H
#define DEVICES_NET_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/net/net.h"
#include "devices/net/sock_config.h"
#include "base/event_loop.h"

/* The length in front of each frame: 4 bytes, big-endian (QEMU's
 * net/stream.c, passt's tap.c). */
#define NETBE_STREAM_HDR_LEN 4

/*
 * The deframer, a pure function: look at the bytes received so far,
 * buf[0..len). Returns 0 when no whole frame is there yet; else the bytes
 * the first frame takes (header included), its length in *frame_len and its
 * first byte at buf + NETBE_STREAM_HDR_LEN; or -EPROTO when the length is 0
 * or above max: the stream can no longer be trusted to be in step, and the
 * caller drops the connection.
 */
ssize_t netbe_stream_deframe(const uint8_t *buf, size_t len, size_t max, size_t *frame_len);

/* On failure: a negative errno and one line in err ("cannot connect to
 * unix:/run/x.sock: Connection refused"; no flag name: see net.h). A client
 * must reach its server here: it fails now rather than start a guest with
 * an unplugged cable. */
int netbe_stream_create(const struct netbe_stream_config *cfg, struct event_loop *el,
			struct netbe **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* DEVICES_NET_STREAM_H */
