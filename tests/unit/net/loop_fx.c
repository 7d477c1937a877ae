/* SPDX-License-Identifier: MIT */
/* The socket backend tests' fixture (loop_fx.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/net/loop_fx.h"

int loop_fx_setup(void **state)
{
	struct loop_fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vmm-sock-XXXXXX");
	if (loop_wait_init(&f->w) < 0 || !mkdtemp(f->dir))
		return -1;
	return 0;
}

int loop_fx_teardown(void **state)
{
	struct loop_fx *f = *state;
	struct dirent *de;
	DIR *d;

	if (f->nb)
		f->nb->ops->destroy(f->nb);
	loop_wait_destroy(&f->w);
	d = opendir(f->dir);
	while (d && (de = readdir(d))) {
		char p[sizeof(f->dir) + 256];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

void loop_fx_attach(struct loop_fx *f)
{
	loop_wait_attach(&f->w, f->nb);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned int loop_fx_wait(struct loop_fx *f, int ms)
{
	unsigned int ev = 0, seen = 0;
	int64_t end;

	if (ms >= 0) {
		assert_int_equal(loop_wait_run(&f->w, ms, &ev), 0);
		return ev;
	}
	/* a fixed time: every notify() ends a run, so run again */
	end = now_ms() - ms;
	for (;;) {
		int64_t left = end - now_ms();

		/* (a zero timeout would disarm the timer: never run with one) */
		if (left <= 0)
			break;
		assert_int_equal(loop_wait_run(&f->w, (int)left, &ev), 0);
		seen |= ev;
		if (f->w.timed_out)
			break;
	}
	return seen;
}

void loop_fx_path(const struct loop_fx *f, char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", f->dir, name);
}

size_t loop_fx_frame(uint8_t *buf, size_t n, unsigned int seq)
{
	size_t i;

	memset(buf, 0xff, 6); /* broadcast */
	memcpy(buf + 6, (uint8_t[6]){ 0x52, 0x54, 0, 0x12, 0x34, 0x56 }, 6);
	buf[12] = 0x88;
	buf[13] = 0xb5; /* local experimental EtherType */
	for (i = 0; i < n; i++)
		buf[14 + i] = (uint8_t)(seq * 31 + i + n);
	return 14 + n;
}
