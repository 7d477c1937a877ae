/* SPDX-License-Identifier: MIT */
/*
 * --share DIR[,tag=T][,readonly]: a host directory for the guest over
 * virtio-9p (devices/virtio/9p.c, devices/fs/).
 *
 * Unlike the other options this one looks at the file system: a missing or
 * unreadable DIR is a mistake in the command line (a typo), reported as one
 * line with the usage status (2) before anything is built, rather than as a
 * device that fails later.
 */
#include "vmm/cli.h"

#include "vmm/cli_priv.h"

#include "base/err.h"
#include "base/opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

static int parse_share_opt(const char *opt, const char *val, struct cli_share *sh, char *err,
			   size_t errlen)
{
	bool b;

	if (!strcmp(opt, "readonly") || !strcmp(opt, "ro")) {
		if (cli_parse_bool(val, &b) < 0)
			return err_set(err, errlen, -EINVAL, "--share: bad value '%s' for %s", val,
				       opt);
		sh->readonly = b;
		return 0;
	}
	if (!strcmp(opt, "tag") && val) {
		/* A mount source string: printable, no spaces (the kernel's
		 * command line splits root= at them). */
		size_t i, n = strlen(val);

		if (!n || n > CLI_MAX_SHARE_TAG)
			return err_set(err, errlen, -EINVAL,
				       "--share: tag '%s' must be 1 to %d characters", val,
				       CLI_MAX_SHARE_TAG);
		for (i = 0; i < n; i++)
			if (val[i] <= ' ' || val[i] >= 0x7f)
				return err_set(
					err, errlen, -EINVAL,
					"--share: tag '%s' has a space or a control character",
					val);
		free(sh->tag);
		sh->tag = strdup(val);
		return sh->tag ? 0 : err_set(err, errlen, -ENOMEM, "out of memory");
	}
	return err_set(err, errlen, -EINVAL, "--share: unknown option '%s' (tag=, readonly)", opt);
}

int cli_parse_share(const char *arg, unsigned int index, struct cli_share *sh, char *err,
		    size_t errlen)
{
	char *copy, *rest, *opt, *val, deftag[32];
	struct stat st;
	int ret;

	memset(sh, 0, sizeof(*sh));
	ret = cli_split_path(arg, "--share", "directory", &copy, &rest, err, errlen);
	if (ret)
		return ret;
	if (stat(copy, &st) || (S_ISDIR(st.st_mode) && access(copy, R_OK | X_OK))) {
		ret = err_set(err, errlen, -errno, "--share: %s: %s", copy, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		ret = err_set(err, errlen, -ENOTDIR, "--share: %s: not a directory", copy);
		goto out;
	}
	sh->dir = strdup(copy);
	snprintf(deftag, sizeof(deftag), "share%u", index);
	sh->tag = strdup(deftag);
	if (!sh->dir || !sh->tag) {
		ret = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	while ((opt = opts_next(&rest, &val))) {
		ret = parse_share_opt(opt, val, sh, err, errlen);
		if (ret)
			goto out;
	}
out:
	free(copy);
	if (ret)
		cli_free_share(sh);
	return ret;
}

void cli_free_share(struct cli_share *sh)
{
	free(sh->dir);
	free(sh->tag);
	memset(sh, 0, sizeof(*sh));
}

int cli_check_shares(const struct vmm_config *cfg, char *err, size_t errlen)
{
	unsigned int i, j;

	for (i = 0; i < cfg->nshares; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(cfg->shares[i].tag, cfg->shares[j].tag))
				return err_set(err, errlen, -EINVAL,
					       "--share: two shares with the tag '%s'",
					       cfg->shares[i].tag);
	return 0;
}
