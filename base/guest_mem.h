/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: a few regions of host memory, each mapped at a guest-physical
 * address. The only way to turn a guest address into a host pointer is
 * gm_slice(), which checks that the whole range lies inside one region.
 *
 * Guest-owned structures (descriptors, request headers) must be copied once
 * (gm_read) before they are validated and used: the guest can change them
 * under us at any moment.
 */
#ifndef BASE_GUEST_MEM_H
#define BASE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 4

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
	bool owned; /* mmap'd by gm_init(), unmapped by gm_destroy() */
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];
	unsigned int nregions;
	uint64_t ram_size; /* sum of region sizes */
};

/*
 * Map `ram_size` bytes of anonymous memory (MAP_NORESERVE: pages are only
 * committed when the guest touches them). RAM that would reach into the
 * 32-bit MMIO hole [hole_start, hole_end) continues above hole_end.
 * `hugepages` asks for MAP_HUGETLB (fails cleanly if none are reserved).
 * On failure err says why, in one line (base/err.h).
 */
int gm_init(struct guest_mem *gm, uint64_t ram_size, uint64_t hole_start, uint64_t hole_end,
	    bool hugepages, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Add a caller-owned region (tests use malloc'd memory as a fake guest).
 * Rejects zero size, overflow and overlap with an existing region. */
int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *host)
	__attribute__((warn_unused_result));

/*
 * Replace region i's memory by `fd` from `offset`, mapped MAP_PRIVATE: a
 * restored snapshot's RAM, read by the kernel only when the guest touches a
 * page, and written copy-on-write (the file never changes). The file must
 * hold the whole range: a page beyond its end would be SIGBUS, not RAM.
 */
int gm_region_map_file(struct guest_mem *gm, unsigned int i, int fd, uint64_t offset, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

void gm_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) or NULL unless it lies in one region
 * without overflow. len == 0 is allowed (a valid address is still needed). */
void *gm_slice(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy to or from guest memory; -EFAULT if the range is not RAM. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
	__attribute__((warn_unused_result));
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len)
	__attribute__((warn_unused_result));

/* Bytes of guest RAM the host has actually committed (mincore), i.e. the
 * pages the guest (or the loader) touched. */
uint64_t gm_resident_bytes(const struct guest_mem *gm);

/* The end of the RAM region that starts at 0 (top of low RAM). */
uint64_t gm_low_ram_end(const struct guest_mem *gm);

#endif /* BASE_GUEST_MEM_H */
