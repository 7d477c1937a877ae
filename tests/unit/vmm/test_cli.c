/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/cli.h"

static char err[256];

#define PARSE(cfg, ...)                                                                   \
	({                                                                                \
		char *argv_[] = { "vmm", __VA_ARGS__, NULL };                             \
		cli_parse((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, (cfg), err, \
			  sizeof(err));                                                   \
	})

static void test_sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(cli_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(cli_parse_size("2g", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(cli_parse_size("64KiB", &v), 0);
	assert_int_equal(v, 64ULL << 10);
	assert_int_equal(cli_parse_size("1T", &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(cli_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cli_parse_size("1GB", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(cli_parse_size("", &v), -EINVAL);
	assert_int_equal(cli_parse_size("M", &v), -EINVAL);
	assert_int_equal(cli_parse_size("-1G", &v), -EINVAL);
	assert_int_equal(cli_parse_size("12X", &v), -EINVAL);
	assert_int_equal(cli_parse_size("1.5G", &v), -EINVAL);
	assert_int_equal(cli_parse_size("1G ", &v), -EINVAL);
	assert_int_equal(cli_parse_size("99999999999999999999", &v), -ERANGE);
	assert_int_equal(cli_parse_size("17179869184T", &v), -ERANGE);
}

static void test_disks(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--disk", "root.qcow2", "-d",
			       "data.raw,readonly,format=raw,serial=abc,cache=none,aio=threads",
			       "--disk", "x,ro=off,aio=native", "--virtio-cmdline"),
			 CLI_RUN);
	assert_int_equal(cfg.ndisks, 3);
	assert_string_equal(cfg.disks[0].path, "root.qcow2");
	assert_null(cfg.disks[0].format);
	assert_null(cfg.disks[0].serial);
	assert_false(cfg.disks[0].readonly);
	assert_false(cfg.disks[0].direct);
	assert_int_equal(cfg.disks[0].aio, CLI_AIO_AUTO);
	assert_string_equal(cfg.disks[1].path, "data.raw");
	assert_true(cfg.disks[1].readonly);
	assert_string_equal(cfg.disks[1].format, "raw");
	assert_string_equal(cfg.disks[1].serial, "abc");
	assert_true(cfg.disks[1].direct);
	assert_int_equal(cfg.disks[1].aio, CLI_AIO_THREADS);
	assert_false(cfg.disks[2].readonly);
	assert_int_equal(cfg.disks[2].aio, CLI_AIO_NATIVE);
	assert_true(cfg.virtio_cmdline);
	cli_free(&cfg);
	assert_int_equal(cfg.ndisks, 0);
}

static void test_disk_errors(void **state)
{
	static const char *const bad[][2] = {
		{ "", "no file name" },
		{ ",readonly", "no file name" },
		{ "a,format=vmdk", "bad value 'vmdk' for format" },
		{ "a,bogus", "unknown option 'bogus'" },
		{ "a,serial=123456789012345678901", "1 to 20 characters" },
		{ "a,serial=", "1 to 20 characters" },
		{ "a,cache=unsafe", "bad value 'unsafe' for cache" },
		{ "a,aio=io_uring", "bad value 'io_uring' for aio" },
		{ "a,readonly=maybe", "bad value 'maybe' for readonly" },
	};
	struct vmm_config cfg;
	unsigned int i;
	char *argv[40];
	int argc = 0;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--kernel", "k", "--disk", (char *)bad[i][0]),
				 CLI_ERROR);
		if (!strstr(err, bad[i][1]))
			fail_msg("'%s': got '%s', want '%s'", bad[i][0], err, bad[i][1]);
		assert_null(strchr(err, '\n'));
		cli_free(&cfg);
	}
	/* one more than CLI_MAX_DISKS */
	argv[argc++] = "vmm";
	argv[argc++] = "--kernel";
	argv[argc++] = "k";
	for (i = 0; i <= CLI_MAX_DISKS; i++) {
		argv[argc++] = "-d";
		argv[argc++] = "img";
	}
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, &cfg, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "at most 16 disks"));
	cli_free(&cfg);
}

static void test_defaults_and_full(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "k"), CLI_RUN);
	assert_string_equal(cfg.kernel, "k");
	assert_int_equal(cfg.mem_size, 512ULL << 20);
	assert_int_equal(cfg.cpus, 1);
	assert_string_equal(cfg.cmdline, "console=ttyS0");
	assert_null(cfg.initrd);
	assert_true(cfg.timeout_sec == 0);
	assert_int_equal(cfg.pvm, CLI_PVM_AUTO);

	assert_int_equal(PARSE(&cfg, "--kernel", "bz", "--initrd", "rd", "--cmdline", "quiet",
			       "--mem", "2G", "--cpus", "4", "--timeout", "2.5", "--console-log",
			       "log", "--reboot", "--trace-exits", "--hugepages", "--pvm=off", "-v",
			       "-v"),
			 CLI_RUN);
	assert_string_equal(cfg.initrd, "rd");
	assert_string_equal(cfg.cmdline, "quiet");
	assert_int_equal(cfg.mem_size, 2ULL << 30);
	assert_int_equal(cfg.cpus, 4);
	assert_true(cfg.timeout_sec > 2.49 && cfg.timeout_sec < 2.51);
	assert_string_equal(cfg.console_log, "log");
	assert_true(cfg.reboot && cfg.trace_exits && cfg.hugepages);
	assert_int_equal(cfg.pvm, CLI_PVM_OFF);
	assert_int_equal(cfg.verbosity, 2);
	/* short options */
	assert_int_equal(PARSE(&cfg, "-k", "k", "-m", "64M", "-p", "2", "-t", "10"), CLI_RUN);
	assert_int_equal(cfg.mem_size, 64ULL << 20);
	assert_int_equal(cfg.cpus, 2);
}

static void expect_error(enum cli_result r, const char *needle)
{
	assert_int_equal(r, CLI_ERROR);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	assert_null(strchr(err, '\n')); /* one line */
}

static void test_errors(void **state)
{
	struct vmm_config cfg;

	(void)state;
	expect_error(PARSE(&cfg, "--mem", "512M"), "no kernel");
	expect_error(PARSE(&cfg, "--kernel", "k", "--mem", "lots"), "--mem");
	expect_error(PARSE(&cfg, "--kernel", "k", "--mem", "1M"), "out of range");
	expect_error(PARSE(&cfg, "--kernel", "k", "--mem", "2T"), "out of range");
	expect_error(PARSE(&cfg, "--kernel", "k", "--mem", "16777217"), "4 KiB");
	expect_error(PARSE(&cfg, "--kernel", "k", "--cpus", "0"), "--cpus");
	expect_error(PARSE(&cfg, "--kernel", "k", "--cpus", "255"), "--cpus");
	expect_error(PARSE(&cfg, "--kernel", "k", "--cpus", "two"), "--cpus");
	expect_error(PARSE(&cfg, "--kernel", "k", "--cpus", "-1"), "--cpus");
	expect_error(PARSE(&cfg, "--kernel", "k", "--timeout", "0"), "--timeout");
	expect_error(PARSE(&cfg, "--kernel", "k", "--timeout", "-3"), "--timeout");
	expect_error(PARSE(&cfg, "--kernel", "k", "--timeout", "soon"), "--timeout");
	expect_error(PARSE(&cfg, "--kernel", "k", "--timeout", "nan"), "--timeout");
	expect_error(PARSE(&cfg, "--kernel", "k", "--pvm=maybe"), "--pvm");
	expect_error(PARSE(&cfg, "--kernel", "k", "--bogus"), "unknown option '--bogus'");
	expect_error(PARSE(&cfg, "--kernel", "k", "extra"), "unexpected argument 'extra'");
	expect_error(PARSE(&cfg, "--kernel"), "needs a value");
	expect_error(PARSE(&cfg, "--kernel", "k", "--hugepages", "--mem", "3M"), "out of range");
	expect_error(PARSE(&cfg, "--kernel", "k", "--hugepages", "--mem", "17M"), "2M");
}

static void test_help_version(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--help"), CLI_EXIT_OK);
	assert_int_equal(PARSE(&cfg, "-V"), CLI_EXIT_OK);
	assert_non_null(strstr(cli_help_text(), "--kernel"));
	assert_non_null(strstr(cli_help_text(), "Exit status"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),  cmocka_unit_test(test_defaults_and_full),
		cmocka_unit_test(test_disks),  cmocka_unit_test(test_disk_errors),
		cmocka_unit_test(test_errors), cmocka_unit_test(test_help_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
