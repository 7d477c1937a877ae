/* SPDX-License-Identifier: MIT */
/*
 * Scatter-gather lists (struct iovec): a byte range of a list, as a new
 * list or copied out, in or zeroed (after kvmtool's util/iovec.c and QEMU's
 * util/iov.c).
 *
 * Every function works on the byte range [off, off + len) of the list, as
 * far as the list reaches: a range past the end is cut short, never an
 * error, and the functions return how much they did. len = SIZE_MAX means
 * "to the end of the list". Empty segments are skipped. The lists are
 * trusted here: the caller built them from checked guest-memory slices
 * (gm_slice) or its own buffers.
 */
#ifndef BASE_IOV_H
#define BASE_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* The sum of the segment lengths, saturating at SIZE_MAX: a caller that caps
 * the total (virtio 2.7.5: a chain of at most 4 GiB) rejects that anyway. */
size_t iov_size(const struct iovec *iov, unsigned int cnt);

/* Copy the range out into buf / in from buf. Return the bytes copied
 * (short if the list ends first). */
size_t iov_to_buf(const struct iovec *iov, unsigned int cnt, size_t off, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned int cnt, size_t off, const void *buf,
		    size_t len);

/* Zero the range (a read past the end of a file, a hole). Returns the bytes
 * zeroed. */
size_t iov_zero(const struct iovec *iov, unsigned int cnt, size_t off, size_t len);

/*
 * The range as a list of its own in dst, pointing into the same buffers
 * (no data is copied): the data part of a request after its header, the
 * rest of a transfer after a short read. Returns the number of entries
 * written; never more than cnt, so dst needs room for cnt entries.
 */
unsigned int iov_window(const struct iovec *iov, unsigned int cnt, size_t off, size_t len,
			struct iovec *dst);

#endif /* BASE_IOV_H */
