/* SPDX-License-Identifier: MIT */
/*
 * --trace-exits: where a guest makes vmm work. Each vCPU counts its KVM_RUN
 * calls, its exits by reason and its I/O exits by (bus, direction, address)
 * in a struct exit_trace_cpu of its own: only its thread writes it, so no
 * lock and no atomics on the exit path. vcpu.c records; after every vCPU
 * thread is joined, vm_run() (vm.c) adds the vCPUs up with
 * exit_trace_sum_add() and prints one table with exit_trace_print().
 */
#ifndef VMM_EXIT_TRACE_H
#define VMM_EXIT_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit reasons counted one by one (KVM's are all below this). */
#define EXIT_TRACE_REASONS 64
/* Distinct (bus, direction, address) keys a vCPU counts; more go to
 * "other addresses". A power of two (the slot hash needs it). */
#define EXIT_TRACE_SLOTS   64
/* Distinct keys of all vCPUs together in the printed table. */
#define EXIT_TRACE_MERGED  (EXIT_TRACE_SLOTS * 4)

struct exit_trace_slot {
	uint64_t key; /* bit 63: MMIO, bit 62: write; low bits: address */
	uint64_t count;
};

/* One vCPU's counters (zeroed with the vCPU). */
struct exit_trace_cpu {
	uint64_t exits_by_reason[EXIT_TRACE_REASONS];
	uint64_t runs;
	uint64_t exit_ns; /* when the last KVM_RUN returned */
	uint64_t user_ns; /* time handling exits, between KVM_RUNs */
	struct exit_trace_slot slots[EXIT_TRACE_SLOTS];
	uint64_t slots_overflow;
};

/* Around each KVM_RUN, with CLOCK_MONOTONIC in ns: the time between one
 * KVM_RUN returning and the next starting is time spent in vmm. */
void exit_trace_run_begin(struct exit_trace_cpu *t, uint64_t now_ns);
void exit_trace_run_end(struct exit_trace_cpu *t, uint64_t now_ns);

/* One exit with kvm_run.exit_reason `reason`. */
void exit_trace_reason(struct exit_trace_cpu *t, uint32_t reason);

/* One PIO (mmio false) or MMIO access at `addr`. */
void exit_trace_access(struct exit_trace_cpu *t, bool mmio, bool write, uint64_t addr);

/* All vCPUs together (zero it before the first exit_trace_sum_add()). */
struct exit_trace_sum {
	unsigned int ncpus;
	uint64_t runs;
	uint64_t user_ns;
	uint64_t reasons[EXIT_TRACE_REASONS];
	uint64_t overflow; /* accesses in no slot */
	unsigned int nmerged;
	struct exit_trace_slot merged[EXIT_TRACE_MERGED];
};

void exit_trace_sum_add(struct exit_trace_sum *sum, const struct exit_trace_cpu *t);

/* The table, most frequent addresses first (sorts sum->merged). Lines end
 * in "\r\n": the terminal may still be in raw mode. */
void exit_trace_print(FILE *out, struct exit_trace_sum *sum);

#endif /* VMM_EXIT_TRACE_H */
