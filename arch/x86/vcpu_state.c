/* SPDX-License-Identifier: MIT */
/*
 * Reading and writing the KVM state of vCPUs and of the VM's in-kernel
 * devices (see vcpu_state.h). Each ioctl's failure is named in the error,
 * so a host whose KVM lacks one (docs/pvm.md keeps the table for PVM) says
 * which.
 */
#include "arch/x86/vcpu_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/err.h"

/* ioctl() or a one-line error naming it */
#define STATE_IOCTL(fd, req, arg, err, errlen)                                              \
	(ioctl((fd), (req), (arg)) < 0                                                      \
		 ? err_set((err), (errlen), -errno, "%s failed: %s", #req, strerror(errno)) \
		 : 0)

int x86_msr_index_list(int kvm_fd, uint32_t *idx, uint32_t max, uint32_t *n, char *err,
		       size_t errlen)
{
	struct kvm_msr_list *list;
	int ret = 0;

	list = calloc(1, sizeof(*list) + max * sizeof(uint32_t));
	if (!list)
		return err_set(err, errlen, -ENOMEM, "out of memory for the MSR list");
	list->nmsrs = max;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		ret = err_set(err, errlen, -errno, "KVM_GET_MSR_INDEX_LIST failed: %s",
			      strerror(errno));
		goto out;
	}
	memcpy(idx, list->indices, list->nmsrs * sizeof(uint32_t));
	*n = list->nmsrs;
out:
	free(list);
	return ret;
}

int x86_vcpu_complete_io(int vcpu_fd, struct kvm_run *run)
{
	int ret;

	__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	ret = ioctl(vcpu_fd, KVM_RUN, 0);
	__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	/* EINTR is the expected answer; EAGAIN an AP still waiting for SIPI
	 * on PVM (nothing pending then) */
	if (ret < 0 && errno != EINTR && errno != EAGAIN)
		return -errno;
	return 0;
}

/* struct kvm_msrs with room for X86_STATE_MAX_MSRS entries (entries[] is a
 * flexible array member) */
static struct kvm_msrs *msrs_alloc(void)
{
	return calloc(1,
		      sizeof(struct kvm_msrs) + X86_STATE_MAX_MSRS * sizeof(struct kvm_msr_entry));
}

/* KVM_GET_MSRS reads entries in order and returns how many it read: it
 * stops at the first it refuses. Such an MSR is dropped and the rest read
 * on, so one unsupported MSR costs one extra ioctl, not the snapshot. */
static int get_msrs(int vcpu_fd, const uint32_t *idx, uint32_t n, struct x86_vcpu_state *st,
		    char *err, size_t errlen)
{
	struct kvm_msrs *buf;
	uint32_t i, done = 0;
	int got;

	if (n > X86_STATE_MAX_MSRS)
		n = X86_STATE_MAX_MSRS;
	buf = msrs_alloc();
	if (!buf)
		return err_set(err, errlen, -ENOMEM, "out of memory for the MSRs");
	st->nmsrs = 0;
	while (done < n) {
		buf->nmsrs = n - done;
		for (i = 0; i < n - done; i++)
			buf->entries[i] = (struct kvm_msr_entry){ .index = idx[done + i] };
		got = ioctl(vcpu_fd, KVM_GET_MSRS, buf);
		if (got < 0) {
			int e = errno;

			free(buf);
			return err_set(err, errlen, -e, "KVM_GET_MSRS failed: %s", strerror(e));
		}
		memcpy(&st->msrs[st->nmsrs], buf->entries, (size_t)got * sizeof(buf->entries[0]));
		st->nmsrs += (uint32_t)got;
		done += (uint32_t)got + 1; /* skip the one it refused */
	}
	free(buf);
	return 0;
}

static int set_msrs(int vcpu_fd, const struct x86_vcpu_state *st, char *err, size_t errlen)
{
	struct kvm_msrs *buf;
	int got;

	if (st->nmsrs > X86_STATE_MAX_MSRS)
		return err_set(err, errlen, -EINVAL, "%u MSRs (at most %d)", st->nmsrs,
			       X86_STATE_MAX_MSRS);
	buf = msrs_alloc();
	if (!buf)
		return err_set(err, errlen, -ENOMEM, "out of memory for the MSRs");
	buf->nmsrs = st->nmsrs;
	memcpy(buf->entries, st->msrs, st->nmsrs * sizeof(buf->entries[0]));
	got = ioctl(vcpu_fd, KVM_SET_MSRS, buf);
	free(buf);
	if (got < 0)
		return err_set(err, errlen, -errno, "KVM_SET_MSRS failed: %s", strerror(errno));
	if ((uint32_t)got < st->nmsrs)
		return err_set(err, errlen, -EINVAL, "KVM_SET_MSRS refused MSR %#x = %#llx",
			       st->msrs[got].index, (unsigned long long)st->msrs[got].data);
	return 0;
}

static int get_xsave(int vm_fd, int vcpu_fd, struct x86_vcpu_state *st, char *err, size_t errlen)
{
	int size = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	st->xsave_size = 0;
	if (size > (int)sizeof(struct kvm_xsave)) {
		/* a larger area (AMX): KVM_GET_XSAVE2 fills `size` bytes */
		if (size > X86_STATE_MAX_XSAVE)
			return err_set(err, errlen, -E2BIG, "XSAVE area of %d bytes (at most %d)",
				       size, X86_STATE_MAX_XSAVE);
		if (ioctl(vcpu_fd, KVM_GET_XSAVE2, st->xsave) < 0)
			return err_set(err, errlen, -errno, "KVM_GET_XSAVE2 failed: %s",
				       strerror(errno));
		st->xsave_size = (uint32_t)size;
		return 0;
	}
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) <= 0)
		return 0; /* the FPU state is all there is */
	_Static_assert(sizeof(struct kvm_xsave) <= X86_STATE_MAX_XSAVE, "xsave buffer");
	if (ioctl(vcpu_fd, KVM_GET_XSAVE, st->xsave) < 0)
		return err_set(err, errlen, -errno, "KVM_GET_XSAVE failed: %s", strerror(errno));
	st->xsave_size = sizeof(struct kvm_xsave);
	return 0;
}

int x86_vcpu_state_get(int vm_fd, int vcpu_fd, const uint32_t *msr_idx, uint32_t nmsr_idx,
		       struct x86_vcpu_state *st, char *err, size_t errlen)
{
	int ret, khz;

	memset(st, 0, sizeof(*st));
	if ((ret = STATE_IOCTL(vcpu_fd, KVM_GET_REGS, &st->regs, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_GET_SREGS, &st->sregs, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_GET_FPU, &st->fpu, err, errlen)) ||
	    (ret = get_xsave(vm_fd, vcpu_fd, st, err, errlen)))
		return ret;
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		ret = STATE_IOCTL(vcpu_fd, KVM_GET_XCRS, &st->xcrs, err, errlen);
		if (ret)
			return ret;
		st->has_xcrs = true;
	}
	if ((ret = get_msrs(vcpu_fd, msr_idx, nmsr_idx, st, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_GET_LAPIC, &st->lapic, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_GET_MP_STATE, &st->mp_state, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_GET_VCPU_EVENTS, &st->events, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_GET_DEBUGREGS, &st->debugregs, err, errlen)))
		return ret;
	khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	st->tsc_khz = khz > 0 ? (uint32_t)khz : 0; /* optional: only for the check */
	return 0;
}

int x86_vcpu_state_set(int vcpu_fd, const struct x86_vcpu_state *st, char *err, size_t errlen)
{
	int ret;

	if (st->xsave_size > X86_STATE_MAX_XSAVE)
		return err_set(err, errlen, -EINVAL, "XSAVE area of %u bytes", st->xsave_size);
	if ((ret = STATE_IOCTL(vcpu_fd, KVM_SET_REGS, &st->regs, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_SET_FPU, &st->fpu, err, errlen)))
		return ret;
	/* KVM_SET_XSAVE takes the size KVM_CAP_XSAVE2 gave, as GET_XSAVE2 wrote */
	if (st->xsave_size && (ret = STATE_IOCTL(vcpu_fd, KVM_SET_XSAVE, st->xsave, err, errlen)))
		return ret;
	if (st->has_xcrs && (ret = STATE_IOCTL(vcpu_fd, KVM_SET_XCRS, &st->xcrs, err, errlen)))
		return ret;
	/* sregs (APIC base: xAPIC or x2APIC) before the LAPIC, whose register
	 * layout depends on it; the LAPIC before the MSRs, because setting it
	 * resets its timer and MSR_IA32_TSC_DEADLINE re-arms a TSC-deadline
	 * timer (Firecracker's restore order; a Linux guest restored the
	 * other way round lost its timer ticks) */
	if ((ret = STATE_IOCTL(vcpu_fd, KVM_SET_SREGS, &st->sregs, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_SET_MP_STATE, &st->mp_state, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_SET_LAPIC, &st->lapic, err, errlen)) ||
	    (ret = set_msrs(vcpu_fd, st, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_SET_VCPU_EVENTS, &st->events, err, errlen)) ||
	    (ret = STATE_IOCTL(vcpu_fd, KVM_SET_DEBUGREGS, &st->debugregs, err, errlen)))
		return ret;
	return 0;
}

int x86_vm_state_get(int vm_fd, struct x86_vm_state *st, char *err, size_t errlen)
{
	int ret;

	memset(st, 0, sizeof(*st));
	st->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	st->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	st->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if ((ret = STATE_IOCTL(vm_fd, KVM_GET_IRQCHIP, &st->pic_master, err, errlen)) ||
	    (ret = STATE_IOCTL(vm_fd, KVM_GET_IRQCHIP, &st->pic_slave, err, errlen)) ||
	    (ret = STATE_IOCTL(vm_fd, KVM_GET_IRQCHIP, &st->ioapic, err, errlen)) ||
	    (ret = STATE_IOCTL(vm_fd, KVM_GET_PIT2, &st->pit, err, errlen)) ||
	    (ret = STATE_IOCTL(vm_fd, KVM_GET_CLOCK, &st->clock, err, errlen)))
		return ret;
	return 0;
}

int x86_vm_state_set(int vm_fd, const struct x86_vm_state *st, char *err, size_t errlen)
{
	struct kvm_clock_data clock = { .clock = st->clock.clock };
	int ret;

	if (st->pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
	    st->pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
	    st->ioapic.chip_id != KVM_IRQCHIP_IOAPIC)
		return err_set(err, errlen, -EINVAL, "bad irqchip ids");
	/* Only the guest's clock value: the flags and host TSC/realtime of the
	 * saving host mean nothing here (KVM_CLOCK_REALTIME would ask KVM to
	 * advance the clock by the wall-clock time since the save). */
	if ((ret = STATE_IOCTL(vm_fd, KVM_SET_IRQCHIP, &st->pic_master, err, errlen)) ||
	    (ret = STATE_IOCTL(vm_fd, KVM_SET_IRQCHIP, &st->pic_slave, err, errlen)) ||
	    (ret = STATE_IOCTL(vm_fd, KVM_SET_IRQCHIP, &st->ioapic, err, errlen)) ||
	    (ret = STATE_IOCTL(vm_fd, KVM_SET_PIT2, &st->pit, err, errlen)) ||
	    (ret = STATE_IOCTL(vm_fd, KVM_SET_CLOCK, &clock, err, errlen)))
		return ret;
	return 0;
}
