/* SPDX-License-Identifier: MIT */
/*
 * The vCPU state dump (see vcpu_dump.h): registers, CPU mode, MP state,
 * the local APIC's registers and the kernel symbols of RIP and of the
 * return addresses found on the stack.
 */
#include "vmm/vcpu_dump.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "base/clock.h"

#define CR0_PE		  (1ULL << 0)
#define EFER_LMA	  (1ULL << 10)
#define RFLAGS_IF	  (1ULL << 9)
#define APIC_BASE_BSP	  (1ULL << 8)
#define APIC_BASE_X2APIC  (1ULL << 10)
#define APIC_BASE_ENABLE  (1ULL << 11)
#define APIC_BASE_ADDR	  0xfffff000ULL
#define DUMP_STACK_WORDS  128 /* how far up the stack to look for return addresses */
#define DUMP_STACK_FRAMES 10
#define DUMP_CODE_BYTES	  12
#define DUMP_WAIT_NS	  (1000ULL * 1000 * 1000)

/* Local APIC registers (Intel SDM vol. 3, table 11-1): offsets in the
 * 4 KiB page, which is also the layout of struct kvm_lapic_state. */
#define APIC_ID	   0x20
#define APIC_TPR   0x80
#define APIC_LDR   0xd0
#define APIC_DFR   0xe0
#define APIC_SVR   0xf0
#define APIC_ISR   0x100
#define APIC_IRR   0x200
#define APIC_ESR   0x280
#define APIC_ICR   0x300
#define APIC_ICR2  0x310
#define APIC_LVTT  0x320
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390

const char *vcpu_dump_mode(const struct kvm_sregs *sregs)
{
	if (!(sregs->cr0 & CR0_PE))
		return "real mode";
	if (sregs->efer & EFER_LMA)
		return sregs->cs.l ? "64-bit" : "compatibility (32-bit in long mode)";
	return sregs->cs.db ? "32-bit protected" : "16-bit protected";
}

const char *vcpu_dump_mp_state(unsigned int mp_state)
{
	switch (mp_state) {
	case KVM_MP_STATE_RUNNABLE:
		return "runnable";
	case KVM_MP_STATE_UNINITIALIZED:
		return "wait-for-INIT (uninitialised)";
	case KVM_MP_STATE_INIT_RECEIVED:
		return "wait-for-SIPI (INIT received)";
	case KVM_MP_STATE_HALTED:
		return "halted";
	case KVM_MP_STATE_SIPI_RECEIVED:
		return "SIPI received";
	default:
		return "unknown MP state";
	}
}

/* Appending to a fixed buffer: the dump is cut, never overflows. */
struct dump_buf {
	char *p;
	size_t len, used;
};

__attribute__((format(printf, 2, 3))) static void put(struct dump_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->used + 1 >= b->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->used = b->used + (size_t)n < b->len ? b->used + (size_t)n : b->len - 1;
}

/* " <name+0xoff>" for an address the kernel's symbols know. */
static bool put_sym(struct dump_buf *b, const struct elf_syms *syms, uint64_t addr)
{
	uint64_t off;
	const char *name = syms ? elf_syms_lookup(syms, addr, &off) : NULL;

	if (!name)
		return false;
	put(b, " <%s+%#llx>", name, (unsigned long long)off);
	return true;
}

static uint32_t lapic_reg(const struct kvm_lapic_state *l, unsigned int off)
{
	uint32_t v;

	memcpy(&v, &l->regs[off], sizeof(v));
	return v;
}

/* The highest vector set in the 256-bit ISR or IRR, or -1. */
static int lapic_highest(const struct kvm_lapic_state *l, unsigned int base)
{
	int i;

	for (i = 7; i >= 0; i--) {
		uint32_t v = lapic_reg(l, base + (unsigned int)i * 0x10);

		if (v)
			return i * 32 + 31 - __builtin_clz(v);
	}
	return -1;
}

static void put_lapic(struct dump_buf *b, int fd, const struct kvm_sregs *sregs)
{
	struct kvm_lapic_state l;
	uint64_t base = sregs->apic_base;

	put(b, "  lapic: base %#llx (%s%s%s)", (unsigned long long)(base & APIC_BASE_ADDR),
	    !(base & APIC_BASE_ENABLE)	? "disabled"
	    : (base & APIC_BASE_X2APIC) ? "x2APIC"
					: "xAPIC",
	    base & APIC_BASE_BSP ? ", BSP" : "", "");
	if (ioctl(fd, KVM_GET_LAPIC, &l) < 0) {
		put(b, " KVM_GET_LAPIC: %s\n", strerror(errno));
		return;
	}
	/* KVM_GET_LAPIC gives the ID register in xAPIC format, the id in bits
	 * 24..31 (SDM 10.4.6), in x2APIC mode too unless KVM_CAP_X2APIC_API
	 * is enabled, which vmm does not do. Print the id itself, as the MADT
	 * and Linux name it. */
	put(b, " id %u ldr %#x dfr %#x svr %#x tpr %#x esr %#x\n", lapic_reg(&l, APIC_ID) >> 24,
	    lapic_reg(&l, APIC_LDR), lapic_reg(&l, APIC_DFR), lapic_reg(&l, APIC_SVR),
	    lapic_reg(&l, APIC_TPR), lapic_reg(&l, APIC_ESR));
	put(b, "         icr %#x:%08x isr %d irr %d timer lvt %#x tmict %u tmcct %u\n",
	    lapic_reg(&l, APIC_ICR2), lapic_reg(&l, APIC_ICR), lapic_highest(&l, APIC_ISR),
	    lapic_highest(&l, APIC_IRR), lapic_reg(&l, APIC_LVTT), lapic_reg(&l, APIC_TMICT),
	    lapic_reg(&l, APIC_TMCCT));
}

/* The words on the stack that are addresses inside known functions: the
 * return addresses of the call chain, and some stale ones (like the
 * kernel's own "?" entries in an unreliable backtrace). 64-bit mode only. */
static void put_stack(struct dump_buf *b, int fd, const struct vcpu_env *env, uint64_t rsp)
{
	struct kvm_translation tr;
	unsigned int i, found = 0;
	uint64_t word;

	if (!env->mem || !env->syms || env->syms->nsyms == 0)
		return;
	put(b, "  stack:");
	for (i = 0; i < DUMP_STACK_WORDS && found < DUMP_STACK_FRAMES; i++) {
		uint64_t va = rsp + (uint64_t)i * 8;

		memset(&tr, 0, sizeof(tr));
		tr.linear_address = va;
		/* a guest page table is guest data: a failed walk ends the scan */
		if (ioctl(fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid ||
		    gm_read(env->mem, tr.physical_address, &word, sizeof(word)) < 0)
			break;
		if (put_sym(b, env->syms, word))
			found++;
	}
	put(b, found ? "\n" : " (no kernel addresses)\n");
}

/* The instruction bytes at rip: which instruction a spinning vCPU is on. */
static void put_code(struct dump_buf *b, int fd, const struct vcpu_env *env, uint64_t linear)
{
	struct kvm_translation tr = { .linear_address = linear };
	uint8_t code[DUMP_CODE_BYTES];
	unsigned int i, n = DUMP_CODE_BYTES;

	if (!env->mem || ioctl(fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return;
	/* stop at the page end: the next page may map elsewhere */
	if (n > 0x1000 - (linear & 0xfff))
		n = 0x1000 - (unsigned int)(linear & 0xfff);
	if (gm_read(env->mem, tr.physical_address, code, n) < 0)
		return;
	put(b, "  code at rip:");
	for (i = 0; i < n; i++)
		put(b, " %02x", code[i]);
	put(b, "\n");
}

void vcpu_dump_format(struct vcpu *vcpu, char *out, size_t len)
{
	struct dump_buf b = { .p = out, .len = len };
	struct kvm_mp_state mp = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	out[0] = '\0';
	put(&b, "vCPU %u: ", vcpu->id);
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) == 0)
		put(&b, "%s, ", vcpu_dump_mp_state(mp.mp_state));
	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
		put(&b, "cannot read registers: %s\n", strerror(errno));
		return;
	}
	put(&b, "%s, rip %#llx", vcpu_dump_mode(&sregs), (unsigned long long)regs.rip);
	put_sym(&b, vcpu->env->syms, regs.rip);
	put(&b, ", rsp %#llx, rflags %#llx%s\n", (unsigned long long)regs.rsp,
	    (unsigned long long)regs.rflags, regs.rflags & RFLAGS_IF ? " (IF)" : "");
	put(&b, "  rax %#llx rbx %#llx rcx %#llx rdx %#llx rsi %#llx rdi %#llx\n",
	    (unsigned long long)regs.rax, (unsigned long long)regs.rbx,
	    (unsigned long long)regs.rcx, (unsigned long long)regs.rdx,
	    (unsigned long long)regs.rsi, (unsigned long long)regs.rdi);
	put(&b, "  cs %#x ss %#x cr0 %#llx cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx\n",
	    sregs.cs.selector, sregs.ss.selector, (unsigned long long)sregs.cr0,
	    (unsigned long long)sregs.cr2, (unsigned long long)sregs.cr3,
	    (unsigned long long)sregs.cr4, (unsigned long long)sregs.efer);
	put_code(&b, vcpu->fd, vcpu->env, sregs.cs.base + regs.rip);
	put_lapic(&b, vcpu->fd, &sregs);
	if ((sregs.efer & EFER_LMA) && sregs.cs.l)
		put_stack(&b, vcpu->fd, vcpu->env, regs.rsp);
}

void vcpu_dump_answer(struct vcpu *vcpu)
{
	/* Called after every exit: a plain load first, the locked exchange
	 * only when a dump was asked for. */
	if (!__atomic_load_n(&vcpu->dump_pending, __ATOMIC_RELAXED) ||
	    !__atomic_exchange_n(&vcpu->dump_pending, 0, __ATOMIC_ACQ_REL))
		return;
	vcpu_dump_format(vcpu, vcpu->dump_text, sizeof(vcpu->dump_text));
	__atomic_store_n(&vcpu->dump_ready, 1, __ATOMIC_RELEASE);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Each line as "vmm: ...\r\n": the terminal may be in raw mode (log.c). */
static void put_lines(FILE *out, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		fprintf(out, "vmm: %.*s\r\n", (int)n, text);
		text += n;
		if (*text == '\n')
			text++;
	}
}

void vcpu_dump_all(struct vcpu *vcpus, unsigned int n, FILE *out)
{
	uint64_t deadline = clock_monotonic_ns() + DUMP_WAIT_NS;
	unsigned int i, waiting;

	for (i = 0; i < n; i++) {
		__atomic_store_n(&vcpus[i].dump_ready, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&vcpus[i].dump_pending, 1, __ATOMIC_RELEASE);
		/* a thread that has left its loop is read below (and may have
		 * been joined: no signal to it) */
		if (__atomic_load_n(&vcpus[i].exited, __ATOMIC_ACQUIRE))
			continue;
		/* immediate_exit for a thread about to enter KVM_RUN, the signal
		 * for one inside it (as vcpu_kick does, but nothing stops) */
		__atomic_store_n(&vcpus[i].run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(vcpus[i].thread, VCPU_KICK_SIGNAL);
	}
	do {
		waiting = 0;
		for (i = 0; i < n; i++) {
			if (__atomic_load_n(&vcpus[i].dump_ready, __ATOMIC_ACQUIRE))
				continue;
			/* a thread that left its loop cannot answer; nobody
			 * runs the vCPU now, so read it from here */
			if (__atomic_load_n(&vcpus[i].exited, __ATOMIC_ACQUIRE) &&
			    __atomic_exchange_n(&vcpus[i].dump_pending, 0, __ATOMIC_ACQ_REL)) {
				vcpu_dump_format(&vcpus[i], vcpus[i].dump_text,
						 sizeof(vcpus[i].dump_text));
				__atomic_store_n(&vcpus[i].dump_ready, 1, __ATOMIC_RELEASE);
				continue;
			}
			waiting++;
		}
		if (waiting)
			sleep_ms(1);
	} while (waiting && clock_monotonic_ns() < deadline);
	for (i = 0; i < n; i++) {
		if (__atomic_load_n(&vcpus[i].dump_ready, __ATOMIC_ACQUIRE))
			put_lines(out, vcpus[i].dump_text);
		else
			fprintf(out,
				"vmm: vCPU %u: did not answer within 1 s (busy in an exit "
				"handler?)\r\n",
				i);
	}
	fflush(out);
}
