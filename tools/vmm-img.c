/* SPDX-License-Identifier: MIT */
/*
 * vmm-img: create, inspect, check and convert disk images for vmm.
 *
 * The command line follows qemu-img where the two overlap, so that what
 * users know carries over:
 *   vmm-img create -f qcow2 disk.qcow2 20G
 *   vmm-img create -f qcow2 -b base.qcow2 overlay.qcow2
 *   vmm-img info [--output=json] [--backing-chain] disk.qcow2
 *   vmm-img check [-r leaks|all] disk.qcow2   (exit 0 clean, 2 corrupt, 3 leaks, 1 error)
 *   vmm-img convert [-p] -O raw disk.qcow2 disk.raw
 *   vmm-img compare disk.qcow2 disk.raw       (exit 0 identical, 1 different, 2 error)
 * Every failure is one line on stderr naming the file, and exit status 1.
 * This file is the dispatch; each subcommand has its own file (img_priv.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tools/img_priv.h"

void img_usage(FILE *f)
{
	fputs("usage: vmm-img COMMAND [options]\n"
	      "\n"
	      "  create [-q] [-f FMT] [-b BACKING [-F FMT]] [-o OPTIONS] FILE [SIZE]\n"
	      "      new image; with -b and no SIZE it takes the backing file's size;\n"
	      "      -o takes qemu-img's option names (cluster_size=N for qcow2, ...)\n"
	      "  info [-f FMT] [--output=human|json] [--backing-chain] FILE\n"
	      "  check [-q] [-p] [-f FMT] [-r leaks|all] [--output=human|json] FILE\n"
	      "      exit status: 0 clean, 2 corruptions, 3 leaked clusters only,\n"
	      "      1 the check could not run, 63 the format has no checks (raw)\n"
	      "  convert [-q] [-p] [-c] [-f FMT] [-O FMT] [-o OPTIONS] SRC DST\n"
	      "      copy through the backing chain; all-zero blocks are not written\n"
	      "  compare [-q] [-p] [-s] [-f FMT] [-F FMT] IMG1 IMG2\n"
	      "      exit status: 0 identical, 1 different, 2 error\n"
	      "\n"
	      "SIZE takes a suffix k, M, G, T, P or E (powers of 1024).\n"
	      "A progress bar (-p forces it) is shown on a terminal for large images.\n"
	      "  --help, --version\n"
	      "\nFMT (qemu-img's names):",
	      f);
	for (const struct disk_format *const *fmt = disk_formats; *fmt; fmt++)
		fprintf(f, " %s%s%s%s", (*fmt)->name, (*fmt)->alias ? " (" : "",
			(*fmt)->alias ? (*fmt)->alias : "", (*fmt)->alias ? ")" : "");
	fputc('\n', f);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = { { "create", cmd_create },
		     { "info", cmd_info },
		     { "check", cmd_check },
		     { "convert", cmd_convert },
		     { "compare", cmd_compare } };

	if (argc < 2)
		return img_fail("no command given (see vmm-img --help)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		img_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("vmm-img version %s\n", VMM_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			/* getopt sees "create -f qcow2 ..." with the command
			 * as its argv[0]; opterr off: img_fail() says it once. */
			opterr = 0;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	return img_fail("unknown command '%s' (see vmm-img --help)", argv[1]);
}
