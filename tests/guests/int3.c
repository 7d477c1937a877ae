// SPDX-License-Identifier: MIT
/*
 * int3: installs a #BP handler and executes `int3` (0xcc) twice. The handler
 * must see RIP just past the instruction (a trap, Intel SDM vol. 3, 6.15
 * "Interrupt 3"), and execution must continue after it. On PVM hosts the
 * vmm has to emulate this itself (advance RIP by one and inject #BP), so
 * this checks that path; elsewhere the CPU does it natively.
 */
#include "lib/guest.h"
#include "lib/idt.h"

int guest_main(uint64_t zero_page);

/* do_int3 executes one int3; after_int3 is the address right after it. */
void do_int3(void);
extern const char after_int3[];
__asm__(".text\n"
	".globl do_int3\n"
	"do_int3:\n"
	"	int3\n"
	".globl after_int3\n"
	"after_int3:\n"
	"	ret\n");

/* volatile: written by the handler, which the compiler cannot see being
 * called from guest_main. */
static volatile unsigned int bp_count;
static volatile uint64_t bp_bad_rip;

static int bp_handler(struct exc_frame *f)
{
	if (f->rip != (uint64_t)after_int3)
		bp_bad_rip = f->rip;
	bp_count = bp_count + 1;
	con_puts("breakpoint handled\n");
	return 0;
}

int guest_main(uint64_t zero_page)
{
	(void)zero_page;
	idt_init();
	idt_set_handler(EXC_BP, bp_handler);
	con_puts("int3: executing int3\n");
	do_int3();
	do_int3();
	if (bp_bad_rip) {
		printf("int3: handler saw rip 0x%lx, expected %p\n", bp_bad_rip,
		       (const void *)after_int3);
		return GS_BAD_STATE;
	}
	if (bp_count != 2) {
		printf("int3: %u breakpoints handled, expected 2\n", bp_count);
		return GS_BAD_STATE;
	}
	con_puts("int3: 2 breakpoints handled, execution continued\n");
	return GS_OK;
}
