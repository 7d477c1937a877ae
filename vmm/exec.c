// SPDX-License-Identifier: MIT
/* --exec: see exec.h. */
#include "vmm/exec.h"

#include "arch/x86/elf_syms.h"
#include "base/err.h"
#include "tools/exec-init/exec_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Functions of fs/9p (the file system) and net/9p/trans_virtio.c (its
 * virtio transport) in Linux 6.1: both must be built in, since the init
 * cannot load modules before the root is mounted. */
static const char *const exec_9p_syms[] = { "v9fs_mount", "p9_virtio_create" };

int exec_boot_cmdline(const char *cmd, const char *root_tag, unsigned int exit_port, char **out,
		      char *err, size_t errlen)
{
	size_t len = strlen(cmd) * 3 + 1;
	char *enc;
	int ret;

	*out = NULL;
	if (!cmd[0])
		return err_set(err, errlen, -EINVAL, "--exec: the command is empty");
	enc = malloc(len);
	if (!enc)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	if (exec_arg_encode(cmd, enc, len) < 0) {
		free(enc);
		return err_set(err, errlen, -EINVAL, "--exec: cannot encode the command");
	}
	ret = asprintf(out, "rdinit=/vmm-exec-init %s=%s %s=%u %s=%s", EXEC_ARG_ROOT, root_tag,
		       EXEC_ARG_EXIT_PORT, exit_port, EXEC_ARG_CMD, enc);
	free(enc);
	if (ret < 0) {
		*out = NULL;
		return err_set(err, errlen, -ENOMEM, "out of memory");
	}
	return 0;
}

static int find_initrd(char **path, char *err, size_t errlen)
{
	const char *candidates[] = { getenv("VMM_EXEC_INITRD"), VMM_EXEC_INITRD_BUILD,
				     VMM_EXEC_INITRD_INSTALL };
	size_t i;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (!candidates[i] || access(candidates[i], R_OK))
			continue;
		*path = strdup(candidates[i]);
		return *path ? 0 : err_set(err, errlen, -ENOMEM, "out of memory");
	}
	return err_set(err, errlen, -ENOENT,
		       "--exec: vmm-exec-init.cpio not found (looked in %s and %s; set "
		       "VMM_EXEC_INITRD)",
		       VMM_EXEC_INITRD_BUILD, VMM_EXEC_INITRD_INSTALL);
}

/* An ELF kernel with symbols must have 9p built in; anything else passes. */
static int check_kernel_9p(const char *kernel, char *err, size_t errlen)
{
	struct elf_syms syms;
	char lerr[256];
	size_t i, j, found = 0;

	if (elf_syms_load(&syms, kernel, lerr, sizeof(lerr)) < 0)
		return 0; /* the loader reports an unreadable kernel in its own words */
	if (syms.nsyms == 0) {
		elf_syms_free(&syms);
		return 0;
	}
	for (i = 0; i < sizeof(exec_9p_syms) / sizeof(exec_9p_syms[0]); i++)
		for (j = 0; j < syms.nsyms; j++)
			if (!strcmp(syms.strtab + syms.syms[j].name, exec_9p_syms[i])) {
				found++;
				break;
			}
	elf_syms_free(&syms);
	if (found == sizeof(exec_9p_syms) / sizeof(exec_9p_syms[0]))
		return 0;
	return err_set(err, errlen, -ENOEXEC,
		       "--exec: kernel %s has no 9p root support built in (needs CONFIG_NET_9P=y, "
		       "CONFIG_NET_9P_VIRTIO=y, CONFIG_9P_FS=y)",
		       kernel);
}

int exec_boot_prepare(const char *cmd, const char *root_tag, unsigned int exit_port,
		      const char *kernel, struct exec_boot *eb, char *err, size_t errlen)
{
	int ret;

	memset(eb, 0, sizeof(*eb));
	ret = check_kernel_9p(kernel, err, errlen);
	if (!ret)
		ret = exec_boot_cmdline(cmd, root_tag, exit_port, &eb->cmdline, err, errlen);
	if (!ret)
		ret = find_initrd(&eb->initrd, err, errlen);
	if (ret)
		exec_boot_free(eb);
	return ret;
}

void exec_boot_free(struct exec_boot *eb)
{
	free(eb->cmdline);
	free(eb->initrd);
	eb->cmdline = NULL;
	eb->initrd = NULL;
}
