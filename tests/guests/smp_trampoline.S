/* SPDX-License-Identifier: MIT */
/*
 * The application processors' entry. The BSP copies this to SMP_TRAMPOLINE
 * and sends INIT, SIPI, SIPI with vector SMP_SIPI_VECTOR; each AP then starts
 * here in real mode with CS = 0x1000, IP = 0 (Intel SDM vol. 3, 9.4.4 and
 * 10.6.1). It reads its APIC id with CPUID leaf 1 (EBX[31:24]), takes the
 * console spinlock, prints "AP <id> up", marks itself seen, counts itself
 * with a locked increment while still holding the lock (so the BSP sees the
 * count only after the line is out), releases the lock and halts with
 * interrupts off. Long mode is not needed for that.
 *
 * The code is copied, so it only uses offsets from its own start: CS, DS
 * and SS all have base SMP_TRAMPOLINE.
 */
#include "smp.h"

#define COM1 0x3f8
#define COM1_LSR (COM1 + 5)
#define LSR_THRE 0x20

	.section .rodata.trampoline, "a"
	.code16
	.globl smp_trampoline_start
	.globl smp_trampoline_end
smp_trampoline_start:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	movw	%ax, %ss
	movl	$1, %eax
	cpuid
	shrl	$24, %ebx		/* bx = initial APIC id, 0..255 */
	movw	%bx, %bp		/* kept in bp from here on */
	movw	%bx, %ax
	shlw	$SMP_STACK_SHIFT, %ax
	movw	$SMP_STACK_TOP_OFF, %sp
	subw	%ax, %sp

	/* spin_lock: xchg with memory is locked anyway; the prefix says so */
1:	movb	$1, %al
	lock xchgb %al, SMP_LOCK_OFF
	testb	%al, %al
	jz	3f
2:	pause
	cmpb	$0, SMP_LOCK_OFF
	jne	2b
	jmp	1b

3:	movw	$(msg_ap - smp_trampoline_start), %si
	call	puts16
	movw	%bp, %ax
	call	putdec16
	movw	$(msg_up - smp_trampoline_start), %si
	call	puts16
	movw	%bp, %bx
	movb	$1, SMP_SEEN_OFF(%bx)
	lock incw SMP_COUNT_OFF
	movb	$0, SMP_LOCK_OFF	/* spin_unlock: x86 stores are not reordered with earlier stores */

4:	cli
	hlt
	jmp	4b

/* Print the NUL-terminated string at ds:si. Clobbers ax, dx, si. */
puts16:
	lodsb
	testb	%al, %al
	jz	1f
	call	putc16
	jmp	puts16
1:	ret

/* Print the character in al, waiting (bounded) for THRE. Clobbers dx. */
putc16:
	pushw	%ax
	pushw	%cx
	movw	$COM1_LSR, %dx
	movw	$10000, %cx
1:	inb	%dx, %al
	testb	$LSR_THRE, %al
	jnz	2f
	loop	1b
2:	popw	%cx
	popw	%ax
	movw	$COM1, %dx
	outb	%al, %dx
	ret

/* Print ax in decimal. Clobbers ax, bx, cx, dx. */
putdec16:
	xorw	%cx, %cx
	movw	$10, %bx
1:	xorw	%dx, %dx
	divw	%bx
	pushw	%dx
	incw	%cx
	testw	%ax, %ax
	jnz	1b
2:	popw	%ax
	addb	$'0', %al
	call	putc16
	loop	2b
	ret

msg_ap:	.asciz	"AP "
msg_up:	.asciz	" up\r\n"
smp_trampoline_end:

	.section .note.GNU-stack, "", @progbits
