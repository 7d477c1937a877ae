/* SPDX-License-Identifier: MIT */
/* The QMP parser and dispatcher (vmm/qmp.c) on a fake VM: the greeting,
 * negotiation mode, every command, QEMU's error texts, values split across
 * reads or several in one, bad JSON that leaves the session usable, and an
 * over-long value. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/qmp.h"

struct fake {
	bool paused;
	int stops, conts, powerdowns, resets, quits;
	char out[16][1024]; /* the lines sent, in order */
	unsigned int nout;
	bool refuse_out;
};

static int fake_stop(void *vm, char *err, size_t errlen)
{
	struct fake *f = vm;

	f->stops++;
	f->paused = true;
	return 0;
}

static int fake_cont(void *vm, char *err, size_t errlen)
{
	struct fake *f = vm;

	f->conts++;
	f->paused = false;
	return 0;
}

static bool fake_paused(void *vm)
{
	return ((struct fake *)vm)->paused;
}

static int fake_powerdown(void *vm, char *err, size_t errlen)
{
	((struct fake *)vm)->powerdowns++;
	return 0;
}

static int fake_reset(void *vm, char *err, size_t errlen)
{
	((struct fake *)vm)->resets++;
	snprintf(err, errlen, "resetting is not allowed here");
	return -EPERM;
}

static int fake_quit(void *vm, char *err, size_t errlen)
{
	((struct fake *)vm)->quits++;
	return 0;
}

static unsigned int fake_cpus(void *vm, struct qmp_cpu *cpus, unsigned int max)
{
	unsigned int i;

	for (i = 0; i < 2 && i < max; i++)
		cpus[i] = (struct qmp_cpu){ .index = i, .thread_id = 1000 + (int)i };
	return 2;
}

static const struct qmp_vm_ops fake_ops = {
	.stop = fake_stop,
	.cont = fake_cont,
	.paused = fake_paused,
	.powerdown = fake_powerdown,
	.reset = fake_reset,
	.quit = fake_quit,
	.cpus = fake_cpus,
};

static int fake_out(void *opaque, const char *text, size_t len)
{
	struct fake *f = opaque;

	if (f->refuse_out)
		return -EPIPE;
	assert_true(len > 0 && text[len - 1] == '\n');
	assert_true(len < sizeof(f->out[0]));
	assert_true(f->nout < 16);
	memcpy(f->out[f->nout], text, len);
	f->out[f->nout][len] = '\0';
	f->nout++;
	return 0;
}

static int feed(struct qmp_session *s, const char *text)
{
	return qmp_session_input(s, text, strlen(text));
}

/* The last line sent, then forget all of them. */
static const char *last(struct fake *f)
{
	static char line[1024];

	assert_true(f->nout > 0);
	strcpy(line, f->out[f->nout - 1]);
	f->nout = 0;
	return line;
}

static void setup(struct qmp_session *s, struct fake *f, bool negotiate)
{
	memset(f, 0, sizeof(*f));
	qmp_session_init(s, &fake_ops, f, fake_out, f);
	assert_int_equal(qmp_session_greet(s), 0);
	assert_non_null(strstr(last(f), "{\"QMP\": {\"version\": {\"qemu\": {\"major\": "));
	if (negotiate) {
		assert_int_equal(feed(s, "{\"execute\": \"qmp_capabilities\"}\n"), 0);
		assert_string_equal(last(f), "{\"return\": {}}\n");
	}
}

static void test_negotiation(void **state)
{
	struct qmp_session s;
	struct fake f;

	(void)state;
	setup(&s, &f, false);
	/* a command before qmp_capabilities: CommandNotFound, as QEMU says */
	assert_int_equal(feed(&s, "{\"execute\": \"query-status\", \"id\": 7}\n"), 0);
	assert_string_equal(last(&f), "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
				      "\"Expecting capabilities negotiation with "
				      "'qmp_capabilities'\"}, \"id\": 7}\n");
	/* a capability we do not offer */
	assert_int_equal(feed(&s, "{\"execute\": \"qmp_capabilities\", \"arguments\": "
				  "{\"enable\": [\"oob\"]}}"),
			 0);
	assert_string_equal(last(&f), "{\"error\": {\"class\": \"GenericError\", \"desc\": "
				      "\"Capability 'oob' not available\"}}\n");
	assert_int_equal(feed(&s, "{\"execute\": \"qmp_capabilities\", \"id\": \"a\"}"), 0);
	assert_string_equal(last(&f), "{\"return\": {}, \"id\": \"a\"}\n");
	assert_int_equal(feed(&s, "{\"execute\": \"qmp_capabilities\"}"), 0);
	assert_string_equal(last(&f), "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
				      "\"Capabilities negotiation is already complete, command "
				      "ignored\"}}\n");
	qmp_session_free(&s);
}

static void test_commands(void **state)
{
	struct qmp_session s;
	struct fake f;

	(void)state;
	setup(&s, &f, true);
	assert_int_equal(feed(&s, "{\"execute\": \"query-status\"}"), 0);
	assert_string_equal(last(&f), "{\"return\": {\"status\": \"running\", \"singlestep\": "
				      "false, \"running\": true}}\n");
	assert_int_equal(feed(&s, "{\"execute\": \"stop\", \"id\": {\"x\": [1]}}"), 0);
	assert_string_equal(last(&f), "{\"return\": {}, \"id\": {\"x\": [1]}}\n");
	assert_int_equal(f.stops, 1);
	assert_int_equal(feed(&s, "{\"execute\": \"query-status\"}"), 0);
	assert_non_null(strstr(last(&f), "\"status\": \"paused\""));
	assert_int_equal(feed(&s, "{\"execute\": \"cont\"}"), 0);
	assert_int_equal(f.conts, 1);
	assert_int_equal(feed(&s, "{\"execute\": \"system_powerdown\"}"), 0);
	assert_int_equal(f.powerdowns, 1);
	/* an op's error is a GenericError with its text */
	assert_int_equal(feed(&s, "{\"execute\": \"system_reset\"}"), 0);
	assert_string_equal(last(&f), "{\"error\": {\"class\": \"GenericError\", \"desc\": "
				      "\"resetting is not allowed here\"}}\n");
	assert_int_equal(feed(&s, "{\"execute\": \"query-cpus-fast\"}"), 0);
	assert_string_equal(last(&f),
			    "{\"return\": [{\"cpu-index\": 0, \"qom-path\": "
			    "\"/machine/unattached/device[0]\", \"thread-id\": 1000, \"props\": "
			    "{\"core-id\": 0, \"thread-id\": 0, \"die-id\": 0, \"socket-id\": 0}, "
			    "\"target\": \"x86_64\"}, {\"cpu-index\": 1, \"qom-path\": "
			    "\"/machine/unattached/device[1]\", \"thread-id\": 1001, \"props\": "
			    "{\"core-id\": 1, \"thread-id\": 0, \"die-id\": 0, \"socket-id\": 0}, "
			    "\"target\": \"x86_64\"}]}\n");
	assert_int_equal(feed(&s, "{\"execute\": \"query-version\"}"), 0);
	assert_non_null(strstr(last(&f), "\"package\": \"vmm "));
	assert_int_equal(feed(&s, "{\"execute\": \"query-commands\"}"), 0);
	assert_non_null(strstr(last(&f), "{\"name\": \"query-cpus-fast\"}"));
	assert_int_equal(feed(&s, "{\"execute\": \"quit\"}"), 0);
	assert_int_equal(f.quits, 1);
	assert_string_equal(last(&f), "{\"return\": {}}\n");
	qmp_session_free(&s);
}

static void test_errors(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "{\"execute\": \"nope\", \"id\": 1}",
		  "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has "
		  "not been found\"}, \"id\": 1}\n" },
		{ "{\"execute\": \"stop\", \"arguments\": {\"force\": true}}",
		  "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'force' is "
		  "unexpected\"}}\n" },
		{ "{\"execute\": \"stop\", \"arguments\": [1]}",
		  "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member "
		  "'arguments' must be an object\"}}\n" },
		{ "{\"execute\": 5}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP "
				      "input member 'execute' must be a string\"}}\n" },
		{ "{\"arguments\": {}}",
		  "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP "
		  "input lacks member 'execute'\"}}\n" },
		{ "{\"execute\": \"stop\", \"bogus\": 1}",
		  "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member 'bogus' "
		  "is unexpected\"}}\n" },
		{ "[1, 2]", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must "
			    "be a JSON object\"}}\n" },
		{ "\"str\"\n", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input "
			       "must be a JSON object\"}}\n" },
	};
	struct qmp_session s;
	struct fake f;
	unsigned int i;

	(void)state;
	setup(&s, &f, true);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(feed(&s, cases[i].in), 0);
		assert_string_equal(last(&f), cases[i].out);
	}
	assert_int_equal(f.stops, 0);
	/* bad JSON: an error, the rest of the line dropped, the next line is
	 * served */
	assert_int_equal(feed(&s, "{\"execute\": ]} {\"x\": 1}\n{\"execute\": \"query-status\"}\n"),
			 0);
	assert_int_equal(f.nout, 2);
	assert_non_null(strstr(f.out[0], "\"desc\": \"JSON parse error, "));
	assert_non_null(strstr(f.out[1], "\"return\": {\"status\": \"running\""));
	f.nout = 0;
	/* a command name cut inside a UTF-8 sequence, and jansson quoting
	 * invalid UTF-8 back: the error is still sent (as valid JSON) */
	{
		char req[256] = "{\"execute\": \"a";
		int k;

		for (k = 0; k < 40; k++)
			strcat(req, "\xc3\xa9");
		strcat(req, "\"}");
		assert_int_equal(feed(&s, req), 0);
		assert_non_null(strstr(last(&f), "\"The command a?"));
		assert_int_equal(feed(&s, "\xd0\x90\x8f\n"), 0);
		assert_non_null(strstr(last(&f), "JSON parse error"));
	}
	/* invalid UTF-8 and a NUL inside a string are refused */
	assert_int_equal(qmp_session_input(&s, "{\"execute\": \"st\xffop\"}\n", 21), 0);
	assert_non_null(strstr(last(&f), "JSON parse error"));
	assert_int_equal(qmp_session_input(&s, "{\"execute\": \"st\\u0000op\"}\n", 26), 0);
	assert_non_null(strstr(last(&f), "JSON parse error"));
	qmp_session_free(&s);
}

static void test_framing(void **state)
{
	const char *req = "{\"execute\": \"query-status\", \"id\": 42}";
	struct qmp_session s;
	struct fake f;
	size_t i;

	(void)state;
	setup(&s, &f, true);
	/* one byte at a time: nothing until the closing brace */
	for (i = 0; req[i]; i++) {
		assert_int_equal(f.nout, 0);
		assert_int_equal(qmp_session_input(&s, req + i, 1), 0);
	}
	assert_non_null(strstr(last(&f), "\"id\": 42"));
	/* several values in one read, with and without whitespace */
	assert_int_equal(feed(&s, "{\"execute\": \"stop\"}{\"execute\": \"cont\"}\r\n  "
				  "{\"execute\": \"query-status\"}"),
			 0);
	assert_int_equal(f.nout, 3);
	assert_int_equal(f.stops, 1);
	assert_int_equal(f.conts, 1);
	f.nout = 0;
	/* an object spread over lines */
	assert_int_equal(feed(&s, "{\n\"execute\":\n"), 0);
	assert_int_equal(f.nout, 0);
	assert_int_equal(feed(&s, "\"stop\"\n}\n"), 0);
	assert_string_equal(last(&f), "{\"return\": {}}\n");
	qmp_session_free(&s);
}

static void test_too_long_and_gone(void **state)
{
	struct qmp_session s;
	struct fake f;
	char *big = malloc(QMP_MAX_PENDING + 16);

	(void)state;
	assert_non_null(big);
	setup(&s, &f, true);
	big[0] = '[';
	memset(big + 1, ' ', QMP_MAX_PENDING + 14);
	big[QMP_MAX_PENDING + 15] = '\0';
	assert_int_equal(feed(&s, big), -EMSGSIZE);
	assert_non_null(strstr(last(&f), "input too long"));
	free(big);
	/* a client whose output is refused: the session stops reading */
	f.refuse_out = true;
	assert_int_equal(feed(&s, "{\"execute\": \"stop\"} {\"execute\": \"stop\"}"), -EPIPE);
	assert_int_equal(f.stops, 1);
	assert_int_equal(feed(&s, "{\"execute\": \"stop\"}"), -EPIPE);
	assert_int_equal(f.stops, 1);
	qmp_session_free(&s);
}

static void test_event(void **state)
{
	char *line;

	(void)state;
	line = qmp_event_format("STOP", NULL, 1700000000123456ULL);
	assert_string_equal(line, "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1700000000, "
				  "\"microseconds\": 123456}}\n");
	free(line);
	line = qmp_event_format("SHUTDOWN",
				json_pack("{s:b,s:s}", "guest", 1, "reason", "guest-shutdown"), 5);
	assert_string_equal(line,
			    "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, "
			    "\"reason\": \"guest-shutdown\"}, \"timestamp\": {\"seconds\": 0, "
			    "\"microseconds\": 5}}\n");
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_too_long_and_gone),
		cmocka_unit_test(test_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
