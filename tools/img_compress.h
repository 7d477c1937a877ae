/* SPDX-License-Identifier: MIT */
/*
 * vmm-img convert -c: qcow2 clusters compressed on worker threads (one per
 * CPU, up to IMG_COMPRESS_MAX_THREADS), while the main thread reads the
 * source and places the results in the image (qcow2_write_compressed_buf:
 * the image's metadata has one owner). Compressing is most of the work of a
 * compressed conversion, and zlib is single-threaded.
 */
#ifndef VMM_TOOLS_IMG_COMPRESS_H
#define VMM_TOOLS_IMG_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

struct disk;

#define IMG_COMPRESS_MAX_THREADS 8
/* clen[i] of a cluster that is all zeros: nothing to write. */
#define IMG_COMPRESS_ZERO	 SIZE_MAX

/* One chunk of guest data: its clusters, compressed. */
struct img_compress_job {
	const struct disk *dst;
	const uint8_t *in; /* len bytes starting at a cluster boundary */
	size_t len;
	uint8_t *out; /* cluster i's result at out + i * cluster; room for len + 1 cluster */
	size_t *clen; /* per cluster: compressed size, 0 = stored as is, or IMG_COMPRESS_ZERO */
	int ret;      /* 0 or -errno, when done */
	void *opaque;
	struct img_compress_job *next; /* the pool's queues */
};

struct img_compress_pool;

/* Start the workers. 0 or -errno. */
int img_compress_start(struct img_compress_pool **out);
/* Readable (an eventfd) when finished jobs wait for img_compress_done(). */
int img_compress_fd(const struct img_compress_pool *p);
void img_compress_submit(struct img_compress_pool *p, struct img_compress_job *job);
/* A finished job, or NULL when none (call until NULL once the fd is
 * readable). */
struct img_compress_job *img_compress_done(struct img_compress_pool *p);
/* Wait for the workers' current jobs, stop them, free the pool (jobs still
 * queued are dropped). */
void img_compress_stop(struct img_compress_pool *p);

#endif /* VMM_TOOLS_IMG_COMPRESS_H */
