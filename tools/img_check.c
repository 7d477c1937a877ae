/* SPDX-License-Identifier: MIT */
/*
 * vmm-img check [-q] [-p] [-f FMT] [-r leaks|all] [--output=human|json] FILE
 *
 * Exit status as qemu-img's: 0 clean, 2 corruptions, 3 leaked clusters only,
 * 1 the check could not run, 63 the format has no checks (raw).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/img_priv.h"
#include "tools/progress.h"

#define MAX_REPORTED	       100 /* problem lines `check` prints before summarising */
#define EXIT_CHECK_UNSUPPORTED 63  /* qemu-img's status for "format has no checks" */

/* check: problem lines go to stdout (progress bar hidden first), capped. */
struct check_ui {
	struct progress bar;
	bool quiet;
	unsigned int reported;
};

static void check_report(void *opaque, const char *line)
{
	struct check_ui *ui = opaque;

	if (ui->quiet || ui->reported++ > MAX_REPORTED)
		return;
	progress_hide(&ui->bar);
	if (ui->reported > MAX_REPORTED)
		puts("(more problems not listed)");
	else
		puts(line);
	fflush(stdout);
}

static void check_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct check_ui *ui = opaque;

	progress_update(&ui->bar, done, total);
}

static void check_print(const char *path, const struct disk_format *fmt,
			const struct disk_check_result *r, bool json)
{
	if (json) {
		printf("{\n    \"filename\": ");
		img_json_str(path);
		printf(",\n    \"format\": \"%s\",\n    \"check-errors\": %llu"
		       ",\n    \"corruptions\": %llu,\n    \"leaks\": %llu"
		       ",\n    \"corruptions-fixed\": %llu,\n    \"leaks-fixed\": %llu"
		       ",\n    \"allocated-clusters\": %llu,\n    \"total-clusters\": %llu"
		       ",\n    \"image-end-offset\": %llu\n}\n",
		       fmt->name, (unsigned long long)r->check_errors,
		       (unsigned long long)r->corruptions, (unsigned long long)r->leaks,
		       (unsigned long long)r->corruptions_fixed, (unsigned long long)r->leaks_fixed,
		       (unsigned long long)r->allocated_clusters,
		       (unsigned long long)r->total_clusters,
		       (unsigned long long)r->image_end_offset);
		return;
	}
	if (!r->corruptions && !r->leaks)
		printf("No errors were found on the image.\n");
	if (r->corruptions)
		printf("\n%llu errors were found on the image.\n"
		       "Data may be corrupted, or further writes to the image may corrupt it.\n",
		       (unsigned long long)r->corruptions);
	if (r->leaks)
		printf("\n%llu leaked clusters were found on the image.\n"
		       "This means waste of disk space, but no harm to data.\n",
		       (unsigned long long)r->leaks);
	printf("%llu/%llu = %.2f%% allocated\nImage end offset: %llu\n",
	       (unsigned long long)r->allocated_clusters, (unsigned long long)r->total_clusters,
	       r->total_clusters ? 100.0 * (double)r->allocated_clusters / (double)r->total_clusters
				 : 0.0,
	       (unsigned long long)r->image_end_offset);
}

/* One pass of the checker with the progress bar; 0, or 1 after img_fail(). */
static int check_run(const char *path, const struct disk_format *fmt,
		     const struct disk_check_opts *o, struct disk_check_result *r,
		     struct check_ui *ui)
{
	char err[ERRLEN];

	memset(r, 0, sizeof(*r));
	if (fmt->check(path, o, r, err, sizeof(err)) < 0) {
		progress_hide(&ui->bar);
		return img_fail("%s", err);
	}
	progress_finish(&ui->bar);
	return 0;
}

int cmd_check(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'J' },
		{ "repair", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct disk_check_opts o = { .repair = DISK_REPAIR_NONE,
				     .report = check_report,
				     .progress = check_progress };
	const char *fmtname = NULL, *path;
	const struct disk_format *fmt;
	struct stat st;
	struct disk_check_result r;
	struct check_ui ui = { 0 };
	bool json = false, force = false;
	char err[ERRLEN];
	int c;

	while ((c = getopt_long(argc, argv, "+qpf:r:h", lopts, NULL)) != -1) {
		if (c == 'f' && img_valid_format(optarg))
			fmtname = optarg;
		else if (c == 'J' && img_output_json(optarg, &json))
			continue;
		else if (c == 'r' && (!strcmp(optarg, "leaks") || !strcmp(optarg, "all")))
			o.repair = optarg[0] == 'l' ? DISK_REPAIR_LEAKS : DISK_REPAIR_ALL;
		else if (c == 'q')
			ui.quiet = true;
		else if (c == 'p')
			force = true;
		else if (c == 'h')
			return img_usage(stdout), 0;
		else
			return img_fail("check: bad option (see vmm-img --help)");
	}
	if (optind != argc - 1)
		return img_fail("check: expected one image file");
	path = argv[optind];
	/* By its first bytes only: a damaged image must still be checkable. */
	if (disk_probe_file(path, fmtname, &fmt, err, sizeof(err)) < 0)
		return img_fail("%s", err);
	if (!fmt->check) {
		img_fail("%s: format %s does not support checks", path, fmt->name);
		return EXIT_CHECK_UNSUPPORTED;
	}
	ui.quiet |= json;
	progress_init(&ui.bar, progress_wanted(force, stat(path, &st) ? 0 : (uint64_t)st.st_size));
	o.opaque = &ui;
	if (check_run(path, fmt, &o, &r, &ui))
		return 1;
	if (r.leaks_fixed || r.corruptions_fixed) {
		if (!json)
			printf("The following inconsistencies were found and repaired:\n\n"
			       "    %llu leaked clusters\n    %llu corruptions\n\n"
			       "Double checking the fixed image now...\n",
			       (unsigned long long)r.leaks_fixed,
			       (unsigned long long)r.corruptions_fixed);
		o.repair = DISK_REPAIR_NONE;
		ui.reported = 0;
		if (check_run(path, fmt, &o, &r, &ui))
			return 1;
	}
	if (!ui.quiet || json)
		check_print(path, fmt, &r, json);
	return r.corruptions ? 2 : r.leaks ? 3 : 0;
}
