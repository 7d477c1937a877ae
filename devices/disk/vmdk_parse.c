/* SPDX-License-Identifier: MIT */
/*
 * VMDK's sparse extent header and text descriptor: pure parsers (vmdk.h).
 * Every number from the file is checked before it sizes anything.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "devices/disk/vmdk.h"

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

uint64_t vmdk_gd_entries(const struct vmdk_header *h)
{
	uint64_t per_gt = h->grain_size * h->num_gtes_per_gt; /* sectors one table maps */

	return (h->capacity + per_gt - 1) / per_gt;
}

/* [off, off + len) sectors inside a file of file_size bytes. */
static bool inside(uint64_t off_sectors, uint64_t len_bytes, uint64_t file_size)
{
	return off_sectors <= file_size / 512 && len_bytes <= file_size - off_sectors * 512;
}

int vmdk_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct vmdk_header *h,
		      char *err, size_t errlen)
{
	uint64_t gd_bytes;

	if (len < 512)
		return err_set(err, errlen, -EINVAL, "truncated VMDK header (%zu bytes)", len);
	if (le32(buf) == VMDK3_MAGIC)
		return err_set(err, errlen, -ENOTSUP,
			       "VMDK3 (COWD, ESX 2) images are not supported");
	if (le32(buf) != VMDK4_MAGIC)
		return err_set(err, errlen, -EINVAL, "not a VMDK sparse extent (no KDMV magic)");
	*h = (struct vmdk_header){
		.version = le32(buf + 4),
		.flags = le32(buf + 8),
		.capacity = le64(buf + 12),
		.grain_size = le64(buf + 20),
		.desc_offset = le64(buf + 28),
		.desc_size = le64(buf + 36),
		.num_gtes_per_gt = le32(buf + 44),
		.rgd_offset = le64(buf + 48),
		.gd_offset = le64(buf + 56),
		.overhead = le64(buf + 64),
		.unclean_shutdown = buf[72] != 0,
		.compress_algorithm = le16(buf + 77),
	};
	if (h->version < 1 || h->version > 3)
		return err_set(err, errlen, -EINVAL, "unsupported VMDK version %u", h->version);
	if ((h->flags & VMDK_FLAG_NL_DETECT) &&
	    (buf[73] != '\n' || buf[74] != ' ' || buf[75] != '\r' || buf[76] != '\n'))
		return err_set(err, errlen, -EINVAL,
			       "header damaged by a text-mode transfer (newline check failed)");
	if (!h->grain_size || h->grain_size > VMDK_MAX_GRAIN_SECTORS ||
	    (h->grain_size & (h->grain_size - 1)))
		return err_set(err, errlen, -EINVAL,
			       "grain size %llu sectors: must be a power of two up to %u",
			       (unsigned long long)h->grain_size, VMDK_MAX_GRAIN_SECTORS);
	if (!h->num_gtes_per_gt || h->num_gtes_per_gt > VMDK_MAX_GTES)
		return err_set(err, errlen, -EINVAL, "%u entries per grain table (at most %u)",
			       h->num_gtes_per_gt, VMDK_MAX_GTES);
	if (!h->capacity || h->capacity > VMDK_MAX_CAPACITY)
		return err_set(err, errlen, -EINVAL, "capacity %llu sectors (1 to %llu)",
			       (unsigned long long)h->capacity,
			       (unsigned long long)VMDK_MAX_CAPACITY);
	if (h->compress_algorithm > VMDK_COMPRESS_DEFLATE)
		return err_set(err, errlen, -ENOTSUP, "unknown compression algorithm %u",
			       h->compress_algorithm);
	if ((h->flags & VMDK_FLAG_COMPRESS) && h->compress_algorithm != VMDK_COMPRESS_DEFLATE)
		return err_set(err, errlen, -EINVAL,
			       "compressed grains but no compression algorithm");
	if (h->desc_offset && (h->desc_size > VMDK_MAX_DESC / 512 ||
			       !inside(h->desc_offset, h->desc_size * 512, file_size)))
		return err_set(err, errlen, -EINVAL,
			       "embedded descriptor (sector %llu, %llu sectors) is too long or "
			       "past the end of the file",
			       (unsigned long long)h->desc_offset,
			       (unsigned long long)h->desc_size);
	if (h->gd_offset == VMDK_GD_AT_END)
		return 0;
	gd_bytes = vmdk_gd_entries(h) * 4;
	if (!h->gd_offset || !inside(h->gd_offset, gd_bytes, file_size))
		return err_set(
			err, errlen, -EINVAL,
			"grain directory (sector %llu, %llu bytes) is past the end of the file",
			(unsigned long long)h->gd_offset, (unsigned long long)gd_bytes);
	if ((h->flags & VMDK_FLAG_RGD) &&
	    (!h->rgd_offset || !inside(h->rgd_offset, gd_bytes, file_size)))
		return err_set(
			err, errlen, -EINVAL,
			"redundant grain directory (sector %llu) is past the end of the file",
			(unsigned long long)h->rgd_offset);
	return 0;
}

void vmdk_header_encode(const struct vmdk_header *h, uint8_t *buf)
{
	memset(buf, 0, 512);
	put32(buf, VMDK4_MAGIC);
	put32(buf + 4, h->version);
	put32(buf + 8, h->flags);
	put64(buf + 12, h->capacity);
	put64(buf + 20, h->grain_size);
	put64(buf + 28, h->desc_offset);
	put64(buf + 36, h->desc_size);
	put32(buf + 44, h->num_gtes_per_gt);
	put64(buf + 48, h->rgd_offset);
	put64(buf + 56, h->gd_offset);
	put64(buf + 64, h->overhead);
	buf[72] = h->unclean_shutdown;
	buf[73] = '\n';
	buf[74] = ' ';
	buf[75] = '\r';
	buf[76] = '\n';
	put16(buf + 77, h->compress_algorithm);
}

int vmdk_probe(const uint8_t *buf, size_t len)
{
	const char *p = (const char *)buf, *end = p + len;

	if (len >= 4 && (le32(buf) == VMDK4_MAGIC || le32(buf) == VMDK3_MAGIC))
		return 100;
	/* A descriptor: comments and blank space, then "version=N". */
	while (p < end) {
		if (*p == '#') {
			while (p < end && *p != '\n')
				p++;
			p++;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			p++;
			continue;
		}
		if (end - p >= 10 && !strncmp(p, "version=", 8) && p[8] >= '1' && p[8] <= '3' &&
		    (p[9] == '\n' || (p[9] == '\r' && end - p >= 11 && p[10] == '\n')))
			return 100;
		return 0;
	}
	return 0;
}

void vmdk_desc_free(struct vmdk_desc *d)
{
	free(d->extents);
	d->extents = NULL;
	d->nextents = 0;
}

/* `"value"` (quotes optional) into out; false if it does not fit. */
static bool unquote(const char *v, char *out, size_t outlen)
{
	size_t n;

	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n >= outlen)
		return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

static bool parse_u64(const char *s, int base, uint64_t *out)
{
	char *end;

	if (!isxdigit((unsigned char)*s))
		return false;
	errno = 0;
	*out = strtoull(s, &end, base);
	return !errno && (*end == '\0' || *end == ' ' || *end == '\t');
}

/* `ACCESS SECTORS TYPE ["FILE" [OFFSET]]`. */
static int parse_extent(char *line, unsigned int lineno, struct vmdk_extent_desc *e, char *err,
			size_t errlen)
{
	char access[16], type[16], *q, *q2;
	unsigned long long sectors;
	int used = 0;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "%15s %llu %15s %n", access, &sectors, type, &used) != 3 || !used)
		return err_set(err, errlen, -EINVAL, "descriptor line %u: bad extent line", lineno);
	if (!strcmp(access, "NOACCESS"))
		return err_set(err, errlen, -ENOTSUP, "descriptor line %u: NOACCESS extent",
			       lineno);
	e->readonly = !strcmp(access, "RDONLY");
	e->sectors = sectors;
	if (!sectors || sectors > VMDK_MAX_CAPACITY)
		return err_set(err, errlen, -EINVAL, "descriptor line %u: extent of %llu sectors",
			       lineno, sectors);
	if (!strcmp(type, "ZERO")) {
		e->type = VMDK_EXTENT_ZERO;
		return 0;
	}
	if (!strcmp(type, "SPARSE"))
		e->type = VMDK_EXTENT_SPARSE;
	else if (!strcmp(type, "FLAT") || !strcmp(type, "VMFS"))
		e->type = VMDK_EXTENT_FLAT;
	else
		return err_set(err, errlen, -ENOTSUP,
			       "descriptor line %u: unsupported extent type %s", lineno, type);
	q = strchr(line + used, '"');
	q2 = q ? strchr(q + 1, '"') : NULL;
	if (!q2 || q2 == q + 1 || (size_t)(q2 - q - 1) >= sizeof(e->file))
		return err_set(err, errlen, -EINVAL,
			       "descriptor line %u: extent file name missing or too long", lineno);
	memcpy(e->file, q + 1, (size_t)(q2 - q - 1));
	for (q = q2 + 1; *q == ' ' || *q == '\t'; q++)
		;
	if (*q && (e->type != VMDK_EXTENT_FLAT || !parse_u64(q, 10, &e->offset) ||
		   e->offset > VMDK_MAX_CAPACITY))
		return err_set(err, errlen, -EINVAL, "descriptor line %u: bad extent offset",
			       lineno);
	return 0;
}

/* One "key = value" line of the header or the disk database. */
static int parse_setting(const char *key, const char *val, unsigned int lineno, struct vmdk_desc *d,
			 char *err, size_t errlen)
{
	uint64_t v;
	char tmp[64];

	if (!strcmp(key, "version")) {
		if (!parse_u64(val, 10, &v) || v < 1 || v > 3)
			return err_set(err, errlen, -EINVAL, "descriptor line %u: version %s",
				       lineno, val);
		d->version = (unsigned int)v;
	} else if (!strcmp(key, "CID") || !strcmp(key, "parentCID")) {
		if (!parse_u64(val, 16, &v) || v > 0xffffffffULL)
			return err_set(err, errlen, -EINVAL, "descriptor line %u: bad %s", lineno,
				       key);
		*(key[0] == 'C' ? &d->cid : &d->parent_cid) = (uint32_t)v;
	} else if (!strcmp(key, "createType")) {
		if (!unquote(val, d->create_type, sizeof(d->create_type)))
			return err_set(err, errlen, -EINVAL,
				       "descriptor line %u: createType too long", lineno);
	} else if (!strcmp(key, "parentFileNameHint")) {
		d->has_parent = true;
	} else if (!strcmp(key, "ddb.adapterType")) {
		if (unquote(val, tmp, sizeof(tmp)) && strlen(tmp) < sizeof(d->adapter_type))
			memcpy(d->adapter_type, tmp, strlen(tmp) + 1);
	}
	/* Anything else (ddb.geometry.*, uuids, encoding) is information. */
	return 0;
}

static int parse_line(char *line, unsigned int lineno, struct vmdk_desc *d, char *err,
		      size_t errlen)
{
	char *eq, *key, *val, *k_end;
	struct vmdk_extent_desc *e;

	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#')
		return 0;
	if (!strncmp(line, "RW ", 3) || !strncmp(line, "RDONLY ", 7) ||
	    !strncmp(line, "NOACCESS ", 9)) {
		if (d->nextents == VMDK_MAX_EXTENTS)
			return err_set(err, errlen, -EINVAL, "more than %u extents",
				       VMDK_MAX_EXTENTS);
		e = realloc(d->extents, (d->nextents + 1) * sizeof(*e));
		if (!e)
			return err_set(err, errlen, -ENOMEM, "out of memory");
		d->extents = e;
		return parse_extent(line, lineno, &d->extents[d->nextents++], err, errlen);
	}
	eq = strchr(line, '=');
	if (!eq)
		return err_set(err, errlen, -EINVAL, "descriptor line %u: not key=value", lineno);
	key = line;
	for (k_end = eq; k_end > key && (k_end[-1] == ' ' || k_end[-1] == '\t'); k_end--)
		;
	*k_end = '\0';
	val = eq + 1;
	while (*val == ' ' || *val == '\t')
		val++;
	return parse_setting(key, val, lineno, d, err, errlen);
}

int vmdk_desc_parse(const char *text, size_t len, struct vmdk_desc *d, char *err, size_t errlen)
{
	const char *nul = memchr(text, '\0', len);
	unsigned int lineno = 0;
	char *copy, *line, *save = NULL;
	uint64_t total = 0;
	int ret = 0;

	memset(d, 0, sizeof(*d));
	d->parent_cid = 0xffffffff;
	if (nul)
		len = (size_t)(nul - text);
	if (len > VMDK_MAX_DESC)
		return err_set(err, errlen, -EINVAL, "descriptor longer than %u bytes",
			       VMDK_MAX_DESC);
	copy = malloc(len + 1);
	if (!copy)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	/* Lines end in \n or \r\n; strtok_r would skip empty lines, which
	 * only shifts the numbers in messages, so count them by hand. */
	for (line = copy; line && !ret; line = save) {
		char *nl = strchr(line, '\n');

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (nl && nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		ret = parse_line(line, ++lineno, d, err, errlen);
	}
	free(copy);
	if (!ret && !d->version)
		ret = err_set(err, errlen, -EINVAL, "descriptor has no version= line");
	if (!ret && !d->nextents)
		ret = err_set(err, errlen, -EINVAL, "descriptor names no extents");
	for (unsigned int i = 0; !ret && i < d->nextents; i++)
		if (__builtin_add_overflow(total, d->extents[i].sectors, &total) ||
		    total > VMDK_MAX_CAPACITY)
			ret = err_set(err, errlen, -EINVAL,
				      "extents add up to more than %llu sectors",
				      (unsigned long long)VMDK_MAX_CAPACITY);
	if (ret)
		vmdk_desc_free(d);
	return ret;
}
