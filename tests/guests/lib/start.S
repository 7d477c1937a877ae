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
start_common:
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

/*
 * The PVH entry (Xen's x86/HVM direct boot ABI), which is how QEMU's
 * `-M microvm` starts an ELF kernel, so the same guests can run under QEMU
 * for interop tests: 32-bit protected mode, paging off, %ebx = struct
 * hvm_start_info. Identity-map 0..4G with 2 MiB pages as vmm does, enter
 * long mode, and hand the common path a zero page of our own whose
 * cmd_line_ptr is hvm_start_info.cmdline_paddr (the only field the guests
 * read that PVH provides).
 */
	.section .text.pvh, "ax"
	.code32
	.globl _start_pvh
	.type _start_pvh, @function
_start_pvh:
	cli
	cld
	movl	%ebx, %esi		/* hvm_start_info, kept to the end */
	movl	$pvh_pt, %edi		/* PML4, PDPT, 4 PDs: zero them */
	xorl	%eax, %eax
	movl	$(6 * 4096 / 4), %ecx
	rep stosl
	movl	$(pvh_pt + 0x1000 + 3), pvh_pt		/* PML4[0] -> PDPT */
	movl	$(pvh_pt + 0x2000 + 3), pvh_pt + 0x1000	/* PDPT[0..3] -> PD 0..3 */
	movl	$(pvh_pt + 0x3000 + 3), pvh_pt + 0x1008
	movl	$(pvh_pt + 0x4000 + 3), pvh_pt + 0x1010
	movl	$(pvh_pt + 0x5000 + 3), pvh_pt + 0x1018
	movl	$(pvh_pt + 0x2000), %edi
	movl	$0x83, %eax		/* present, writable, 2 MiB page */
	movl	$2048, %ecx
1:	movl	%eax, (%edi)
	addl	$0x200000, %eax
	addl	$8, %edi
	loop	1b
	movl	%cr4, %eax
	orl	$0x20, %eax		/* PAE */
	movl	%eax, %cr4
	movl	$pvh_pt, %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx	/* EFER.LME */
	rdmsr
	orl	$0x100, %eax
	wrmsr
	lgdt	pvh_gdt_ptr
	movl	%cr0, %eax
	orl	$0x80000001, %eax	/* PG, PE */
	movl	%eax, %cr0
	ljmp	$0x08, $pvh_long

	.code64
pvh_long:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	leaq	stack_top(%rip), %rsp
	movl	%esi, %esi		/* upper half undefined after the switch */
	movl	24(%rsi), %eax		/* hvm_start_info.cmdline_paddr (below 4G) */
	leaq	pvh_zero_page(%rip), %rbx
	movl	%eax, 0x228(%rbx)	/* boot_params.hdr.cmd_line_ptr */
	jmp	start_common
	.size _start_pvh, . - _start_pvh

	.section .rodata
	.balign 8
pvh_gdt:
	.quad	0
	.quad	0x00af9b000000ffff	/* 0x08: 64-bit code, accessed */
	.quad	0x00cf93000000ffff	/* 0x10: data, accessed */
pvh_gdt_ptr:
	.word	3 * 8 - 1
	.long	pvh_gdt

	/* XEN_ELFNOTE_PHYS32_ENTRY (18): where a PVH loader jumps */
	.section .note.pvh, "a", @note
	.balign 4
	.long	4			/* namesz: "Xen" */
	.long	8			/* descsz */
	.long	18
	.asciz	"Xen"
	.quad	_start_pvh

	.section .stack, "aw", @nobits
	.balign 16
	.space 16384
stack_top:
	.balign 4096
pvh_pt:
	.space 6 * 4096
pvh_zero_page:
	.space 4096

	.section .note.GNU-stack, "", @progbits
