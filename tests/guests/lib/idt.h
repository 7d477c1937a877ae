/* SPDX-License-Identifier: MIT */
/*
 * A 64-bit IDT for the exception vectors 0..31 (Intel SDM vol. 3, 6.14).
 * Every vector goes through one entry stub (vectors.S) into
 * exception_dispatch(), which calls the handler registered for the vector;
 * a vector without a handler, or a handler that returns nonzero, prints
 * the exception and ends the VM with GS_BAD_EXCEPTION.
 */
#ifndef GUEST_IDT_H
#define GUEST_IDT_H

#include <stdint.h>

#define EXC_UD	  6
#define EXC_BP	  3
#define EXC_NM	  7
#define EXC_COUNT 32

/* What the entry stub leaves on the stack, lowest address first. */
struct exc_frame {
	uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t vector;
	uint64_t error; /* 0 for vectors without an error code */
	/* pushed by the CPU */
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Return 0 to resume at frame->rip (which the handler may change). */
typedef int (*exc_handler_fn)(struct exc_frame *frame);

/* Build the IDT (interrupt gates on the current CS) and load it. */
void idt_init(void);
void idt_set_handler(unsigned int vector, exc_handler_fn fn);

/* Load an IDT with limit 0: any exception then escalates to a triple fault. */
void idt_load_empty(void);

#endif /* GUEST_IDT_H */
