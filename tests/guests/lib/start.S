/* SPDX-License-Identifier: MIT */
/*
 * Entry of every test guest. The vmm jumps here in 64-bit mode (CS=0x10,
 * DS=ES=SS=0x18, paging on, interrupts off) with rsi = the zero page. We do
 * not trust the vmm's boot stack to be large enough and move to our own,
 * zero .bss (the loader should have done it: p_memsz > p_filesz), then run
 * guest_main(zero_page) and report its return value through debug-exit.
 */
	.section .text.entry, "ax"
	.code64
	.globl _start
	.type _start, @function
_start:
	cli
	cld
	leaq	stack_top(%rip), %rsp
	movq	%rsi, %rbx		/* keep the zero page across the bss clear */

	leaq	__bss_start(%rip), %rdi
	leaq	__bss_end(%rip), %rcx
	subq	%rdi, %rcx
	xorl	%eax, %eax
	rep stosb

	movq	%rbx, %rdi
	call	guest_main
	movzbl	%al, %edi
	call	debug_exit		/* does not return */
1:	cli
	hlt
	jmp	1b
	.size _start, . - _start

	.section .stack, "aw", @nobits
	.balign 16
	.space 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
