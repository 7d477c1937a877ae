/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/opts.h"

/* "key=value" items in place, the value split off. */
static void test_next_splits_key_and_value(void **state)
{
	char list[] = "format=qcow2,readonly,serial=a=b,=x";
	char *s = list, *val, *key;

	key = opts_next(&s, &val);
	assert_string_equal(key, "format");
	assert_string_equal(val, "qcow2");
	key = opts_next(&s, &val);
	assert_string_equal(key, "readonly");
	assert_null(val);
	/* only the first '=' splits */
	key = opts_next(&s, &val);
	assert_string_equal(key, "serial");
	assert_string_equal(val, "a=b");
	/* an empty key is still an item: the caller refuses it */
	key = opts_next(&s, &val);
	assert_string_equal(key, "");
	assert_string_equal(val, "x");
	assert_null(opts_next(&s, &val));
	assert_null(opts_next(&s, &val));
}

/* Empty items are skipped as strtok_r skips them; NULL val keeps the '='. */
static void test_next_skips_empty_items(void **state)
{
	char list[] = ",,path=/a,,access=rw,";
	char *s = list;

	assert_string_equal(opts_next(&s, NULL), "path=/a");
	assert_string_equal(opts_next(&s, NULL), "access=rw");
	assert_null(opts_next(&s, NULL));

	char none[] = ",,,";
	s = none;
	assert_null(opts_next(&s, NULL));
	s = NULL;
	assert_null(opts_next(&s, NULL));
}

/* The read-only walk: spans into the string, empty items included. */
static void test_span_walk(void **state)
{
	const char *s = "cluster_size=64k,,lazy_refcounts";
	struct opts_span it;

	assert_true(opts_next_span(&s, &it));
	assert_int_equal(it.klen, strlen("cluster_size"));
	assert_memory_equal(it.key, "cluster_size", it.klen);
	assert_int_equal(it.vlen, 3);
	assert_memory_equal(it.val, "64k", 3);
	assert_true(opts_next_span(&s, &it));
	assert_int_equal(it.klen, 0);
	assert_null(it.val);
	assert_true(opts_next_span(&s, &it));
	assert_int_equal(it.klen, strlen("lazy_refcounts"));
	assert_null(it.val);
	assert_int_equal(it.vlen, 0);
	assert_false(opts_next_span(&s, &it));
	/* "k=" has an empty value, not none */
	s = "k=";
	assert_true(opts_next_span(&s, &it));
	assert_non_null(it.val);
	assert_int_equal(it.vlen, 0);
	assert_false(opts_next_span(&s, &it));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_splits_key_and_value),
		cmocka_unit_test(test_next_skips_empty_items),
		cmocka_unit_test(test_span_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
