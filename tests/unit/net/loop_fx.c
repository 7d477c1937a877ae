/* SPDX-License-Identifier: MIT */
/* The socket backend tests' event loop fixture (loop_fx.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "tests/unit/net/loop_fx.h"

static void on_notify(void *opaque, unsigned int events)
{
	struct loop_fx *f = opaque;

	f->events |= events;
	el_stop(&f->el);
}

static void on_timer(struct el_source *src, uint32_t events)
{
	struct loop_fx *f = src->opaque;
	uint64_t v;

	(void)events;
	if (read(src->fd, &v, sizeof(v)) < 0) {
		/* already consumed */
	}
	el_stop(&f->el);
}

int loop_fx_setup(void **state)
{
	struct loop_fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	f->timer.fd = -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vmm-sock-XXXXXX");
	if (!mkdtemp(f->dir) || el_init(&f->el) < 0)
		return -1;
	f->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (f->timer.fd < 0)
		return -1;
	f->timer.handler = on_timer;
	f->timer.opaque = f;
	return el_add(&f->el, &f->timer, EPOLLIN) < 0 ? -1 : 0;
}

int loop_fx_teardown(void **state)
{
	struct loop_fx *f = *state;
	struct dirent *de;
	DIR *d;

	if (f->nb)
		f->nb->ops->destroy(f->nb);
	if (f->timer.fd >= 0) {
		el_remove(&f->el, &f->timer);
		close(f->timer.fd);
	}
	el_destroy(&f->el);
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
	f->nb->notify = on_notify;
	f->nb->notify_opaque = f;
}

unsigned int loop_fx_wait(struct loop_fx *f, int ms)
{
	bool fixed = ms < 0;
	int t = fixed ? -ms : ms;
	struct itimerspec its = { .it_value = { .tv_sec = t / 1000,
						.tv_nsec = (long)(t % 1000) * 1000000 } };
	struct itimerspec off = { 0 };

	f->events = 0;
	assert_int_equal(timerfd_settime(f->timer.fd, 0, &its, NULL), 0);
	if (fixed) {
		unsigned int seen = 0;
		uint64_t left;

		for (;;) {
			assert_int_equal(el_run(&f->el), 0);
			seen |= f->events;
			f->events = 0;
			assert_int_equal(timerfd_gettime(f->timer.fd, &its), 0);
			left = (uint64_t)its.it_value.tv_sec * 1000000000ULL +
			       (uint64_t)its.it_value.tv_nsec;
			if (!left)
				break;
		}
		f->events = seen;
	} else {
		assert_int_equal(el_run(&f->el), 0);
	}
	assert_int_equal(timerfd_settime(f->timer.fd, 0, &off, NULL), 0);
	return f->events;
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
