/* SPDX-License-Identifier: MIT */
/* base/log: levels, the sink a tool installs, the rate limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"

static char got[8][128];
static unsigned int ngot;
static enum log_level got_level;

static void sink(enum log_level level, const char *line)
{
	if (ngot < 8)
		snprintf(got[ngot], sizeof(got[0]), "%s", line);
	ngot++;
	got_level = level;
}

static void test_sink_gets_lines_at_the_level(void **state)
{
	(void)state;
	ngot = 0;
	log_set_level(LOG_WARN);
	log_set_sink(sink);
	log_warn("disk.img: table entry %d is bad", 7);
	log_debug("not at this level");
	log_set_sink(NULL);
	log_warn("to stderr, not to the sink");
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0], "disk.img: table entry 7 is bad"); /* no prefix */
	assert_int_equal(got_level, LOG_WARN);
}

static void test_ratelimit_through_the_sink(void **state)
{
	struct ratelimit rl = { 0 };

	(void)state;
	ngot = 0;
	log_set_sink(sink);
	for (int i = 0; i < 3 * RATELIMIT_BURST; i++)
		log_warn_ratelimited(&rl, "guest did %d", i);
	log_set_sink(NULL);
	assert_int_equal(ngot, RATELIMIT_BURST);
	assert_int_equal(rl.suppressed, 2 * RATELIMIT_BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sink_gets_lines_at_the_level),
		cmocka_unit_test(test_ratelimit_through_the_sink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
