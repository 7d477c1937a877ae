/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allowlists, one set of plain tables per thread kind
 * (base/thread_hook.h). A feature that needs a system call or an ioctl on
 * one thread adds ONE LINE to that thread's table here, with a comment
 * naming the feature -- later a QMP control socket (main), snapshot save
 * (main, vcpu), virtio-9p workers (a new kind with a table of its own).
 *
 * How the lists were found: strace -f of the guests, cli and linux suites,
 * then the suites run with the sandbox on (a missing call ends vmm with
 * "vmm: sandbox: <kind> thread made a forbidden system call: <name>").
 * ioctl is allowed only for the request numbers listed.
 */
#include "vmm/sandbox_priv.h"

#include <asm/termbits.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every thread: memory, locks, signals, time, logging to stderr, exit. */
static const int common_calls[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(futex),
	SCMP_SYS(madvise),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mprotect),
	SCMP_SYS(mremap),
	SCMP_SYS(brk),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(gettid),
	SCMP_SYS(getpid),
	SCMP_SYS(tgkill),
	SCMP_SYS(sched_yield),
	SCMP_SYS(getrandom),
};

/* vCPU threads: KVM_RUN, and what the device models do on a register
 * access (a virtio device activated or reset from the guest's MMIO write:
 * event-loop registration, backend set-up, a disk drained). */
static const int vcpu_calls[] = {
	SCMP_SYS(epoll_ctl),	   SCMP_SYS(pread64),	SCMP_SYS(pwrite64),
	SCMP_SYS(preadv),	   SCMP_SYS(pwritev),	SCMP_SYS(preadv2),
	SCMP_SYS(pwritev2),	   SCMP_SYS(fdatasync), SCMP_SYS(fsync),
	SCMP_SYS(fallocate),	   SCMP_SYS(io_submit), SCMP_SYS(io_getevents),
	SCMP_SYS(io_cancel),	   SCMP_SYS(sendto),	SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom),	   SCMP_SYS(recvmsg),	SCMP_SYS(poll),
	SCMP_SYS(ppoll),	   SCMP_SYS(close),	SCMP_SYS(fcntl),
	SCMP_SYS(timerfd_settime),
};

/* The state a vCPU dump reads (vcpu_dump.c), by the vCPU itself or, once it
 * has left its loop, by the main thread. */
static const unsigned long dump_ioctls[] = {
	KVM_GET_REGS,  KVM_GET_SREGS,	    KVM_GET_FPU,  KVM_GET_LAPIC,     KVM_GET_MP_STATE,
	KVM_TRANSLATE, KVM_GET_VCPU_EVENTS, KVM_GET_MSRS, KVM_GET_DEBUGREGS,
};

static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,
	/* arch/x86/pvm.c: int3/fwait emulation moves RIP, injects #BP */
	KVM_SET_REGS,
	KVM_SET_SREGS,
	KVM_SET_VCPU_EVENTS,
};

/* What the device models do on the vCPU threads (a register access) and on
 * the main thread (a queue kick, the UART's input, teardown): interrupt
 * lines, irqfd/ioeventfd wiring, a tap NIC's offloads as the guest's driver
 * negotiates them, discard on a raw block device. */
static const unsigned long device_ioctls[] = {
	KVM_IRQ_LINE,	 KVM_IRQ_LINE_STATUS, KVM_IRQFD,       KVM_IOEVENTFD, TUNSETOFFLOAD,
	TUNSETVNETHDRSZ, TUNSETVNETLE,	      TUNGETVNETHDRSZ, BLKDISCARD,    BLKZEROOUT,
};

/* The main thread's event loop: every fd it polls (virtqueue kicks, disk
 * completions, slirp's and the socket backends' sockets, the tap fd, stdin,
 * the signalfd and timerfd), and the teardown after the loop. */
static const int main_calls[] = {
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(close),
	SCMP_SYS(fcntl),
	SCMP_SYS(dup),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(preadv),
	SCMP_SYS(pwritev),
	SCMP_SYS(preadv2),
	SCMP_SYS(pwritev2),
	SCMP_SYS(lseek),
	SCMP_SYS(fdatasync),
	SCMP_SYS(fsync),
	SCMP_SYS(fallocate),
	/* image formats growing their file ahead of allocations (VMDK, VHD,
	 * VHDX, VDI, QED: ftruncate, then fdatasync) */
	SCMP_SYS(ftruncate),
	/* QMP migrate: the snapshot written as PATH.tmp, then renamed */
	SCMP_SYS(rename),
	SCMP_SYS(renameat),
	SCMP_SYS(renameat2),
	SCMP_SYS(io_submit),
	SCMP_SYS(io_getevents),
	SCMP_SYS(io_cancel),
	SCMP_SYS(io_destroy),
	SCMP_SYS(timerfd_settime),
	SCMP_SYS(mincore),
	SCMP_SYS(sysinfo),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(statx),
	/* the vCPU dump's symbols (read at the first dump) and the peak RSS
	 * (/proc/self/status) at exit: Landlock limits which files */
	SCMP_SYS(openat),
	/* slirp (host sockets for the guest's connections), hostfwd, the
	 * stream/dgram backends, VDE */
	SCMP_SYS(socket),
	SCMP_SYS(connect),
	SCMP_SYS(accept),
	SCMP_SYS(accept4),
	SCMP_SYS(bind),
	SCMP_SYS(listen),
	SCMP_SYS(shutdown),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt),
	SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendmmsg),
	SCMP_SYS(recvmmsg),
	SCMP_SYS(unlink),
	/* the socket backends' reconnect timers */
	SCMP_SYS(timerfd_create),
};

static const unsigned long main_ioctls[] = {
	/* the console (term.c): raw mode on and off, window size */
	TCGETS,
	TCSETS,
	TCSETSW,
	TCSETSF,
	TIOCGWINSZ,
	/* non-blocking sockets (slirp's ioctlsocket), bytes pending */
	FIONBIO,
	FIONREAD,
	/* QMP migrate: the snapshot reads the paused VM's state (the vCPUs'
	 * registers are dump_ioctls), after a KVM_RUN with immediate_exit set
	 * completes a vCPU's pending I/O (it returns at once, runs no guest) */
	KVM_RUN,
	KVM_CHECK_EXTENSION,
	KVM_GET_MSR_INDEX_LIST,
	KVM_GET_XSAVE,
	KVM_GET_XSAVE2,
	KVM_GET_XCRS,
	KVM_GET_TSC_KHZ,
	KVM_GET_IRQCHIP,
	KVM_GET_PIT2,
	KVM_GET_CLOCK,
};

/* Disk I/O pool threads (devices/disk/io_engine.c). */
static const int disk_io_calls[] = {
	SCMP_SYS(pread64),   SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev),   SCMP_SYS(preadv2),	 SCMP_SYS(pwritev2),
	SCMP_SYS(fdatasync), SCMP_SYS(fsync),	 SCMP_SYS(fallocate),
};

static const unsigned long disk_io_ioctls[] = {
	BLKDISCARD,
	BLKZEROOUT,
};

/* virtio-9p workers (devices/virtio/9p.c, devices/fs/): every call is on a
 * file or directory beneath a share (Landlock limits where); no network,
 * no process calls, no ioctl. 452 is fchmodat2 (Linux 6.6), newer than
 * libseccomp 2.5.4's table. */
static const int fs_io_calls[] = {
	SCMP_SYS(openat),
	SCMP_SYS(openat2),
	SCMP_SYS(close),
	SCMP_SYS(newfstatat),
	SCMP_SYS(fstat),
	SCMP_SYS(statx),
	SCMP_SYS(fstatfs),
	SCMP_SYS(getdents64),
	SCMP_SYS(lseek),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(preadv),
	SCMP_SYS(pwritev),
	SCMP_SYS(ftruncate),
	SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat),
	452,
	SCMP_SYS(fchown),
	SCMP_SYS(fchownat),
	SCMP_SYS(utimensat),
	SCMP_SYS(mkdirat),
	SCMP_SYS(mknodat),
	SCMP_SYS(symlinkat),
	SCMP_SYS(linkat),
	SCMP_SYS(renameat),
	SCMP_SYS(renameat2),
	SCMP_SYS(unlinkat),
	SCMP_SYS(readlinkat),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(fallocate),
	SCMP_SYS(fcntl),
	SCMP_SYS(flock),
	SCMP_SYS(dup),
	SCMP_SYS(fgetxattr),
	SCMP_SYS(flistxattr),
	SCMP_SYS(lgetxattr),
	SCMP_SYS(llistxattr),
};

/*
 * With --reboot the main thread builds the next VM after its filter is in
 * place, and every thread it starts inherits that filter (filters stack:
 * the strictest wins). So the main thread then also allows what
 * vm_create() and a thread's start need, and any ioctl; the vCPU and disk
 * threads still install their own narrow lists.
 */
static const int create_calls[] = {
	SCMP_SYS(open),
	SCMP_SYS(openat),
	SCMP_SYS(readlink),
	SCMP_SYS(access),
	SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),
	SCMP_SYS(clone),
	SCMP_SYS(clone3),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(prctl),
	SCMP_SYS(capget),
	SCMP_SYS(capset),
	SCMP_SYS(seccomp),
	SCMP_SYS(eventfd2),
	SCMP_SYS(epoll_create1),
	SCMP_SYS(signalfd4),
	SCMP_SYS(io_setup),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(ftruncate),
	SCMP_SYS(flock),
	SCMP_SYS(memfd_create),
	SCMP_SYS(uname),
	SCMP_SYS(getuid),
	SCMP_SYS(geteuid),
};

/* ASan/UBSan and LeakSanitizer (its leak check at exit stops the world
 * with a ptrace()d helper thread): only in a sanitized build. */
static const int sanitizer_calls[] = {
	SCMP_SYS(clone),
	SCMP_SYS(clone3),
	SCMP_SYS(ptrace),
	SCMP_SYS(wait4),
	SCMP_SYS(prctl),
	SCMP_SYS(openat),
	SCMP_SYS(readlink),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(getppid),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(close),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(pipe2),
	SCMP_SYS(dup2),
	SCMP_SYS(lseek),
	SCMP_SYS(getrlimit),
	SCMP_SYS(prlimit64),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(kill),
	/* LSan's thread lister: raw open() and getdents() of /proc/PID/task */
	SCMP_SYS(open),
	SCMP_SYS(getdents),
	SCMP_SYS(getdents64),
};

#define TABLE(a)        \
	{               \
		a, N(a) \
	}
#define NONE            \
	{               \
		NULL, 0 \
	}

const struct sandbox_list sandbox_lists[THREAD_KIND_COUNT] = {
	[THREAD_KIND_MAIN] = { .calls = TABLE(main_calls),
			       .ioctls = { TABLE(main_ioctls), TABLE(dump_ioctls),
					   TABLE(device_ioctls) } },
	[THREAD_KIND_VCPU] = { .calls = TABLE(vcpu_calls),
			       .ioctls = { TABLE(vcpu_ioctls), TABLE(dump_ioctls),
					   TABLE(device_ioctls) } },
	[THREAD_KIND_DISK_IO] = { .calls = TABLE(disk_io_calls),
				  .ioctls = { TABLE(disk_io_ioctls), NONE, NONE } },
	[THREAD_KIND_FS_IO] = { .calls = TABLE(fs_io_calls), .ioctls = { NONE, NONE, NONE } },
};

const struct sandbox_calls sandbox_common_calls = TABLE(common_calls);
const struct sandbox_calls sandbox_create_calls = TABLE(create_calls);
const struct sandbox_calls sandbox_sanitizer_calls = TABLE(sanitizer_calls);
