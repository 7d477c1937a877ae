/* SPDX-License-Identifier: MIT */
/*
 * --trace-exits (see exit_trace.h): the per-vCPU counters that vcpu.c
 * updates on every exit, and the table vm_run() (vm.c) prints at the end.
 */
#include "vmm/exit_trace.h"

#include <linux/kvm.h>

#define KEY_MMIO  (1ULL << 63)
#define KEY_WRITE (1ULL << 62)

/* The slot hash keeps the top log2(EXIT_TRACE_SLOTS) bits of a 64-bit
 * product: that indexes the whole table only if its size is a power of two
 * (and at least 2, or the shift would be 64). */
_Static_assert(EXIT_TRACE_SLOTS >= 2 && (EXIT_TRACE_SLOTS & (EXIT_TRACE_SLOTS - 1)) == 0,
	       "EXIT_TRACE_SLOTS must be a power of two");
#define SLOT_SHIFT (64 - __builtin_ctz(EXIT_TRACE_SLOTS))

void exit_trace_run_begin(struct exit_trace_cpu *t, uint64_t now_ns)
{
	if (t->runs)
		t->user_ns += now_ns - t->exit_ns;
}

void exit_trace_run_end(struct exit_trace_cpu *t, uint64_t now_ns)
{
	t->exit_ns = now_ns;
	t->runs++;
}

void exit_trace_reason(struct exit_trace_cpu *t, uint32_t reason)
{
	if (reason < EXIT_TRACE_REASONS)
		t->exits_by_reason[reason]++;
}

/* Fibonacci hashing: multiplying by 2^64/phi mixes every bit of the key
 * into the top bits, so nearby ports and addresses spread out. */
static unsigned int slot_hash(uint64_t key)
{
	return (unsigned int)((key * 0x9e3779b97f4a7c15ULL) >> SLOT_SHIFT);
}

void exit_trace_access(struct exit_trace_cpu *t, bool mmio, bool write, uint64_t addr)
{
	uint64_t key = addr | (mmio ? KEY_MMIO : 0) | (write ? KEY_WRITE : 0);
	unsigned int h = slot_hash(key), i;

	/* open addressing, linear probing; a slot with count 0 is free */
	for (i = 0; i < EXIT_TRACE_SLOTS; i++) {
		struct exit_trace_slot *s = &t->slots[(h + i) % EXIT_TRACE_SLOTS];

		if (s->count && s->key != key)
			continue;
		s->key = key;
		s->count++;
		return;
	}
	t->slots_overflow++;
}

static void sum_add_slot(struct exit_trace_sum *sum, const struct exit_trace_slot *s)
{
	unsigned int k;

	for (k = 0; k < sum->nmerged && sum->merged[k].key != s->key; k++)
		;
	if (k == sum->nmerged) {
		if (sum->nmerged == EXIT_TRACE_MERGED) {
			sum->overflow += s->count;
			return;
		}
		sum->merged[sum->nmerged++] = (struct exit_trace_slot){ s->key, 0 };
	}
	sum->merged[k].count += s->count;
}

void exit_trace_sum_add(struct exit_trace_sum *sum, const struct exit_trace_cpu *t)
{
	unsigned int j;

	sum->ncpus++;
	sum->runs += t->runs;
	sum->user_ns += t->user_ns;
	sum->overflow += t->slots_overflow;
	for (j = 0; j < EXIT_TRACE_REASONS; j++)
		sum->reasons[j] += t->exits_by_reason[j];
	for (j = 0; j < EXIT_TRACE_SLOTS; j++)
		if (t->slots[j].count)
			sum_add_slot(sum, &t->slots[j]);
}

static const char *exit_reason_name(unsigned int r)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown",
		[KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io",
		[KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug",
		[KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
		[KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_FAIL_ENTRY] = "fail_entry",
		[KVM_EXIT_INTR] = "intr",
		[KVM_EXIT_INTERNAL_ERROR] = "internal_error",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event",
	};

	if (r < sizeof(names) / sizeof(names[0]) && names[r])
		return names[r];
	return "other";
}

/* most frequent first (insertion sort: the table is small) */
static void sort_by_count(struct exit_trace_slot *v, unsigned int n)
{
	unsigned int i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j].count > v[j - 1].count; j--) {
			struct exit_trace_slot t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

void exit_trace_print(FILE *out, struct exit_trace_sum *sum)
{
	uint64_t runs = sum->runs;
	unsigned int n = sum->ncpus, i;

	sort_by_count(sum->merged, sum->nmerged);
	/* the first KVM_RUN of each vCPU follows no exit */
	fprintf(out, "vmm: VM exits: %llu KVM_RUN calls on %u vCPUs, %.0f ns in vmm per exit\r\n",
		(unsigned long long)runs, n,
		runs > n ? (double)sum->user_ns / (double)(runs - n) : 0.0);
	for (i = 0; i < EXIT_TRACE_REASONS; i++)
		if (sum->reasons[i])
			fprintf(out, "vmm:   %-16s %12llu\r\n", exit_reason_name(i),
				(unsigned long long)sum->reasons[i]);
	fprintf(out, "vmm: by address:\r\n");
	for (i = 0; i < sum->nmerged; i++) {
		uint64_t key = sum->merged[i].key;

		fprintf(out, "vmm:   %s %-5s 0x%-10llx %12llu\r\n",
			key & KEY_MMIO ? "mmio" : "pio ", key & KEY_WRITE ? "write" : "read",
			(unsigned long long)(key & (KEY_WRITE - 1)),
			(unsigned long long)sum->merged[i].count);
	}
	if (sum->overflow)
		fprintf(out, "vmm:   (other addresses) %llu\r\n",
			(unsigned long long)sum->overflow);
}
