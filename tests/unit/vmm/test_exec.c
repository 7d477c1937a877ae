/* SPDX-License-Identifier: MIT */
/* --exec: the command-line contract with the guest init (exec_args.c, both
 * directions), the init's exit-status mapping on real child processes, and
 * what vmm adds to the boot (vmm/exec.c). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/exec-init/exec_args.h"
#include "vmm/cli.h"
#include "vmm/exec.h"

static char err[256];

/* What the kernel does to its command line before init sees a word: split
 * at spaces, outside double quotes, which it strips. An encoded value must
 * come through that as one word, unchanged. */
static int survives_kernel_split(const char *enc)
{
	for (; *enc; enc++)
		if (*enc == ' ' || *enc == '"' || *enc == '\t' || *enc == '\n' || *enc == '=')
			return 0;
	return 1;
}

static void round_trip(const char *cmd)
{
	char enc[4096], dec[4096];
	long n = exec_arg_encode(cmd, enc, sizeof(enc));

	assert_true(n >= 0);
	assert_int_equal((size_t)n, strlen(enc));
	assert_true(survives_kernel_split(enc));
	strcpy(dec, enc);
	assert_int_equal(exec_arg_decode(dec), 0);
	assert_string_equal(dec, cmd);
}

static void test_encode_round_trip(void **state)
{
	char all[256];
	int i;

	(void)state;
	round_trip("uname -r");
	round_trip("echo \"a  b\" 'c' $HOME; exit 3 # 100% = done\n\ttab");
	round_trip("printf '\\xc3\\xa9t\\xc3\\xa9'; ls /usr/bin/ | wc -l");
	round_trip("");
	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	round_trip(all);
}

static void test_encode_limits(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(exec_arg_encode("abcdefg", out, sizeof(out)), 7);
	assert_int_equal(exec_arg_encode("abcdefgh", out, sizeof(out)), -1);
	assert_int_equal(exec_arg_encode("a b", out, 4), -1); /* "a%20b" needs 6 */
	assert_int_equal(exec_arg_encode("a b", out, 6), 5);
	assert_string_equal(out, "a%20b");
}

static void test_decode_errors(void **state)
{
	const char *bad[] = { "%", "%4", "a%zz", "%g0", "%00", "x%0" };
	char buf[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(buf, bad[i]);
		assert_int_equal(exec_arg_decode(buf), -1);
	}
	strcpy(buf, "%41%62c");
	assert_int_equal(exec_arg_decode(buf), 0);
	assert_string_equal(buf, "Abc");
}

static void test_env_and_port(void **state)
{
	char *envp[] = { "HOME=/",	 "vmm_exec_x=no",      "vmm_exe=no",
			 "vmm_exec=yes", "vmm_exit_port=1281", NULL };
	unsigned int port = 0;

	(void)state;
	assert_string_equal(exec_env_get(envp, "vmm_exec"), "yes");
	assert_string_equal(exec_env_get(envp, "HOME"), "/");
	assert_null(exec_env_get(envp, "vmm_root"));
	assert_null(exec_env_get(NULL, "vmm_root"));
	assert_int_equal(exec_parse_port(exec_env_get(envp, "vmm_exit_port"), &port), 0);
	assert_int_equal(port, 1281);
	assert_int_equal(exec_parse_port("65535", &port), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(exec_parse_port("0", &port), -1);
	assert_int_equal(exec_parse_port("65536", &port), -1);
	assert_int_equal(exec_parse_port("99999999999999999999", &port), -1);
	assert_int_equal(exec_parse_port("12a", &port), -1);
	assert_int_equal(exec_parse_port("", &port), -1);
	assert_int_equal(exec_parse_port(NULL, &port), -1);
}

/* The status the init reports for a real child, as a shell would. */
static int status_of_child(int code, int sig)
{
	int wstatus;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (sig)
			raise(sig);
		_exit(code);
	}
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	return exec_status_from_wait(wstatus);
}

static void test_status_from_wait(void **state)
{
	(void)state;
	assert_int_equal(status_of_child(0, 0), 0);
	assert_int_equal(status_of_child(42, 0), 42);
	assert_int_equal(status_of_child(255, 0), 255);
	assert_int_equal(status_of_child(0, SIGKILL), 128 + SIGKILL);
	assert_int_equal(status_of_child(0, SIGTERM), 128 + SIGTERM);
}

static void test_boot_cmdline(void **state)
{
	char *cl = NULL, *w, *save = NULL;
	int found = 0;

	(void)state;
	assert_int_equal(exec_boot_cmdline("echo \"hi there\"; exit 3", "vmmroot", 0x501, &cl, err,
					   sizeof(err)),
			 0);
	assert_non_null(strstr(cl, "rdinit=/vmm-exec-init "));
	assert_non_null(strstr(cl, "vmm_root=vmmroot "));
	assert_non_null(strstr(cl, "vmm_exit_port=1281 "));
	/* Split as the kernel does; the vmm_exec word decodes to the command. */
	for (w = strtok_r(cl, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strncmp(w, "vmm_exec=", 9))
			continue;
		assert_int_equal(exec_arg_decode(w + 9), 0);
		assert_string_equal(w + 9, "echo \"hi there\"; exit 3");
		found++;
	}
	assert_int_equal(found, 1);
	free(cl);
	assert_int_equal(exec_boot_cmdline("", "vmmroot", 0x501, &cl, err, sizeof(err)), -EINVAL);
	assert_null(cl);
}

static void test_boot_prepare(void **state)
{
	char kernel[] = "/tmp/test_exec_kernel.XXXXXX";
	struct exec_boot eb;
	int fd;

	(void)state;
	fd = mkstemp(kernel);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an ELF", 10), 10);
	close(fd);
	/* Not ELF (as a bzImage): nothing to check; the initramfs from the env. */
	setenv("VMM_EXEC_INITRD", kernel, 1);
	assert_int_equal(exec_boot_prepare("true", "t", 0x501, kernel, &eb, err, sizeof(err)), 0);
	assert_string_equal(eb.initrd, kernel);
	assert_non_null(strstr(eb.cmdline, "vmm_exec=true"));
	exec_boot_free(&eb);
	/* An ELF with symbols but no 9p (this test program): one clear line. */
	assert_int_equal(
		exec_boot_prepare("true", "t", 0x501, "/proc/self/exe", &eb, err, sizeof(err)),
		-ENOEXEC);
	assert_non_null(
		strstr(err, "CONFIG_9P_FS=y, CONFIG_NET_9P_VIRTIO=y, CONFIG_X86_IOPL_IOPERM=y"));
	assert_null(eb.initrd);
	/* No initramfs where it is looked for. */
	setenv("VMM_EXEC_INITRD", "/nonexistent/vmm-exec-init.cpio", 1);
	if (access(VMM_EXEC_INITRD_BUILD, R_OK) && access(VMM_EXEC_INITRD_INSTALL, R_OK))
		assert_int_equal(
			exec_boot_prepare("true", "t", 0x501, kernel, &eb, err, sizeof(err)),
			-ENOENT);
	unsetenv("VMM_EXEC_INITRD");
	unlink(kernel);
}

static void test_cli(void **state)
{
	struct vmm_config cfg;
	char *ok[] = { "vmm", "--kernel", "k", "--exec", "uname -r", NULL };
	char *empty[] = { "vmm", "--kernel", "k", "--exec", "", NULL };
	char *initrd[] = { "vmm", "--kernel", "k", "--exec", "true", "--initrd", "i", NULL };

	(void)state;
	assert_int_equal(cli_parse(5, ok, &cfg, err, sizeof(err)), CLI_RUN);
	assert_string_equal(cfg.exec, "uname -r");
	cli_free(&cfg);
	assert_int_equal(cli_parse(5, empty, &cfg, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "--exec"));
	cli_free(&cfg);
	assert_int_equal(cli_parse(7, initrd, &cfg, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "--initrd"));
	cli_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_round_trip), cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_decode_errors),	  cmocka_unit_test(test_env_and_port),
		cmocka_unit_test(test_status_from_wait),  cmocka_unit_test(test_boot_cmdline),
		cmocka_unit_test(test_boot_prepare),	  cmocka_unit_test(test_cli),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
