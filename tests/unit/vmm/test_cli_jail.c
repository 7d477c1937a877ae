/* SPDX-License-Identifier: MIT */
/* --jail, --jail-user, the cgroup limits and --cpu-affinity on the command
 * line (vmm/cli_jail.c), and cgroup.c's pure helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/cgroup.h"
#include "vmm/cli.h"

static char err[256];

#define PARSE(cfg, ...)                                                                   \
	({                                                                                \
		char *argv_[] = { "vmm", "-k", "k", __VA_ARGS__, NULL };                  \
		cli_parse((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, (cfg), err, \
			  sizeof(err));                                                   \
	})

static void test_jail_and_user(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--jail"), CLI_RUN);
	assert_true(cfg.jail.jail);
	assert_false(cfg.jail.user_set);
	assert_int_equal(PARSE(&cfg, "--jail", "--jail-user", "1000:100"), CLI_RUN);
	assert_true(cfg.jail.user_set);
	assert_int_equal(cfg.jail.uid, 1000);
	assert_int_equal(cfg.jail.gid, 100);
	assert_int_equal(PARSE(&cfg, "--jail-user", "1000:100"), CLI_ERROR);
	assert_non_null(strstr(err, "--jail-user needs --jail"));
	assert_int_equal(PARSE(&cfg, "--jail", "--jail-user", "1000"), CLI_ERROR);
	assert_non_null(strstr(err, "UID:GID"));
	assert_int_equal(PARSE(&cfg, "--jail", "--jail-user", "a:b"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--jail", "--jail-user", ":1"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--jail", "--jail-user", "1:"), CLI_ERROR);
	/* -1 would mean "unchanged" to setresuid */
	assert_int_equal(PARSE(&cfg, "--jail", "--jail-user", "4294967295:1"), CLI_ERROR);
	/* libvdeplug dlopen()s its plugins, which the empty root lacks */
	assert_int_equal(PARSE(&cfg, "--jail", "--net", "vde"), CLI_ERROR);
	assert_non_null(strstr(err, "VDE"));
	assert_int_equal(PARSE(&cfg, "--net", "vde"), CLI_RUN);
}

static void test_limits(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--cpu-limit", "0.5", "--mem-limit", "256M"), CLI_RUN);
	assert_true(cfg.jail.cpu_limit > 0.49 && cfg.jail.cpu_limit < 0.51);
	assert_int_equal(cfg.jail.mem_limit, 256ULL << 20);
	assert_true(jail_config_has_limits(&cfg.jail));
	/* a limit below --mem is allowed: guest RAM is only committed when touched */
	assert_int_equal(PARSE(&cfg, "--mem", "1G", "--mem-limit", "128M"), CLI_RUN);
	assert_int_equal(PARSE(&cfg, "--cpu-limit", "0"), CLI_ERROR);
	assert_non_null(strstr(err, "--cpu-limit"));
	assert_int_equal(PARSE(&cfg, "--cpu-limit", "nan"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--cpu-limit", "-1"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--cpu-limit", "1x"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--mem-limit", "1M"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--mem-limit", "lots"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--disk", "d.img", "--io-limit", "bps=50M,iops=1000"),
			 CLI_RUN);
	assert_int_equal(cfg.jail.io_bps, 50ULL << 20);
	assert_int_equal(cfg.jail.io_iops, 1000);
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--disk", "d.img", "--io-limit", "iops=10"), CLI_RUN);
	assert_int_equal(cfg.jail.io_bps, 0);
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--io-limit", "bps=1M"), CLI_ERROR);
	assert_non_null(strstr(err, "no --disk"));
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--disk", "d", "--io-limit", "bps=0"), CLI_ERROR);
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--disk", "d", "--io-limit", "speed=1"), CLI_ERROR);
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--disk", "d", "--io-limit", "iops="), CLI_ERROR);
	cli_free(&cfg);
}

static void test_cgroup_options(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(
		PARSE(&cfg, "--cpu-limit", "1", "--cgroup-version", "2", "--cgroup-parent", "/vms"),
		CLI_RUN);
	assert_int_equal(cfg.jail.cgroup_version, JAIL_CGROUP_V2);
	assert_string_equal(cfg.jail.cgroup_parent, "/vms");
	assert_int_equal(PARSE(&cfg, "--cpu-limit", "1", "--cgroup-version", "3"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--cpu-limit", "1", "--cgroup-parent", "/a/../b"), CLI_ERROR);
	/* nothing to put in a cgroup: the option would silently do nothing */
	assert_int_equal(PARSE(&cfg, "--cgroup-version", "1"), CLI_ERROR);
	assert_non_null(strstr(err, "need a limit"));
}

static void test_affinity(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--cpus", "2", "--cpu-affinity", "0=2,1=3-4"), CLI_RUN);
	assert_int_equal(cfg.jail.naffinity, 2);
	assert_int_equal(cfg.jail.affinity[0].vcpu, 0);
	assert_true(CPU_ISSET(2, &cfg.jail.affinity[0].cpus));
	assert_int_equal(CPU_COUNT(&cfg.jail.affinity[0].cpus), 1);
	assert_int_equal(cfg.jail.affinity[1].vcpu, 1);
	assert_int_equal(CPU_COUNT(&cfg.jail.affinity[1].cpus), 2);
	assert_true(CPU_ISSET(4, &cfg.jail.affinity[1].cpus));
	assert_int_equal(PARSE(&cfg, "--cpu-affinity", "1,3-5"), CLI_RUN);
	assert_int_equal(cfg.jail.naffinity, 1);
	assert_int_equal(cfg.jail.affinity[0].vcpu, -1);
	assert_int_equal(CPU_COUNT(&cfg.jail.affinity[0].cpus), 4);
	assert_int_equal(PARSE(&cfg, "--cpu-affinity", "1=2"), CLI_ERROR);
	assert_non_null(strstr(err, "no vCPU 1"));
	assert_int_equal(PARSE(&cfg, "--cpu-affinity", "0=5-3"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--cpu-affinity", "0="), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--cpu-affinity", "0=1,"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--cpu-affinity", ""), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--cpu-affinity", "99999"), CLI_ERROR);
	assert_int_equal(PARSE(&cfg, "--cpu-affinity", "0=1,2"), CLI_ERROR);
}

static void test_cgroup_self(void **state)
{
	static const char v1[] = "9:name=systemd:/\n8:pids:/\n4:memory:/a/b\n"
				 "2:cpu,cpuacct:/c\n0::/unified\n";
	char out[64];

	(void)state;
	assert_int_equal(cgroup_parse_self(v1, "memory", out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b");
	assert_int_equal(cgroup_parse_self(v1, "cpu", out, sizeof(out)), 0);
	assert_string_equal(out, "/c");
	assert_int_equal(cgroup_parse_self(v1, "cpuacct", out, sizeof(out)), 0);
	assert_string_equal(out, "/c");
	assert_int_equal(cgroup_parse_self(v1, "", out, sizeof(out)), 0);
	assert_string_equal(out, "/unified");
	assert_int_equal(cgroup_parse_self(v1, "blkio", out, sizeof(out)), -ENOENT);
	assert_int_equal(cgroup_parse_self(v1, "cpu", out, 2), -ENAMETOOLONG);
	/* "cpu" must not match "cpuset" */
	assert_int_equal(cgroup_parse_self("3:cpuset:/x\n", "cpu", out, sizeof(out)), -ENOENT);
	assert_int_equal(cgroup_parse_self("garbage", "cpu", out, sizeof(out)), -ENOENT);
	assert_int_equal(cgroup_parse_self("0::/last", "", out, sizeof(out)), 0);
	assert_string_equal(out, "/last");
}

static void test_cgroup_values(void **state)
{
	(void)state;
	assert_int_equal(cgroup_cpu_quota_us(0.5, 100000), 50000);
	assert_int_equal(cgroup_cpu_quota_us(1.5, 100000), 150000);
	assert_int_equal(cgroup_cpu_quota_us(0.001, 100000), 1000); /* the kernel's minimum */
	assert_int_equal(cgroup_parse_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
			 3);
	assert_int_equal(cgroup_parse_oom_kills("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n"), 1);
	assert_int_equal(cgroup_parse_oom_kills("oom_kill_disable 0\nunder_oom 0\n"), 0);
	assert_int_equal(cgroup_parse_oom_kills("oom_kill 0\n"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jail_and_user),  cmocka_unit_test(test_limits),
		cmocka_unit_test(test_cgroup_options), cmocka_unit_test(test_affinity),
		cmocka_unit_test(test_cgroup_self),    cmocka_unit_test(test_cgroup_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
