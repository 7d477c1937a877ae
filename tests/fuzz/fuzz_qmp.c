/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the QMP parser and dispatcher (vmm/qmp.h) on a fake VM,
 * the one place where a control-socket client's bytes are parsed.
 *
 * Input layout:
 *   0  u8 chunk size (mod 64, plus 1): the bytes arrive in reads this big,
 *      as from a socket
 *   1  .. the client's bytes
 *
 * Every line the session sends must be one JSON object holding "QMP",
 * "return" or "error" (an error with a string "class" and "desc"), and the
 * session must never send before the greeting or after its output failed.
 * AddressSanitizer catches any read outside the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/qmp.h"

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

struct fake {
	bool paused;
	unsigned int lines;
	unsigned int refuse_after; /* fail the out callback after this many lines */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_toggle(void *vm, char *err, size_t errlen)
{
	struct fake *f = vm;

	f->paused = !f->paused;
	return 0;
}

static bool fake_paused(void *vm)
{
	return ((struct fake *)vm)->paused;
}

static int fake_fail(void *vm, char *err, size_t errlen)
{
	/* an op that fails leaves its reason for the error object */
	snprintf(err, errlen, "refused by the fake VM");
	return -EPERM;
}

static int fake_ok(void *vm, char *err, size_t errlen)
{
	return 0;
}

static unsigned int fake_cpus(void *vm, struct qmp_cpu *cpus, unsigned int max)
{
	unsigned int i;

	for (i = 0; i < 300 && i < max; i++)
		cpus[i] = (struct qmp_cpu){ .index = i, .thread_id = 100 + (int)i };
	return 300; /* more than the caller has room for */
}

static const struct qmp_vm_ops fake_ops = {
	.stop = fake_toggle,
	.cont = fake_toggle,
	.paused = fake_paused,
	.powerdown = fake_ok,
	.reset = fake_fail,
	.quit = fake_ok,
	.cpus = fake_cpus,
};

static int fake_out(void *opaque, const char *text, size_t len)
{
	struct fake *f = opaque;
	json_error_t jerr;
	json_t *v, *e;

	CHECK(len > 0 && text[len - 1] == '\n' && strlen(text) == len);
	v = json_loadb(text, len, 0, &jerr);
	CHECK(json_is_object(v));
	e = json_object_get(v, "error");
	CHECK(json_object_get(v, "QMP") || json_object_get(v, "return") || e);
	if (e) {
		CHECK(json_is_string(json_object_get(e, "class")));
		CHECK(json_is_string(json_object_get(e, "desc")));
	}
	json_decref(v);
	if (++f->lines > f->refuse_after)
		return -EPIPE;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_session s;
	struct fake f = { 0 };
	size_t chunk, pos;
	int ret = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] % 64) + 1;
	/* now and then, a client whose output fails part-way */
	f.refuse_after = data[0] >= 192 ? data[0] % 8 : ~0U;
	qmp_session_init(&s, &fake_ops, &f, fake_out, &f);
	if (qmp_session_greet(&s) == 0) {
		for (pos = 1; pos < size && ret == 0; pos += chunk) {
			size_t n = size - pos < chunk ? size - pos : chunk;

			ret = qmp_session_input(&s, data + pos, n);
			CHECK(ret == 0 || ret == -EPIPE || ret == -EMSGSIZE);
		}
	}
	/* nothing is sent after the first refused line */
	CHECK(f.refuse_after == ~0U || f.lines <= f.refuse_after + 1);
	qmp_session_free(&s);
	return 0;
}
