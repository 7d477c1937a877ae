/* SPDX-License-Identifier: MIT */
/*
 * Between the parts of the qcow2 driver:
 *   qcow2.c         header parse, open/close
 *   qcow2_create.c  new images (qcow2_create)
 *   qcow2_map.c     L1/L2 tables, the L2 cache, refcounts and cluster allocation
 *   qcow2_io.c      the request path (reads, writes, flush, discard, write-zeroes)
 *   qcow2_check.c   check and repair (vmm-img check)
 *   qcow2_compress.c compressed clusters: descriptors, deflate/zstd, the
 *                   copy-on-write source, freeing, and compressed writes
 *
 * How metadata is kept (the design in one place):
 *
 * - Metadata is write-through: every change to an L1, L2 or refcount entry
 *   is pwrite()n to the image (synchronously, on the event-loop thread) when
 *   it is made. The L2 cache therefore never holds dirty tables, eviction is
 *   free, and FLUSH is a single fdatasync. Data I/O is asynchronous through
 *   the shared I/O engine.
 *
 * - Allocation is append-only: new clusters are always taken from the end
 *   of the image (past the end of the file and past every cluster with a
 *   non-zero refcount, see q2_open_map). Such a "fresh" cluster has never
 *   been written, so it reads as zeros (a hole or beyond EOF). This lets an
 *   allocating write without a backing file write only the guest's bytes
 *   (no zero fill for the rest of the cluster), and it means a crash can
 *   never expose stale data through a half-written cluster. Clusters are
 *   never freed while the image is open (DISCARD punches a hole instead,
 *   see qcow2_io.c), so a cluster with I/O in flight can never be reused.
 *
 * - Clusters are reserved in batches: refcounts for a contiguous run of
 *   clusters are raised and written, then one fdatasync barrier, and only
 *   then are the clusters handed out. Anything that later points to them
 *   (an L2 entry, an L1 entry) is written after that barrier, so refcounts
 *   are always on stable storage before they are relied on. A crash leaks
 *   at most the unused part of a batch (`vmm-img check -r leaks` repairs);
 *   close() returns the unused part.
 *
 * - Ordering within an allocating write: the data (merged with copy-on-write
 *   data from the backing file) is written first; only when that write has
 *   completed is the L2 entry written. A new L2 table is written (zeroed)
 *   before the L1 entry that points to it.
 */
#ifndef VMM_DEVICES_DISK_QCOW2_PRIV_H
#define VMM_DEVICES_DISK_QCOW2_PRIV_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "devices/disk/disk_priv.h"
#include "devices/disk/qcow2.h"
#include "base/byteorder.h"
#include "base/log.h"

/* QEMU's implementation limits, which we share so that every image we make
 * opens in QEMU and no header can make us allocate absurd tables. */
#define QCOW2_MAX_L1_BYTES	 (32ULL << 20)
#define QCOW2_MAX_REFTABLE_BYTES (8ULL << 20)
#define QCOW2_V2_HEADER_LEN	 72U
#define QCOW2_V3_HEADER_LEN	 104U /* minimum for version 3 */
#define QCOW2_CREATE_HEADER_LEN	 112U /* what we (and QEMU) write: + compression_type, padded */

/* Header extension types (qcow2.txt "Header extensions"). */
#define QCOW2_EXT_END		0x00000000U
#define QCOW2_EXT_BACKING_FMT	0xe2792acaU
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857U
#define QCOW2_EXT_BITMAPS	0x23852875U
#define QCOW2_EXT_CRYPTO	0x0537be77U
#define QCOW2_EXT_DATA_FILE	0x44415441U

#define QCOW2_INCOMPAT_KNOWN                                                        \
	(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DATA_FILE | \
	 QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2)

/* Offset of header fields we rewrite in place. */
#define QCOW2_HDR_INCOMPAT_OFF	72
#define QCOW2_HDR_AUTOCLEAR_OFF 88
#define QCOW2_HDR_REFTABLE_OFF	48 /* refcount_table_offset, then _clusters at 56 */

/* qcow2 is big-endian throughout (base/byteorder.h). */
static inline uint32_t q2_be32(const uint8_t *p)
{
	return get_be32(p);
}

static inline uint64_t q2_be64(const uint8_t *p)
{
	return get_be64(p);
}

static inline void q2_put_be32(uint8_t *p, uint32_t v)
{
	put_be32(p, v);
}

static inline void q2_put_be64(uint8_t *p, uint64_t v)
{
	put_be64(p, v);
}

/* One cached L2 table, entries kept big-endian exactly as on disk. */
struct q2_l2 {
	uint64_t *t;
	uint64_t l1_idx; /* UINT64_MAX: slot empty */
	uint64_t lru;	 /* q->l2_clock at last use */
};

/* An allocating write in flight over guest clusters [gc, gc + n). Other
 * requests that need to allocate (or set the zero flag) in that range wait
 * on it, so a cluster is never allocated twice and no write is lost. */
struct q2_part;
struct q2_codec;
struct q2_alloc {
	uint64_t gc, n;
	struct q2_part *waiters; /* re-driven when the L2 entries are written */
	struct q2_alloc *next, *prev;
};

/* Kinds of guest cluster as an L2 entry describes them. */
enum q2_kind {
	Q2_NORMAL,     /* allocated: data at host offset */
	Q2_ZERO,       /* v3 zero flag, no host cluster: reads zeros */
	Q2_ZERO_AT,    /* v3 zero flag with a preallocated host cluster: reads zeros */
	Q2_UNALLOC,    /* reads from the backing file, or zeros */
	Q2_COMPRESSED, /* compressed: "host" is the whole L2 entry (descriptor) */
	Q2_BAD,	       /* an offset we refuse: -EIO */
};

struct qcow2 {
	struct disk *d;
	int fd;		  /* image (metadata I/O; also data I/O unless data_fd differs) */
	int data_fd;	  /* the fd disk.c gave us (may be O_DIRECT): data I/O */
	bool data_cached; /* data_fd is not O_DIRECT (ioe_req.cached) */
	struct qcow2_header h;

	unsigned int cluster_bits, l2_bits;
	uint64_t cluster_size;
	uint64_t l2_entries;

	uint64_t *l1; /* host byte order */
	uint64_t l1_size;

	/* Refcount table in host byte order, and the refcount block geometry. */
	uint64_t *rt;
	uint64_t rt_entries;
	unsigned int refcount_order;
	unsigned int rb_bits; /* log2(entries per refcount block) */

	/* Allocation: clusters >= cursor are fresh. [resv_next, resv_end) is
	 * the reserved (refcount 1, fdatasync'ed) pool not yet handed out. */
	uint64_t cursor;
	uint64_t resv_next, resv_end;
	uint64_t batch; /* clusters per reservation; grows with use */

	/* L2 cache. */
	struct q2_l2 *l2c;
	unsigned int l2c_n;
	uint64_t l2_clock;

	struct q2_alloc *allocs; /* in flight */

	uint8_t *zeros;	       /* cluster_size of zeros (COW fill, WRITE_ZEROES) */
	struct iovec zero_iov; /* {zeros, cluster_size}: the source of WRITE_ZEROES */
	struct ratelimit rl;
	bool readonly;

	/* Compressed clusters (qcow2_compress.c). cbuf: compressed bytes
	 * (2 clusters: the most a descriptor can name); ccache: the last
	 * cluster decompressed, for the L2 entry ccache_e (0: none). */
	uint8_t *cbuf, *ccache;
	uint64_t ccache_e;
	struct q2_codec *codec; /* decompression state, kept between clusters */
	/* Descriptors replaced by copy-on-write whose host sectors are still
	 * counted: released only after an fdatasync has made the new L2
	 * entries stable (q2_comp_release), so a crash can only leak them. */
	uint64_t *cfree;
	size_t cfree_n, cfree_cap;
	/* Compressed writes (qcow2_write_compressed): the next free byte of
	 * the host cluster being filled, 0 if none. */
	uint64_t cw_off;
};

/* qcow2_map.c */
int q2_open_map(struct qcow2 *q, char *err, size_t errlen) __attribute__((warn_unused_result));
void q2_close_map(struct qcow2 *q);
/* Look up guest cluster `gc`: its kind and (for NORMAL/ZERO_AT) host
 * offset. May read an L2 table synchronously on a cache miss. Returns 0 or
 * a negative errno (a bad L1/L2 entry: -EIO, warned about). */
int q2_lookup(struct qcow2 *q, uint64_t gc, enum q2_kind *kind, uint64_t *host)
	__attribute__((warn_unused_result));
/* disk_ops.block_status: clusters by their L2 entries. */
int q2_block_status(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind, uint64_t *n)
	__attribute__((warn_unused_result));
/* Make sure the L2 table covering guest cluster `gc` exists (allocating and
 * linking a zeroed one if not). */
int q2_ensure_l2(struct qcow2 *q, uint64_t gc) __attribute__((warn_unused_result));
/* Write `n` L2 entries for guest clusters [gc, gc+n) (all in one L2 table,
 * which must exist); entry i = first + i * step (host byte order). */
int q2_set_l2(struct qcow2 *q, uint64_t gc, uint64_t n, uint64_t first, uint64_t step)
	__attribute__((warn_unused_result));
/* Take up to `want` contiguous reserved clusters; *host = first byte
 * offset, returns the count (>= 1) or a negative errno. */
int64_t q2_reserve(struct qcow2 *q, uint64_t want, uint64_t *host)
	__attribute__((warn_unused_result));
/* Return the unused reservation (refcounts back to 0). */
int q2_unreserve(struct qcow2 *q) __attribute__((warn_unused_result));

/* Add `delta` (+1 or -1) to the refcounts of host clusters [first, end).
 * A count that would go below 0 or past the maximum is left alone: -EIO. */
int q2_rc_adjust(struct qcow2 *q, uint64_t first, uint64_t end, int delta)
	__attribute__((warn_unused_result));

/* Refcount entry access for any refcount_order (0..6) within a block. */
uint64_t q2_rc_get(const uint8_t *block, unsigned int order, uint64_t idx);
void q2_rc_set(uint8_t *block, unsigned int order, uint64_t idx, uint64_t v);

/* qcow2_compress.c */
/* The host byte range a compressed descriptor (L2 entry) names: the data
 * starts at *off and is at most *len bytes (whole sectors, qcow2.txt
 * "Compressed Clusters Descriptor"). Pure. */
void q2_comp_range(uint64_t e, unsigned int cluster_bits, uint64_t *off, uint64_t *len);
/* Decompress cluster `e` into q->ccache (or find it there): 0, or -EIO
 * (warned about, naming the image) for data that does not decompress to
 * exactly one cluster or lies outside the image. */
int q2_comp_load(struct qcow2 *q, uint64_t e) __attribute__((warn_unused_result));
/* Remember that descriptor `e` was replaced (after its new L2 entry was
 * written); its sectors are released by q2_comp_release. */
int q2_comp_free_later(struct qcow2 *q, uint64_t e) __attribute__((warn_unused_result));
/* Release remembered descriptors. `synced`: an fdatasync has already made
 * every L2 write before this call stable; if false, one is done first. */
int q2_comp_release(struct qcow2 *q, bool synced) __attribute__((warn_unused_result));
void q2_comp_close(struct qcow2 *q);

/* qcow2_io.c */
int q2_submit(struct disk *d, struct disk_req *req) __attribute__((warn_unused_result));

/* Full pread/pwrite (retrying short transfers); a read past EOF fills
 * zeros. 0 or -errno. */
int q2_pread(int fd, void *buf, size_t len, uint64_t off) __attribute__((warn_unused_result));
int q2_pwrite(int fd, const void *buf, size_t len, uint64_t off)
	__attribute__((warn_unused_result));

/* The format driver's entry points (qcow2.c; the table entry is in
 * qcow2_format.c). */
int qcow2_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

#endif /* VMM_DEVICES_DISK_QCOW2_PRIV_H */
