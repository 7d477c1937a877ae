// SPDX-License-Identifier: MIT
#include "idt.h"
#include "guest.h"

/* A 64-bit interrupt gate (Intel SDM vol. 3, figure 6-8). */
struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr; /* P=1, DPL=0, type 0xe (interrupt gate): 0x8e */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

struct idt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern const uint64_t exc_stubs[EXC_COUNT];
void exception_dispatch(struct exc_frame *frame);

static struct idt_gate idt[EXC_COUNT] __attribute__((aligned(16)));
static exc_handler_fn handlers[EXC_COUNT];

void idt_init(void)
{
	struct idt_ptr p = { .limit = sizeof(idt) - 1, .base = (uint64_t)idt };
	uint16_t cs;
	unsigned int i;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (i = 0; i < EXC_COUNT; i++) {
		uint64_t a = exc_stubs[i];

		idt[i] = (struct idt_gate){
			.offset_lo = (uint16_t)a,
			.selector = cs,
			.type_attr = 0x8e,
			.offset_mid = (uint16_t)(a >> 16),
			.offset_hi = (uint32_t)(a >> 32),
		};
	}
	__asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

void idt_set_handler(unsigned int vector, exc_handler_fn fn)
{
	if (vector < EXC_COUNT)
		handlers[vector] = fn;
}

void idt_load_empty(void)
{
	struct idt_ptr p = { .limit = 0, .base = 0 };

	__asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

void exception_dispatch(struct exc_frame *f)
{
	exc_handler_fn fn = f->vector < EXC_COUNT ? handlers[f->vector] : NULL;

	if (fn && !fn(f))
		return;
	printf("unexpected exception %lu (error 0x%lx) at rip 0x%lx\n", f->vector, f->error,
	       f->rip);
	debug_exit(GS_BAD_EXCEPTION);
}
