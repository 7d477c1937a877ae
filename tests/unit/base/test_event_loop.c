/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/event_loop.h"

struct counter {
	struct event_loop *el;
	int fires;
	int stop_after;
};

static void on_event(struct el_source *src, uint32_t events)
{
	struct counter *c = src->opaque;
	uint64_t v;

	assert_true(events & EPOLLIN);
	assert_int_equal(read(src->fd, &v, sizeof(v)), sizeof(v));
	c->fires++;
	if (c->fires == c->stop_after)
		el_stop(c->el);
}

static void test_handlers_and_stop(void **state)
{
	struct event_loop el;
	struct counter c = { .el = &el };
	struct el_source src;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK);
	int i;

	(void)state;
	assert_int_equal(el_init(&el), 0);
	src = (struct el_source){ .fd = efd, .handler = on_event, .opaque = &c };
	assert_int_equal(el_add(&el, &src, EPOLLIN), 0);
	assert_int_equal(el_add(&el, &src, EPOLLIN), -EEXIST);
	/* three writes coalesce into one eventfd readiness: one handler call,
	 * which stops the loop */
	for (i = 0; i < 3; i++)
		assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	c.stop_after = 1;
	assert_int_equal(el_run(&el), 0);
	assert_int_equal(c.fires, 1);
	/* disabled source does not fire; stop from outside still works */
	assert_int_equal(el_modify(&el, &src, 0), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	el_stop(&el);
	assert_int_equal(el_run(&el), 0);
	assert_int_equal(c.fires, 1);
	assert_int_equal(el_remove(&el, &src), 0);
	el_destroy(&el);
	close(efd);
}

static void *stopper(void *arg)
{
	usleep(20000);
	el_stop(arg);
	return NULL;
}

static void test_stop_from_other_thread(void **state)
{
	struct event_loop el;
	pthread_t t;

	(void)state;
	assert_int_equal(el_init(&el), 0);
	assert_int_equal(pthread_create(&t, NULL, stopper, &el), 0);
	assert_int_equal(el_run(&el), 0);
	pthread_join(t, NULL);
	assert_false(el.running);
	el_destroy(&el);
}

/* el_watch: in, changed, out, and back in; the loop sees only what is watched. */
static void test_watch(void **state)
{
	struct event_loop el;
	struct counter c = { .el = &el, .stop_after = 1 };
	struct el_source src;
	uint32_t watched = 0;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_true(efd >= 0);
	assert_int_equal(el_init(&el), 0);
	src = (struct el_source){ .fd = efd, .handler = on_event, .opaque = &c };
	assert_int_equal(el_watch(&el, &src, &watched, EPOLLIN), 0);
	assert_int_equal(watched, EPOLLIN);
	/* the same events: no call (an add would fail with EEXIST) */
	assert_int_equal(el_watch(&el, &src, &watched, EPOLLIN), 0);
	assert_int_equal(el_watch(&el, &src, &watched, EPOLLIN | EPOLLOUT), 0);
	assert_int_equal(watched, EPOLLIN | EPOLLOUT);
	assert_int_equal(el_watch(&el, &src, &watched, 0), 0);
	assert_int_equal(watched, 0);
	/* out of the loop: a second removal would fail with ENOENT, and none is made */
	assert_int_equal(el_watch(&el, &src, &watched, 0), 0);
	/* back in, and it fires */
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(el_watch(&el, &src, &watched, EPOLLIN), 0);
	assert_int_equal(el_run(&el), 0);
	assert_int_equal(c.fires, 1);
	/* a failure leaves *watched alone */
	src.fd = -1;
	watched = 0;
	assert_int_equal(el_watch(&el, &src, &watched, EPOLLIN), -EBADF);
	assert_int_equal(watched, 0);
	el_destroy(&el);
	close(efd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handlers_and_stop),
		cmocka_unit_test(test_stop_from_other_thread),
		cmocka_unit_test(test_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
