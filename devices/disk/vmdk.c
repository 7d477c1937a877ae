/* SPDX-License-Identifier: MIT */
/*
 * VMDK: opening (the descriptor, its extents, their grain directories),
 * closing, `vmm-img info` and `check`, and the format table entry.
 *
 * Files a descriptor names are extents of this disk, resolved relative to
 * the descriptor's folder (as QEMU does), and must be regular files or
 * block devices. When the disk was only probed as VMDK (no format=vmdk),
 * they are opened read-only and the disk must be read-only: a descriptor
 * then came from a file nobody vouched for. Delta disks (a descriptor with
 * parentFileNameHint) are refused.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "devices/disk/vmdk_priv.h"

/* A grain directory of gd_n entries at `sector`, little endian on disk. */
static int read_gd(struct vmdk_extent *e, uint64_t sector, uint32_t **out)
{
	uint32_t *gd = malloc(e->gd_n * 4);

	if (!gd)
		return -ENOMEM;
	if (disk_file_pread(e->fd, gd, e->gd_n * 4, sector * 512)) {
		free(gd);
		return -EIO;
	}
	for (uint64_t i = 0; i < e->gd_n; i++)
		gd[i] = le32toh(gd[i]);
	*out = gd;
	return 0;
}

/* The header, grain directories and limits of a sparse extent. */
static int open_sparse(const struct disk *d, struct vmdk_extent *e, char *err, size_t errlen)
{
	uint8_t hdr[512];
	char msg[256];
	int ret;

	if (e->file_size < 512 || disk_file_pread(e->fd, hdr, 512, 0))
		return err_set(err, errlen, -EINVAL, "%s: truncated VMDK header", e->path);
	ret = vmdk_header_parse(hdr, 512, e->file_size, &e->h, msg, sizeof(msg));
	if (!ret && e->h.gd_offset == VMDK_GD_AT_END) {
		/* streamOptimized: the footer's copy of the header (the
		 * sector before the end-of-stream marker) has the tables. */
		if (e->file_size < 1536 || disk_file_pread(e->fd, hdr, 512, e->file_size - 1024))
			return err_set(err, errlen, -EINVAL, "%s: truncated VMDK footer", e->path);
		ret = vmdk_header_parse(hdr, 512, e->file_size, &e->h, msg, sizeof(msg));
		if (!ret && e->h.gd_offset == VMDK_GD_AT_END)
			ret = err_set(msg, sizeof(msg), -EINVAL, "footer has no grain directory");
	}
	if (ret)
		return err_set(err, errlen, ret, "%s: %s", e->path, msg);
	e->grain = e->h.grain_size * 512;
	e->gd_n = vmdk_gd_entries(&e->h);
	e->compressed = e->h.flags & VMDK_FLAG_COMPRESS;
	e->markers = e->h.flags & VMDK_FLAG_MARKER;
	if (e->compressed && !e->readonly)
		return err_set(err, errlen, -EROFS,
			       "%s: compressed (streamOptimized) VMDK images are read-only here: "
			       "open it readonly, or convert it to another format",
			       e->path);
	if (e->h.version == 3 && !e->readonly)
		return err_set(err, errlen, -EROFS,
			       "%s: VMDK version 3 images can only be opened read-only", e->path);
	if (e->compressed && !(e->cache = malloc(e->grain)))
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", e->path);
	ret = read_gd(e, e->h.gd_offset, &e->gd);
	if (!ret && (e->h.flags & VMDK_FLAG_RGD))
		ret = read_gd(e, e->h.rgd_offset, &e->rgd);
	if (!ret && !(e->gt = calloc(e->gd_n, sizeof(*e->gt))))
		ret = -ENOMEM;
	if (ret)
		return err_set(err, errlen, ret, "%s: cannot read the grain directory: %s", e->path,
			       strerror(-ret));
	e->next_alloc = (e->file_size + 511) / 512 * 512;
	disk_grow_init(&e->grow, d, e->fd, e->file_size, VMDK_GROW, 0, 0, 0);
	return 0;
}

static int open_extent_file(struct vmdk *v, struct vmdk_extent *e, const char *name, bool probed,
			    bool direct, char *err, size_t errlen)
{
	struct stat st;

	e->path = disk_resolve_path(v->d->path, name);
	if (!e->path)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	if (probed && !v->d->readonly)
		return err_set(err, errlen, -EPERM,
			       "%s: a VMDK descriptor naming other files was only probed: give "
			       "format=vmdk to write through it, or open it readonly",
			       v->d->path);
	if (e->readonly && !v->d->readonly)
		return err_set(err, errlen, -EROFS,
			       "%s: extent %s is RDONLY: open the disk readonly", v->d->path,
			       e->path);
	e->readonly = v->d->readonly;
	e->fd = open(e->path, (e->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
	if (e->fd < 0)
		return err_set(err, errlen, -errno, "%s: extent %s: %s", v->d->path, e->path,
			       strerror(errno));
	if (fstat(e->fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)))
		return err_set(err, errlen, -EINVAL,
			       "%s: extent %s is not a regular file or block device", v->d->path,
			       e->path);
	e->file_size = (uint64_t)st.st_size;
	if (!direct)
		return 0;
	e->data_fd = disk_reopen_fd(e->fd, (e->readonly ? O_RDONLY : O_RDWR) | O_DIRECT);
	if (e->data_fd < 0)
		return err_set(err, errlen, -errno, "%s: extent %s: cannot open with O_DIRECT: %s",
			       v->d->path, e->path, strerror(errno));
	e->direct = true;
	return 0;
}

/* A descriptor file and the extents it names. */
static int open_descriptor(struct vmdk *v, int fd, uint64_t size, bool direct, char *err,
			   size_t errlen)
{
	struct disk *d = v->d;
	char *text, msg[256];
	uint64_t start = 0;
	int ret;

	if (size > VMDK_MAX_DESC)
		return err_set(err, errlen, -EINVAL, "%s: VMDK descriptor longer than %u bytes",
			       d->path, VMDK_MAX_DESC);
	text = malloc(size + 1);
	if (!text)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	ret = disk_file_pread(fd, text, size, 0);
	if (!ret)
		ret = vmdk_desc_parse(text, size, &v->desc, msg, sizeof(msg));
	free(text);
	if (ret)
		return err_set(err, errlen, ret, "%s: %s", d->path,
			       ret == -EIO ? "read error" : msg);
	if (v->desc.has_parent)
		return err_set(err, errlen, -ENOTSUP,
			       "%s: VMDK delta disks (parentFileNameHint) are not supported",
			       d->path);
	snprintf(v->create_type, sizeof(v->create_type), "%s", v->desc.create_type);
	v->ext = calloc(v->desc.nextents, sizeof(*v->ext));
	if (!v->ext)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	for (v->n = 0; v->n < v->desc.nextents; v->n++) {
		const struct vmdk_extent_desc *x = &v->desc.extents[v->n];
		struct vmdk_extent *e = &v->ext[v->n];

		e->fd = -1;
		e->type = x->type;
		e->start = start;
		e->len = x->sectors * 512;
		e->readonly = x->readonly;
		start += e->len;
		if (x->type == VMDK_EXTENT_ZERO)
			continue;
		ret = open_extent_file(v, e, x->file, d->format_probed, direct, err, errlen);
		if (ret) {
			v->n++; /* free_extents() frees what it holds */
			return ret;
		}
		e->flat_off = x->offset * 512;
		if (x->type == VMDK_EXTENT_SPARSE) {
			ret = open_sparse(v->d, e, err, errlen);
			if (!ret && x->sectors > e->h.capacity)
				ret = err_set(err, errlen, -EINVAL,
					      "%s: extent %s is %llu sectors in the descriptor but "
					      "holds %llu",
					      d->path, e->path, (unsigned long long)x->sectors,
					      (unsigned long long)e->h.capacity);
			if (ret) {
				v->n++;
				return ret;
			}
		}
	}
	d->size = start;
	return 0;
}

/* One sparse file (monolithicSparse, streamOptimized): its own extent.
 * fd is buffered; data_fd the O_DIRECT one, or fd itself. Both are the
 * extent's now. */
static int open_monolithic(struct vmdk *v, int fd, int data_fd, uint64_t size, char *err,
			   size_t errlen)
{
	struct vmdk_extent *e;
	char msg[256], *text;
	int ret;

	v->ext = calloc(1, sizeof(*v->ext));
	if (!v->ext) {
		close(fd);
		if (data_fd != fd)
			close(data_fd);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", v->d->path);
	}
	v->n = 1;
	e = v->ext;
	e->type = VMDK_EXTENT_SPARSE;
	e->fd = fd;
	e->direct = data_fd != fd;
	e->data_fd = data_fd;
	e->readonly = v->d->readonly;
	e->file_size = size;
	e->path = strdup(v->d->path);
	if (!e->path)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", v->d->path);
	ret = open_sparse(v->d, e, err, errlen);
	if (ret)
		return ret;
	e->len = e->h.capacity * 512;
	v->d->size = e->len;
	snprintf(v->create_type, sizeof(v->create_type), "%s",
		 e->compressed ? "streamOptimized" : "monolithicSparse");
	if (!e->h.desc_offset)
		return 0;
	/* The embedded descriptor: its extent line names this file itself;
	 * only the create type and parent matter. */
	text = malloc(e->h.desc_size * 512);
	if (!text)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", v->d->path);
	ret = disk_file_pread(fd, text, e->h.desc_size * 512, e->h.desc_offset * 512);
	if (!ret)
		ret = vmdk_desc_parse(text, e->h.desc_size * 512, &v->desc, msg, sizeof(msg));
	free(text);
	if (ret)
		return err_set(err, errlen, ret, "%s: embedded descriptor: %s", v->d->path,
			       ret == -EIO ? "read error" : msg);
	if (v->desc.has_parent)
		return err_set(err, errlen, -ENOTSUP,
			       "%s: VMDK delta disks (parentFileNameHint) are not supported",
			       v->d->path);
	if (v->desc.create_type[0])
		snprintf(v->create_type, sizeof(v->create_type), "%s", v->desc.create_type);
	return 0;
}

static void free_extents(struct vmdk *v)
{
	for (unsigned int i = 0; i < v->n; i++) {
		struct vmdk_extent *e = &v->ext[i];

		if (e->gt)
			for (uint64_t t = 0; t < e->gd_n; t++)
				free(e->gt[t]);
		free(e->gt);
		free(e->gd);
		free(e->rgd);
		free(e->cache);
		free(e->path);
		if (e->fd >= 0)
			close(e->fd);
		if (e->direct)
			close(e->data_fd);
	}
	free(v->ext);
	vmdk_desc_free(&v->desc);
	free(v);
}

static void vmdk_close(struct disk *d)
{
	struct vmdk *v = d->priv;

	for (unsigned int i = 0; i < v->n; i++) {
		struct vmdk_extent *e = &v->ext[i];
		int ret;

		if (e->fd < 0 || e->readonly || e->type != VMDK_EXTENT_SPARSE)
			continue;
		/* Give back what the last growth step reserved. */
		ret = disk_grow_trim(&e->grow, e->next_alloc);
		if (ret)
			log_warn("%s: cannot trim the file: %s", e->path, strerror(-ret));
		if (fdatasync(e->fd) < 0)
			log_warn("%s: fdatasync on close: %s", e->path, strerror(errno));
	}
	if (v->desc_fd >= 0)
		close(v->desc_fd);
	free_extents(v);
	d->priv = NULL;
}

static const struct disk_ops vmdk_ops = {
	.submit = vmdk_submit,
	.block_status = vmdk_block_status,
	.close = vmdk_close,
};

static int vmdk_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
		     char *err, size_t errlen)
{
	uint8_t magic[4] = { 0 };
	struct vmdk *v;
	struct stat st;
	int bfd = fd, ret;

	(void)depth; /* extents are part of this disk, not a chain */
	v = calloc(1, sizeof(*v));
	if (!v) {
		close(fd);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	}
	v->d = d;
	v->desc_fd = -1;
	/* cache=none: fd is O_DIRECT; headers, tables and the descriptor are
	 * read through a buffered descriptor of the same file (vmdk_priv.h). */
	if (o->direct && (bfd = disk_reopen_fd(fd, d->readonly ? O_RDONLY : O_RDWR)) < 0) {
		ret = err_set(err, errlen, -errno, "%s: cannot reopen for metadata: %s", d->path,
			      strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		ret = err_set(err, errlen, -errno, "%s: %s", d->path, strerror(errno));
		goto fail;
	}
	if (pread(bfd, magic, 4, 0) == 4 && vmdk_probe(magic, 4) == 100) {
		ret = open_monolithic(v, bfd, fd, (uint64_t)st.st_size, err, errlen);
		fd = bfd = -1; /* the extent's now */
	} else {
		v->desc_fd = fd; /* kept open: it holds the image lock */
		fd = -1;
		ret = open_descriptor(v, bfd, (uint64_t)st.st_size, o->direct, err, errlen);
	}
	if (ret)
		goto fail;
	if (bfd >= 0 && bfd != v->desc_fd)
		close(bfd);
	d->ops = &vmdk_ops;
	d->format = "vmdk";
	d->can_discard = false;
	d->priv = v;
	return 0;
fail:
	if (bfd >= 0 && bfd != fd && bfd != v->desc_fd)
		close(bfd);
	if (v->desc_fd >= 0)
		close(v->desc_fd);
	if (fd >= 0)
		close(fd);
	free_extents(v);
	return ret;
}

/* disk_info.subformat outlives the disk (vmm-img info prints it after the
 * close): a string of the table, not the descriptor's own copy. */
static const char *create_type_name(const char *t)
{
	static const char *const known[] = {
		"monolithicSparse",
		"monolithicFlat",
		"twoGbMaxExtentSparse",
		"twoGbMaxExtentFlat",
		"streamOptimized",
		"vmfs",
		"vmfsSparse",
		"vmfsThin",
		"vmfsPreallocated",
		"vmfsRaw",
		"vmfsRDM",
		"vmfsRDMP",
		"fullDevice",
		"partitionedDevice",
		"custom",
		"seSparse",
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(t, known[i]))
			return known[i];
	return "other";
}

static void vmdk_info(struct disk *d, struct disk_info *out)
{
	struct vmdk *v = d->priv;

	out->subformat = create_type_name(v->create_type);
	if (!strcmp(out->subformat, "other"))
		disk_info_add(out, "create-type", false, "%s", v->create_type);
	for (unsigned int i = 0; i < v->n && !out->cluster_size; i++)
		if (v->ext[i].type == VMDK_EXTENT_SPARSE)
			out->cluster_size = v->ext[i].grain;
	out->write_unit = out->cluster_size; /* a new grain is written whole */
	disk_info_add(out, "cid", true, "%u", v->desc.cid);
	disk_info_add(out, "parent-cid", true, "%u", v->desc.parent_cid);
	disk_info_add(out, "extents", true, "%u", v->n);
}

static void check_report(const struct disk_check_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void check_report(const struct disk_check_opts *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!o->report)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->report(o->opaque, line);
}

/* Every grain table of a sparse extent: tables and grains inside the file
 * and past the metadata, the two copies of the directory agreeing. */
static void check_extent(struct vmdk *v, struct vmdk_extent *e, const struct disk_check_opts *o,
			 struct disk_check_result *r)
{
	uint64_t grains = (e->len + e->grain - 1) / e->grain;

	r->total_clusters += grains;
	for (uint64_t t = 0; t < e->gd_n; t++) {
		if (e->rgd && e->rgd[t] && !e->gd[t] != !e->rgd[t]) {
			r->corruptions++;
			check_report(o,
				     "ERROR: %s: grain directory entry %llu differs from its copy",
				     e->path, (unsigned long long)t);
		}
	}
	for (uint64_t g = 0; g < grains; g++) {
		uint32_t gte;

		if (vmdk_gte(v, e, g, &gte)) {
			r->corruptions++;
			check_report(o, "ERROR: %s: grain table for grain %llu is outside the file",
				     e->path, (unsigned long long)g);
			g = (g / e->h.num_gtes_per_gt + 1) * e->h.num_gtes_per_gt - 1;
			continue;
		}
		if (vmdk_gte_is_zero(e, gte))
			continue;
		r->allocated_clusters++;
		if (!vmdk_grain_in_file(e, gte)) {
			r->corruptions++;
			check_report(
				o,
				"ERROR: %s: grain %llu at sector %u is past the end of the file "
				"or inside its metadata",
				e->path, (unsigned long long)g, gte);
		}
		if (o->progress && !(g & 1023))
			o->progress(o->opaque, g, grains);
	}
	if (e->file_size > r->image_end_offset)
		r->image_end_offset = e->file_size;
}

static int vmdk_check(const char *path, const struct disk_check_opts *o,
		      struct disk_check_result *r, char *err, size_t errlen)
{
	struct disk_open_opts oo = { .readonly = true,
				     .format = "vmdk",
				     .engine = DISK_ENGINE_SYNC };
	struct vmdk *v;
	struct disk *d;
	int ret;

	if (o->repair != DISK_REPAIR_NONE)
		return err_set(err, errlen, -ENOTSUP, "%s: vmdk check cannot repair", path);
	ret = disk_open(path, &oo, &d, err, errlen);
	if (ret)
		return ret;
	v = d->priv;
	for (unsigned int i = 0; i < v->n; i++)
		if (v->ext[i].type == VMDK_EXTENT_SPARSE)
			check_extent(v, &v->ext[i], o, r);
	disk_close(d);
	return 0;
}

static void vmdk_list_files(struct disk *d, void (*fn)(void *opaque, const char *path),
			    void *opaque)
{
	struct vmdk *v = d->priv;

	for (unsigned int i = 0; i < v->n; i++)
		if (v->ext[i].path && strcmp(v->ext[i].path, d->path))
			fn(opaque, v->ext[i].path);
}

const struct disk_format disk_format_vmdk = {
	.name = "vmdk",
	.probe = vmdk_probe,
	.names_files = true,
	.open = vmdk_open,
	.create = vmdk_create,
	.check = vmdk_check,
	.info = vmdk_info,
	.list_files = vmdk_list_files,
};
