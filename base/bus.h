/* SPDX-License-Identifier: MIT */
/*
 * An I/O bus: the PIO bus (16-bit port numbers) and the MMIO bus
 * (guest-physical addresses) are both one of these.
 *
 * Devices register address ranges before the vCPUs start; the table is then
 * read-only, so dispatch needs no lock of its own. Each access runs under the
 * registering device's lock (if it gave one), which serialises vCPU threads
 * touching the same device.
 */
#ifndef BASE_BUS_H
#define BASE_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct bus_dev_ops {
	/* `off` is the offset inside the registered range; 1 <= len <= 8 and
	 * [off, off+len) lies inside the range. */
	void (*read)(void *opaque, uint64_t off, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t off, const void *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_dev_ops *ops;
	void *opaque;
	pthread_mutex_t *lock; /* may be NULL: device does its own locking */
	const char *name;
};

struct bus {
	const char *name;
	struct bus_range *ranges; /* sorted by base, never overlapping */
	unsigned int nranges;
	unsigned int cap;
	uint64_t unclaimed; /* accesses nobody claimed (atomic) */
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Room for any reason bus_register gives. */
#define BUS_ERR_MAX 128

/*
 * Claim [base, base + len) for the device `name`. Fails with -EINVAL for
 * zero length, no ops or a range that wraps past the end of the address
 * space, -EEXIST if it overlaps a registered range, -ENOMEM. On failure err
 * gets the reason only ("it overlaps serial at 0x3f8..0x3ff"): the caller
 * knows best what it was registering and says so in front (base/err.h).
 */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
		 void *opaque, pthread_mutex_t *lock, const char *name, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The range containing addr, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/*
 * Dispatch an access. Returns 0 if a device handled it; -ENOENT if no device
 * claims addr, or -EINVAL if the access straddles the end of the device's
 * range (both counted as unclaimed; a read then returns all-ones).
 */
int bus_read(struct bus *bus, uint64_t addr, void *data, uint32_t len);
int bus_write(struct bus *bus, uint64_t addr, const void *data, uint32_t len);

uint64_t bus_unclaimed(const struct bus *bus);

#endif /* BASE_BUS_H */
