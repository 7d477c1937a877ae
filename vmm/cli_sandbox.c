/* SPDX-License-Identifier: MIT */
/* --sandbox and --landlock-rules (vmm/sandbox.h does the work). */
#include "vmm/cli.h"
#include "vmm/cli_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/opts.h"

int cli_parse_sandbox(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
{
	if (!strcmp(arg, "on"))
		cfg->sandbox = CLI_SANDBOX_ON;
	else if (!strcmp(arg, "off"))
		cfg->sandbox = CLI_SANDBOX_OFF;
	else if (!strcmp(arg, "log"))
		cfg->sandbox = CLI_SANDBOX_LOG;
	else
		return err_set(err, errlen, -EINVAL, "--sandbox: '%s' is not on, off or log", arg);
	return 0;
}

/* Cloud Hypervisor's spelling: path=P,access=r|rw (path may not hold a
 * comma; access defaults to r). */
int cli_add_landlock_rule(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
{
	struct cli_landlock_rule *r;
	char *copy, *rest, *opt;
	int ret = 0;

	if (cfg->nlandlock == CLI_MAX_LANDLOCK)
		return err_set(err, errlen, -E2BIG, "--landlock-rules: at most %d rules",
			       CLI_MAX_LANDLOCK);
	r = &cfg->landlock[cfg->nlandlock];
	copy = strdup(arg);
	if (!copy)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	rest = copy;
	while ((opt = opts_next(&rest, NULL))) {
		if (!strncmp(opt, "path=", 5) && opt[5] && !r->path) {
			r->path = strdup(opt + 5);
			if (!r->path) {
				ret = err_set(err, errlen, -ENOMEM, "out of memory");
				goto out;
			}
		} else if (!strcmp(opt, "access=r")) {
			r->write = false;
		} else if (!strcmp(opt, "access=rw")) {
			r->write = true;
		} else {
			ret = err_set(err, errlen, -EINVAL,
				      "--landlock-rules: '%s' is not path=P or access=r|rw", opt);
			goto out;
		}
	}
	if (!r->path)
		ret = err_set(err, errlen, -EINVAL, "--landlock-rules: no path= in '%s'", arg);
out:
	free(copy);
	if (ret) {
		free(r->path);
		memset(r, 0, sizeof(*r));
		return ret;
	}
	cfg->nlandlock++;
	return 0;
}
