/* SPDX-License-Identifier: MIT */
/*
 * A second opinion on the tables: ACPICA's own disassembler (iasl -d,
 * acpica-tools) must read the DSDT, FADT and MADT without errors, and the
 * disassembled DSDT must compile again. Skipped (with a reason printed)
 * when iasl is not installed; $IASL overrides the PATH lookup.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/acpi.h"
#include "fw_test.h"
#include "base/layout.h"

struct iasl_env {
	char iasl[4096];
	char dir[64];
};

static int find_iasl(char *out, size_t n)
{
	const char *env = getenv("IASL"), *path = getenv("PATH");
	char buf[4096];
	char *save = NULL, *dir;

	if (env && *env) {
		snprintf(out, n, "%s", env);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
	for (dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, n, "%s/iasl", dir);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = calloc(1, (size_t)size + 1);
		if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
			free(buf);
			buf = NULL;
		}
		if (buf && len)
			*len = (size_t)size;
	}
	fclose(f);
	return buf;
}

static void write_file(const char *dir, const char *name, const void *p, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Run iasl with `args` in the temp dir; returns its exit status and
 * leaves its output in <dir>/iasl.log. */
static int run_iasl(const struct iasl_env *e, const char *a1, const char *a2, const char *a3)
{
	char log[128];
	pid_t pid;
	int status;

	snprintf(log, sizeof(log), "%s/iasl.log", e->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || chdir(e->dir) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(e->iasl, "iasl", a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void print_log(const struct iasl_env *e)
{
	char path[128];
	char *s;

	snprintf(path, sizeof(path), "%s/iasl.log", e->dir);
	s = read_file(path, NULL);
	if (s)
		printf("---- iasl output ----\n%s\n---------------------\n", s);
	free(s);
}

/*
 * iasl reports problems on lines that start with "Error" or "Warning"; a
 * compilation ends with a summary line counting them.
 */
static void assert_log_clean(const struct iasl_env *e, int compiled)
{
	char path[128];
	char *s, *line, *save = NULL;
	int bad = 0;

	snprintf(path, sizeof(path), "%s/iasl.log", e->dir);
	s = read_file(path, NULL);
	assert_non_null(s);
	if (compiled && !strstr(s, "Compilation successful. 0 Errors, 0 Warnings"))
		bad = 1;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "Error", 5) || !strncmp(line, "Warning", 7))
			bad = 1;
	free(s);
	if (bad) {
		print_log(e);
		fail_msg("iasl reported a problem");
	}
}

static char *disassemble(const struct iasl_env *e, const char *name, const uint8_t *table)
{
	char dat[32], dsl[32], path[128];
	char *out;
	int rc;

	snprintf(dat, sizeof(dat), "%s.dat", name);
	snprintf(dsl, sizeof(dsl), "%s.dsl", name);
	write_file(e->dir, dat, table, fw_le32(table + 4));
	rc = run_iasl(e, "-d", dat, NULL);
	if (rc != 0) {
		print_log(e);
		fail_msg("iasl -d %s exited with %d", dat, rc);
	}
	assert_log_clean(e, 0);
	snprintf(path, sizeof(path), "%s/%s", e->dir, dsl);
	out = read_file(path, NULL);
	assert_non_null(out);
	/* The disassembler flags a bad checksum or field in the output
	 * ("**** Incorrect checksum, should be 0x..."). */
	if (strstr(out, "****") || strstr(out, "Incorrect")) {
		printf("%s\n", out);
		free(out);
		fail_msg("iasl -d %s found a problem in the table", dat);
	}
	return out;
}

static void cleanup_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Each test gets a fresh directory, removed by the teardown even when an
 * assertion fails (cmocka leaves the test body with a longjmp). The fake
 * guest is freed there too. */
struct iasl_state {
	struct iasl_env e;
	struct fw_fake_guest g;
};

static int iasl_setup(void **state)
{
	struct iasl_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -1;
	if (find_iasl(st->e.iasl, sizeof(st->e.iasl)) < 0) {
		free(st);
		return -1;
	}
	snprintf(st->e.dir, sizeof(st->e.dir), "/tmp/vmm-fw-iasl-XXXXXX");
	if (!mkdtemp(st->e.dir) || fw_fake_guest_init(&st->g, FW_TEST_RAM_SIZE) < 0) {
		rmdir(st->e.dir);
		free(st);
		return -1;
	}
	*state = st;
	return 0;
}

static int iasl_teardown(void **state)
{
	struct iasl_state *st = *state;

	cleanup_dir(st->e.dir);
	fw_fake_guest_destroy(&st->g);
	free(st);
	return 0;
}

/* The GED and power button as iasl disassembles them (firmware/acpi.c). */
static const char *const ged_dsl[] = {
	"\n        Device (GED)\n",
	"\"ACPI0013\"",
	"OperationRegion (GDST, SystemIO, 0x0604, One)",
	"GDAT,   8",
	"Method (_EVT, 1, Serialized)",
	"Local0 = GDAT",
	"If ((Local0 & One))",
	"Notify (\\_SB.PWRB, 0x80)",
	"\n        Device (PWRB)\n",
	"EisaId (\"PNP0C0C\")",
};

static void check_with_iasl(struct iasl_state *st, unsigned int ncpus, unsigned int ndevs)
{
	/* the GED and power button with some of the configurations only */
	struct acpi_config cfg = { .ncpus = ncpus,
				   .nmmio_devs = ndevs,
				   .ged_port = ndevs ? LAYOUT_PORT_GED : 0,
				   .ged_irq = LAYOUT_GED_IRQ };
	unsigned int ndev_ged = cfg.ged_port ? 2 : 0;
	const struct iasl_env *e = &st->e;
	struct fw_fake_guest *g = &st->g;
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
	char *dsl;
	unsigned int i;
	int rc;

	for (i = 0; i < ndevs; i++)
		cfg.mmio_devs[i] = (struct acpi_mmio_dev){
			.base = LAYOUT_VIRTIO_MMIO_START + i * LAYOUT_VIRTIO_MMIO_SIZE,
			.size = LAYOUT_VIRTIO_MMIO_SIZE,
			.irq = LAYOUT_VIRTIO_IRQ_BASE +
			       i % (LAYOUT_IOAPIC_PINS - LAYOUT_VIRTIO_IRQ_BASE),
		};
	assert_int_equal(acpi_write_tables(&g->gm, LAYOUT_ACPI_START, LAYOUT_ACPI_END, &cfg), 0);
	rsdp = g->ram + LAYOUT_ACPI_START;
	xsdt = g->ram + fw_le64(rsdp + 24);
	fadt = g->ram + fw_le64(xsdt + 36);
	madt = g->ram + fw_le64(xsdt + 44);
	dsdt = g->ram + fw_le64(fadt + 140);
	assert_memory_equal(fadt, "FACP", 4);
	assert_memory_equal(madt, "APIC", 4);
	assert_memory_equal(dsdt, "DSDT", 4);

	dsl = disassemble(e, "dsdt", dsdt);
	assert_non_null(strstr(dsl, "DefinitionBlock"));
	assert_non_null(strstr(dsl, "PNP0501"));
	assert_non_null(strstr(dsl, "QEMU0001"));
	assert_non_null(strstr(dsl, "_S5_"));
	if (ndevs) {
		assert_non_null(strstr(dsl, "LNRO0005"));
		assert_non_null(strstr(dsl, "Memory32Fixed (ReadWrite"));
		assert_non_null(
			strstr(dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"));
	} else {
		assert_null(strstr(dsl, "LNRO0005"));
	}
	/* The nesting shows that every PkgLength is right: an object that is
	 * too long swallows its siblings, one too short ends early. */
	assert_non_null(strstr(dsl, "\n    Scope (\\_SB)\n"));
	assert_non_null(strstr(dsl, "\n        Device (COM1)\n"));
	assert_non_null(strstr(dsl, "\n        Device (PEVT)\n"));
	assert_non_null(strstr(dsl, "\n    Name (\\_S5, Package (0x04)"));
	for (i = 0; i < ndevs; i++) {
		char want[64];

		snprintf(want, sizeof(want), "\n        Device (VR%02X)\n", i);
		assert_non_null(strstr(dsl, want));
	}
	for (i = 0; cfg.ged_port && i < sizeof(ged_dsl) / sizeof(ged_dsl[0]); i++)
		if (!strstr(dsl, ged_dsl[i]))
			fail_msg("the DSDT lacks the GED's %s", ged_dsl[i]);
	assert_int_equal(fw_count((const uint8_t *)dsl, strlen(dsl), "Device (", 8),
			 2 + ndevs + ndev_ged);
	free(dsl);
	/* The disassembly compiles back to AML without errors or warnings. */
	rc = run_iasl(e, "-p", "recompiled", "dsdt.dsl");
	if (rc != 0) {
		print_log(e);
		fail_msg("iasl could not recompile the disassembled DSDT (%d)", rc);
	}
	assert_log_clean(e, 1);

	dsl = disassemble(e, "facp", fadt);
	assert_non_null(strstr(dsl, "Hardware Reduced (V5) : 1"));
	assert_non_null(strstr(dsl, "Reset Register Supported (V2) : 1"));
	assert_non_null(strstr(dsl, "Sleep Control Register"));
	assert_non_null(strstr(dsl, "Address : 0000000000000600"));
	assert_non_null(strstr(dsl, "Address : 0000000000000601"));
	assert_non_null(strstr(dsl, "Address : 0000000000000602"));
	free(dsl);

	dsl = disassemble(e, "apic", madt);
	assert_non_null(strstr(dsl, "Processor Local APIC"));
	assert_non_null(strstr(dsl, "Interrupt Source Override"));
	assert_non_null(strstr(dsl, "Local APIC NMI"));
	free(dsl);
}

static void test_iasl_no_devices(void **state)
{
	check_with_iasl(*state, 1, 0);
}

static void test_iasl_three_devices(void **state)
{
	check_with_iasl(*state, 2, 3);
}

static void test_iasl_many(void **state)
{
	check_with_iasl(*state, ACPI_MAX_CPUS, ACPI_MAX_MMIO_DEVS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_iasl_no_devices, iasl_setup, iasl_teardown),
		cmocka_unit_test_setup_teardown(test_iasl_three_devices, iasl_setup, iasl_teardown),
		cmocka_unit_test_setup_teardown(test_iasl_many, iasl_setup, iasl_teardown),
	};

	char iasl[4096];

	/* 77: meson's "skipped" exit status, so that a missing iasl shows. */
	if (find_iasl(iasl, sizeof(iasl)) < 0) {
		printf("SKIP: iasl not found in $IASL or $PATH (Debian: apt-get install "
		       "acpica-tools)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
