/* SPDX-License-Identifier: MIT */
/* Growing an image file ahead of its allocations (grow.h). */
#include <errno.h>
#include <unistd.h>

#include "devices/disk/disk_priv.h"
#include "devices/disk/grow.h"

void disk_grow_init(struct disk_grow *g, const struct disk *d, int fd, uint64_t size,
		    uint64_t align, uint64_t unit, uint64_t max_ahead, uint64_t limit)
{
	*g = (struct disk_grow){ .d = d,
				 .fd = fd,
				 .end = size,
				 .orig = size,
				 .align = align,
				 .unit = unit,
				 .max_ahead = max_ahead,
				 .limit = limit };
}

int disk_grow_ensure(struct disk_grow *g, uint64_t need)
{
	uint64_t want;

	if (need <= g->end)
		return 0;
	want = need + g->ahead;
	if (g->align > 1)
		want = (want + g->align - 1) / g->align * g->align;
	if (g->limit && want > g->limit)
		want = need > g->limit ? need : g->limit;
	if (ftruncate(g->fd, (off_t)want) < 0 || disk_barrier(g->d, g->fd) < 0)
		return -errno;
	g->end = want;
	/* The next step reserves more: a guest filling a new disk (or a
	 * convert) pays one fdatasync per many blocks. */
	if (!g->ahead)
		g->ahead = g->unit;
	else if (g->ahead < g->max_ahead)
		g->ahead = g->ahead * 2 < g->max_ahead ? g->ahead * 2 : g->max_ahead;
	return 0;
}

int disk_grow_trim(struct disk_grow *g, uint64_t used)
{
	used = used > g->orig ? used : g->orig;
	if (g->end <= used)
		return 0;
	if (ftruncate(g->fd, (off_t)used) < 0)
		return -errno;
	g->end = used;
	return 0;
}
