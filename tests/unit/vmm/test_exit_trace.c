/* SPDX-License-Identifier: MIT */
/* --trace-exits (vmm/exit_trace.c): the slot table, the sum over vCPUs and
 * the printed table. */
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/exit_trace.h"

#define GOLDEN 0x9e3779b97f4a7c15ULL

static unsigned int slot_bits(void)
{
	unsigned int bits = 0;

	while ((1u << bits) < EXIT_TRACE_SLOTS)
		bits++;
	return bits;
}

/* Where a key without collisions lands: the top log2(size) bits of the
 * Fibonacci product. */
static unsigned int home_slot(uint64_t key)
{
	return (unsigned int)((key * GOLDEN) >> (64 - slot_bits()));
}

static void test_slot_is_the_hash(void **state)
{
	struct exit_trace_cpu *t = calloc(1, sizeof(*t));
	uint64_t key = 0x3f8 | (1ULL << 62); /* a PIO write to COM1 */

	(void)state;
	/* with the 64-slot table this is the ">> 58" it always was */
	if (EXIT_TRACE_SLOTS == 64)
		assert_int_equal(home_slot(key), (unsigned int)((key * GOLDEN) >> 58));
	exit_trace_access(t, false, true, 0x3f8);
	exit_trace_access(t, false, true, 0x3f8);
	assert_int_equal(t->slots[home_slot(key)].key, key);
	assert_int_equal(t->slots[home_slot(key)].count, 2);
	assert_int_equal(t->slots_overflow, 0);
	free(t);
}

static uint64_t count_of(const struct exit_trace_cpu *t, uint64_t key)
{
	unsigned int i;

	for (i = 0; i < EXIT_TRACE_SLOTS; i++)
		if (t->slots[i].count && t->slots[i].key == key)
			return t->slots[i].count;
	return 0;
}

static void test_keys_kept_apart_and_overflow(void **state)
{
	struct exit_trace_cpu *t = calloc(1, sizeof(*t));
	uint64_t a;

	(void)state;
	/* direction and bus are part of the key */
	exit_trace_access(t, false, false, 0x60);
	exit_trace_access(t, false, true, 0x60);
	exit_trace_access(t, true, false, 0x60);
	assert_int_equal(count_of(t, 0x60), 1);
	assert_int_equal(count_of(t, 0x60 | 1ULL << 62), 1);
	assert_int_equal(count_of(t, 0x60 | 1ULL << 63), 1);
	/* fill the table: every key finds a slot (linear probing), then the
	 * next distinct keys overflow while known ones still count */
	for (a = 0x1000; a < 0x1000 + EXIT_TRACE_SLOTS - 3; a++)
		exit_trace_access(t, true, true, a);
	assert_int_equal(t->slots_overflow, 0);
	exit_trace_access(t, true, true, 0xdead0000);
	exit_trace_access(t, true, true, 0xdead0004);
	assert_int_equal(t->slots_overflow, 2);
	exit_trace_access(t, false, false, 0x60);
	assert_int_equal(count_of(t, 0x60), 2);
	free(t);
}

static void test_reasons_and_timing(void **state)
{
	struct exit_trace_cpu *t = calloc(1, sizeof(*t));

	(void)state;
	exit_trace_reason(t, KVM_EXIT_IO);
	exit_trace_reason(t, KVM_EXIT_IO);
	exit_trace_reason(t, EXIT_TRACE_REASONS); /* out of range: ignored */
	assert_int_equal(t->exits_by_reason[KVM_EXIT_IO], 2);
	/* the first run follows no exit; then the gaps count as vmm time */
	exit_trace_run_begin(t, 1000);
	exit_trace_run_end(t, 5000);
	exit_trace_run_begin(t, 5300);
	exit_trace_run_end(t, 9000);
	exit_trace_run_begin(t, 9100);
	assert_int_equal(t->runs, 2);
	assert_int_equal(t->user_ns, 400);
	free(t);
}

static char *print_sum(struct exit_trace_sum *sum)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	exit_trace_print(f, sum);
	fclose(f);
	return buf;
}

static void test_sum_and_print(void **state)
{
	struct exit_trace_cpu *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct exit_trace_sum *sum = calloc(1, sizeof(*sum));
	char *out;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		exit_trace_access(a, false, true, 0x3f8);
		exit_trace_reason(a, KVM_EXIT_IO);
	}
	exit_trace_access(b, false, true, 0x3f8);
	exit_trace_reason(b, KVM_EXIT_IO);
	exit_trace_access(b, true, false, 0xd0000070);
	exit_trace_reason(b, KVM_EXIT_MMIO);
	b->slots_overflow = 7;
	a->runs = 5;
	b->runs = 3;
	a->user_ns = 600;
	exit_trace_sum_add(sum, a);
	exit_trace_sum_add(sum, b);
	assert_int_equal(sum->ncpus, 2);
	assert_int_equal(sum->nmerged, 2);
	out = print_sum(sum);
	/* 8 runs, 6 of them after an exit: 600 ns / 6 */
	assert_non_null(strstr(out, "vmm: VM exits: 8 KVM_RUN calls on 2 vCPUs, 100 ns in vmm per "
				    "exit\r\n"));
	assert_non_null(strstr(out, "vmm:   io                          4\r\n"));
	assert_non_null(strstr(out, "vmm:   mmio                        1\r\n"));
	/* most frequent first, PIO and MMIO told apart */
	assert_non_null(strstr(out, "vmm: by address:\r\n"
				    "vmm:   pio  write 0x3f8                   4\r\n"
				    "vmm:   mmio read  0xd0000070              1\r\n"
				    "vmm:   (other addresses) 7\r\n"));
	free(out);
	free(sum);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_is_the_hash),
		cmocka_unit_test(test_keys_kept_apart_and_overflow),
		cmocka_unit_test(test_reasons_and_timing),
		cmocka_unit_test(test_sum_and_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
