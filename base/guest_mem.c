/* SPDX-License-Identifier: MIT */
#include "base/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *host)
{
	uint64_t end;
	unsigned int i;

	if (size == 0 || host == NULL || __builtin_add_overflow(gpa, size, &end))
		return -EINVAL;
	if (gm->nregions >= GM_MAX_REGIONS)
		return -ENOSPC;
	for (i = 0; i < gm->nregions; i++)
		if (ranges_overlap(gpa, size, gm->regions[i].gpa, gm->regions[i].size))
			return -EEXIST;
	gm->regions[gm->nregions++] =
		(struct gm_region){ .gpa = gpa, .size = size, .host = host, .owned = false };
	gm->ram_size += size;
	return 0;
}

static void *map_ram(uint64_t size, bool hugepages)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	void *p;

	/* Huge pages are reserved at mmap time, so a shortage is a clean
	 * ENOMEM here rather than a SIGBUS when the guest touches the page
	 * (which MAP_NORESERVE would give). Ordinary RAM is committed lazily. */
	if (hugepages)
		flags |= MAP_HUGETLB;
	else
		flags |= MAP_NORESERVE;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Guest RAM is useless in a core dump and may be huge. */
	madvise(p, size, MADV_DONTDUMP);
	if (!hugepages)
		madvise(p, size, MADV_HUGEPAGE); /* transparent huge pages, if enabled */
	return p;
}

int gm_init(struct guest_mem *gm, uint64_t ram_size, uint64_t hole_start, uint64_t hole_end,
	    bool hugepages, char *err, size_t errlen)
{
	unsigned long long mib = (unsigned long long)(ram_size >> 20);
	uint64_t low = ram_size, high = 0;
	unsigned int i;
	int ret;

	memset(gm, 0, sizeof(*gm));
	if (ram_size == 0)
		return err_set(err, errlen, -EINVAL, "no guest RAM (size 0)");
	if (hole_start > hole_end)
		return err_set(err, errlen, -EINVAL,
			       "the MMIO hole ends at 0x%llx, before it starts",
			       (unsigned long long)hole_end);
	/* hugetlb mappings are made of whole 2 MiB pages */
	if (hugepages && (ram_size & ((2ULL << 20) - 1)))
		return err_set(err, errlen, -EINVAL,
			       "%llu bytes of guest RAM are not a whole number of 2 MiB huge pages",
			       (unsigned long long)ram_size);
	if (ram_size > hole_start) {
		low = hole_start;
		high = ram_size - hole_start;
	}
	for (i = 0; i < 2; i++) {
		uint64_t size = i == 0 ? low : high;
		uint64_t gpa = i == 0 ? 0 : hole_end;
		void *host;

		if (size == 0)
			continue;
		host = map_ram(size, hugepages);
		if (!host) {
			ret = -errno;
			if (hugepages)
				err_set(err, errlen, ret,
					"cannot allocate %llu MiB of huge pages: %s (reserve them "
					"in /proc/sys/vm/nr_hugepages)",
					mib, strerror(-ret));
			else
				err_set(err, errlen, ret, "cannot map %llu MiB of guest RAM: %s",
					mib, strerror(-ret));
			goto fail;
		}
		ret = gm_add_region(gm, gpa, size, host);
		if (ret < 0) {
			err_set(err, errlen, ret, "cannot add guest RAM at 0x%llx: %s",
				(unsigned long long)gpa, strerror(-ret));
			munmap(host, size);
			goto fail;
		}
		gm->regions[gm->nregions - 1].owned = true;
	}
	return 0;
fail:
	gm_destroy(gm);
	return ret;
}

int gm_region_map_file(struct guest_mem *gm, unsigned int i, int fd, uint64_t offset, char *err,
		       size_t errlen)
{
	struct gm_region *r;
	struct stat st;
	uint64_t end;
	void *p;

	if (i >= gm->nregions || !gm->regions[i].owned)
		return err_set(err, errlen, -EINVAL, "no RAM region %u to map", i);
	r = &gm->regions[i];
	if (fstat(fd, &st) < 0)
		return err_set(err, errlen, -errno, "cannot stat the RAM file: %s",
			       strerror(errno));
	if ((offset & 4095) || __builtin_add_overflow(offset, r->size, &end) ||
	    end > (uint64_t)st.st_size)
		return err_set(err, errlen, -EINVAL,
			       "RAM at 0x%llx (%llu bytes at file offset %llu) is not all in the "
			       "file (%lld bytes) or not page-aligned",
			       (unsigned long long)r->gpa, (unsigned long long)r->size,
			       (unsigned long long)offset, (long long)st.st_size);
	p = mmap(r->host, r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
		 fd, (off_t)offset);
	if (p == MAP_FAILED)
		return err_set(err, errlen, -errno, "cannot map RAM from the file: %s",
			       strerror(errno));
	return 0;
}

void gm_destroy(struct guest_mem *gm)
{
	unsigned int i;

	for (i = 0; i < gm->nregions; i++)
		if (gm->regions[i].owned)
			munmap(gm->regions[i].host, gm->regions[i].size);
	memset(gm, 0, sizeof(*gm));
}

void *gm_slice(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		/* off < size and len <= size - off: no overflow possible */
		if (off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	const void *src = gm_slice(gm, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len)
{
	void *dst = gm_slice(gm, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t gm_low_ram_end(const struct guest_mem *gm)
{
	unsigned int i;

	for (i = 0; i < gm->nregions; i++)
		if (gm->regions[i].gpa == 0)
			return gm->regions[i].size;
	return 0;
}

uint64_t gm_resident_bytes(const struct guest_mem *gm)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), total = 0;
	unsigned char vec[4096];
	unsigned int i;

	for (i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		uint64_t off;

		/* mincore in chunks of 4096 pages to keep the vector small */
		for (off = 0; off < r->size; off += sizeof(vec) * page) {
			uint64_t len = r->size - off;
			uint64_t j, npages;

			if (len > sizeof(vec) * page)
				len = sizeof(vec) * page;
			npages = (len + page - 1) / page;
			if (mincore(r->host + off, len, vec) < 0)
				return 0;
			for (j = 0; j < npages; j++)
				total += (vec[j] & 1) * page;
		}
	}
	return total;
}
