// SPDX-License-Identifier: MIT
/* --exec: see exec.h. */
#include "vmm/exec.h"

#include "arch/x86/elf_syms.h"
#include "base/err.h"
#include "tools/exec-init/exec_args.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * What the guest must have built in for --exec, each known by a function
 * that exists only with its option (Linux 6.1): the 9p file system and its
 * virtio transport (the init cannot load modules before it has a root), and
 * ioperm(2), through which the init writes the status to the debug-exit port.
 */
static const struct {
	const char *symbol, *option;
} exec_kernel_needs[] = {
	{ "v9fs_mount", "CONFIG_9P_FS" },
	{ "p9_virtio_create", "CONFIG_NET_9P_VIRTIO" },
	{ "io_bitmap_exit", "CONFIG_X86_IOPL_IOPERM" },
};

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

static bool syms_have(const struct elf_syms *syms, const char *name)
{
	size_t i;

	for (i = 0; i < syms->nsyms; i++)
		if (!strcmp(syms->strtab + syms->syms[i].name, name))
			return true;
	return false;
}

/* An ELF kernel with symbols must have exec_kernel_needs built in; anything
 * else (a bzImage, a stripped vmlinux) passes: the init then says what is
 * missing from inside the guest. */
static int check_kernel(const char *kernel, char *err, size_t errlen)
{
	struct elf_syms syms;
	char lerr[256], missing[256] = "";
	size_t i, n = 0;

	if (elf_syms_load(&syms, kernel, lerr, sizeof(lerr)) < 0)
		return 0; /* the loader reports an unreadable kernel in its own words */
	for (i = 0; syms.nsyms && i < sizeof(exec_kernel_needs) / sizeof(exec_kernel_needs[0]);
	     i++) {
		if (syms_have(&syms, exec_kernel_needs[i].symbol))
			continue;
		n += (size_t)snprintf(missing + n, sizeof(missing) - n, "%s%s=y", n ? ", " : "",
				      exec_kernel_needs[i].option);
		if (n >= sizeof(missing))
			break;
	}
	elf_syms_free(&syms);
	if (!missing[0])
		return 0;
	return err_set(err, errlen, -ENOEXEC,
		       "--exec: kernel %s lacks what --exec needs built in: %s", kernel, missing);
}

int exec_boot_prepare(const char *cmd, const char *root_tag, unsigned int exit_port,
		      const char *kernel, struct exec_boot *eb, char *err, size_t errlen)
{
	int ret;

	memset(eb, 0, sizeof(*eb));
	ret = check_kernel(kernel, err, errlen);
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
