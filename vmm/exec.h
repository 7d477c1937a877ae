/* SPDX-License-Identifier: MIT */
/*
 * --exec CMD: boot the kernel with a read-only 9p root and our own init,
 * which runs CMD through /bin/sh -c and hands its exit status back through
 * the debug-exit port (tools/exec-init/: the init and the command-line
 * contract, exec_args.h).
 *
 * What vmm adds to the boot: the initramfs holding the init
 * (vmm-exec-init.cpio, built with vmm) and the command-line words
 * "rdinit=/vmm-exec-init vmm_root=TAG vmm_exit_port=N vmm_exec=<CMD encoded>".
 */
#ifndef VMM_EXEC_H
#define VMM_EXEC_H

#include <stddef.h>

/* The 9p tag of the host's / when --exec has no --share to use as root. */
#define EXEC_ROOT_TAG "vmmroot"

struct exec_boot {
	char *cmdline; /* owned: the words to append to the command line */
	char *initrd;  /* owned: path of vmm-exec-init.cpio */
};

/* Fill eb for running cmd with the 9p share `root_tag` as root; the status
 * comes back through `exit_port`. Finds the initramfs ($VMM_EXEC_INITRD,
 * else the build tree's, else the installed one). When `kernel` is an ELF
 * vmlinux with a symbol table, also checks that it has the 9p file system,
 * its virtio transport and ioperm(2) built in (a bzImage cannot be checked:
 * the init says it then). -errno with err set. */
int exec_boot_prepare(const char *cmd, const char *root_tag, unsigned int exit_port,
		      const char *kernel, struct exec_boot *eb, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The command-line words alone (no files touched; unit-tested). */
int exec_boot_cmdline(const char *cmd, const char *root_tag, unsigned int exit_port, char **out,
		      char *err, size_t errlen) __attribute__((warn_unused_result));
void exec_boot_free(struct exec_boot *eb);

#endif /* VMM_EXEC_H */
