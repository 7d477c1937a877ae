/* SPDX-License-Identifier: MIT */
#include "base/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	memset(bus, 0, sizeof(*bus));
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
		 void *opaque, pthread_mutex_t *lock, const char *name, char *err, size_t errlen)
{
	uint64_t end;
	unsigned int i, pos = 0;

	if (len == 0)
		return err_set(err, errlen, -EINVAL, "zero length");
	if (ops == NULL)
		return err_set(err, errlen, -EINVAL, "no access handlers");
	if (__builtin_add_overflow(base, len - 1, &end))
		return err_set(err, errlen, -EINVAL, "0x%llx bytes at 0x%llx wrap past the end",
			       (unsigned long long)len, (unsigned long long)base);
	for (i = 0; i < bus->nranges; i++) {
		const struct bus_range *r = &bus->ranges[i];
		uint64_t r_end = r->base + (r->len - 1);

		/* inclusive ends: [base, end] and [r->base, r_end] */
		if (base <= r_end && r->base <= end)
			return err_set(err, errlen, -EEXIST, "it overlaps %s at 0x%llx..0x%llx",
				       r->name ? r->name : "a device", (unsigned long long)r->base,
				       (unsigned long long)r_end);
		if (r->base < base)
			pos = i + 1;
	}
	if (bus->nranges == bus->cap) {
		unsigned int cap = bus->cap ? bus->cap * 2 : 8;
		struct bus_range *n = realloc(bus->ranges, cap * sizeof(*n));

		if (!n)
			return err_set(err, errlen, -ENOMEM, "out of memory");
		bus->ranges = n;
		bus->cap = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
		(bus->nranges - pos) * sizeof(bus->ranges[0]));
	bus->ranges[pos] = (struct bus_range){
		.base = base, .len = len, .ops = ops, .opaque = opaque, .lock = lock, .name = name
	};
	bus->nranges++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	unsigned int lo = 0, hi = bus->nranges;

	/* binary search for the last range with base <= addr */
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (addr - bus->ranges[lo - 1].base < bus->ranges[lo - 1].len)
		return &bus->ranges[lo - 1];
	return NULL;
}

static int bus_access(struct bus *bus, uint64_t addr, void *data, uint32_t len, bool write)
{
	const struct bus_range *r = bus_find(bus, addr);
	uint64_t off;

	if (!r || len == 0 || len > 8) {
		__atomic_add_fetch(&bus->unclaimed, 1, __ATOMIC_RELAXED);
		if (!write)
			memset(data, 0xff, len);
		return r ? -EINVAL : -ENOENT;
	}
	off = addr - r->base;
	if (len > r->len - off) { /* straddles the end of the device */
		__atomic_add_fetch(&bus->unclaimed, 1, __ATOMIC_RELAXED);
		if (!write)
			memset(data, 0xff, len);
		return -EINVAL;
	}
	if (r->lock)
		pthread_mutex_lock(r->lock);
	if (write) {
		if (r->ops->write)
			r->ops->write(r->opaque, off, data, len);
	} else {
		if (r->ops->read)
			r->ops->read(r->opaque, off, data, len);
		else
			memset(data, 0xff, len);
	}
	if (r->lock)
		pthread_mutex_unlock(r->lock);
	return 0;
}

int bus_read(struct bus *bus, uint64_t addr, void *data, uint32_t len)
{
	return bus_access(bus, addr, data, len, false);
}

int bus_write(struct bus *bus, uint64_t addr, const void *data, uint32_t len)
{
	return bus_access(bus, addr, (void *)data, len, true);
}

uint64_t bus_unclaimed(const struct bus *bus)
{
	return __atomic_load_n(&bus->unclaimed, __ATOMIC_RELAXED);
}
