/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the snapshot loader's parse step
 * (vmm/snapshot_fmt.c): the input is the state part of a snapshot file (a
 * DTB). Whatever parses must hold values in range (the devices check their
 * own registers when they load them), and must build into a
 * tree that parses again to the same state (the round trip `vmm
 * --incoming` then a new save makes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_state(const struct snapshot_state *s)
{
	unsigned int i;

	if (s->version != SNAPSHOT_VERSION || s->ncpus < 1 || s->ncpus > SNAPSHOT_MAX_CPUS ||
	    s->argc < 1 || s->argv[s->argc] != NULL || s->nregions < 1 ||
	    s->nregions > GM_MAX_REGIONS)
		abort();
	for (i = 0; i < s->nregions; i++)
		if ((s->regions[i].offset | s->regions[i].size) & (SNAPSHOT_PAGE - 1))
			abort();
	for (i = 0; i < s->ncpus; i++)
		if (s->cpus[i].nmsrs > X86_STATE_MAX_MSRS ||
		    s->cpus[i].xsave_size > X86_STATE_MAX_XSAVE)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot_state s, again;
	char err[256];
	size_t len;
	void *dtb;
	int i;

	if (snapshot_parse(data, size, &s, err, sizeof(err)) < 0) {
		snapshot_state_free(&s);
		return 0;
	}
	check_state(&s);
	if (snapshot_build(&s, &dtb, &len, err, sizeof(err)) < 0)
		abort();
	if (snapshot_parse(dtb, len, &again, err, sizeof(err)) < 0)
		abort();
	if (again.ncpus != s.ncpus || again.argc != s.argc || again.nregions != s.nregions ||
	    memcmp(again.regions, s.regions, sizeof(s.regions)) ||
	    memcmp(&again.serial, &s.serial, sizeof(s.serial)) ||
	    memcmp(&again.cpus[0].regs, &s.cpus[0].regs, sizeof(s.cpus[0].regs)) ||
	    memcmp(&again.model, &s.model, sizeof(s.model)) ||
	    again.cpus[0].nmsrs != s.cpus[0].nmsrs)
		abort();
	for (i = 0; i < s.argc; i++)
		if (strcmp(again.argv[i], s.argv[i]))
			abort();
	free(dtb);
	snapshot_state_free(&again);
	snapshot_state_free(&s);
	return 0;
}
