/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for qcow2's compressed cluster codecs: the input's first
 * byte picks the compression type (0 deflate, 1 zstd) and its second the
 * cluster size (512 << (b % 8)); the rest is what a descriptor would name.
 * qcow2_decompress must fill exactly one cluster or fail with -EIO, never
 * write past it; what decompressed must compress and come back the same.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cs, clen;
	uint8_t *out, *c, *back;
	uint8_t type;
	int ret;

	if (size < 2)
		return 0;
	type = data[0] % 3; /* 2: an unknown type, refused */
	cs = (size_t)512 << (data[1] % 8);
	out = malloc(cs);
	c = malloc(cs);
	back = malloc(cs);
	assert(out && c && back);
	ret = qcow2_decompress(type, data + 2, size - 2, out, cs);
	assert(ret == 0 || ret == -EIO || (type == 2 && ret == -EINVAL));
	if (ret == 0) {
		ret = qcow2_compress(type, out, cs, c, cs - 1, &clen);
		assert(ret == 0 || ret == -ENOSPC);
		if (ret == 0) {
			assert(clen <= cs - 1);
			assert(qcow2_decompress(type, c, clen, back, cs) == 0);
			assert(memcmp(out, back, cs) == 0);
		}
	}
	free(out);
	free(c);
	free(back);
	return 0;
}
