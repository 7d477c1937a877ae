/* SPDX-License-Identifier: MIT */
/*
 * QMP parsing and dispatch (qmp.h): a pure module, no sockets, no struct
 * vm. The error texts are QEMU's own (qapi/qmp-dispatch.c), so scripts
 * written against QEMU read the same words.
 */
#include "vmm/qmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define QMP_ERR_GENERIC	  "GenericError"
#define QMP_ERR_NOT_FOUND "CommandNotFound"

/*
 * One command. `params` lists the argument names it accepts (NULL: none);
 * the dispatcher refuses any other before run() is called, and run()
 * checks the types. run() returns 0 with *ret set to the "return" value
 * (a new reference), or a negative errno with err filled (GenericError).
 */
struct qmp_command {
	const char *name;
	int (*run)(struct qmp_session *s, json_t *args, json_t **ret, char *err, size_t errlen);
	const char *const *params;
};

/* ------------------------------------------------------------ output */

/* Send one value (taken over) as a line. */
static int session_send(struct qmp_session *s, json_t *v)
{
	char *text;
	int ret;

	if (!v)
		return -ENOMEM;
	/* QEMU's spacing ("key": value, ...); members in insertion order */
	text = json_dumps(v, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	json_decref(v);
	if (!text)
		return -ENOMEM;
	ret = s->gone ? -EPIPE : 0;
	if (!ret) {
		size_t len = strlen(text);
		/* one write per line: the newline goes into the same buffer */
		char *line = realloc(text, len + 2);

		if (!line) {
			free(text);
			return -ENOMEM;
		}
		text = line;
		text[len] = '\n';
		text[len + 1] = '\0';
		ret = s->out(s->out_opaque, text, len + 1);
		if (ret)
			s->gone = true;
	}
	free(text);
	return ret;
}

/* {"error": {"class": ..., "desc": ...}, "id": id} (id may be NULL). The
 * desc may quote the client's bytes (jansson's "near '...'", a command
 * name cut at 64 bytes, perhaps inside a UTF-8 sequence): anything but
 * printable ASCII becomes '?', as JSON strings must be valid UTF-8. */
static int send_error(struct qmp_session *s, const char *cls, const char *desc, json_t *id)
{
	char clean[320];
	size_t i;
	json_t *v;

	for (i = 0; desc[i] && i < sizeof(clean) - 1; i++)
		clean[i] = desc[i] >= 0x20 && desc[i] < 0x7f ? desc[i] : '?';
	clean[i] = '\0';
	v = json_pack("{s:{s:s,s:s}}", "error", "class", cls, "desc", clean);

	if (v && id)
		json_object_set(v, "id", id);
	return session_send(s, v);
}

static int send_return(struct qmp_session *s, json_t *ret, json_t *id)
{
	json_t *v = json_object();

	if (!v || json_object_set_new(v, "return", ret) < 0) {
		json_decref(v);
		return -ENOMEM;
	}
	if (id)
		json_object_set(v, "id", id);
	return session_send(s, v);
}

static json_t *version_object(void)
{
	int major = 0, minor = 0, micro = 0;

	sscanf(VMM_VERSION, "%d.%d.%d", &major, &minor, &micro);
	return json_pack("{s:{s:i,s:i,s:i},s:s}", "qemu", "major", major, "minor", minor, "micro",
			 micro, "package", "vmm " VMM_VERSION);
}

int qmp_session_greet(struct qmp_session *s)
{
	return session_send(
		s, json_pack("{s:{s:o,s:[]}}", "QMP", "version", version_object(), "capabilities"));
}

char *qmp_event_format(const char *name, json_t *data, uint64_t realtime_us)
{
	json_t *v = json_pack("{s:s}", "event", name);
	char *text = NULL, *line;
	size_t len;

	if (!v)
		goto out;
	if (data && json_object_set(v, "data", data) < 0)
		goto out;
	if (json_object_set_new(v, "timestamp",
				json_pack("{s:I,s:I}", "seconds",
					  (json_int_t)(realtime_us / 1000000), "microseconds",
					  (json_int_t)(realtime_us % 1000000))) < 0)
		goto out;
	text = json_dumps(v, JSON_PRESERVE_ORDER);
	if (!text)
		goto out;
	len = strlen(text);
	line = realloc(text, len + 2);
	if (!line) {
		free(text);
		text = NULL;
		goto out;
	}
	text = line;
	memcpy(text + len, "\n", 2);
out:
	json_decref(data);
	json_decref(v);
	return text;
}

/* ------------------------------------------------------------ commands */

static int cmd_capabilities(struct qmp_session *s, json_t *args, json_t **ret, char *err,
			    size_t errlen)
{
	json_t *enable = json_object_get(args, "enable"), *cap;
	size_t i;

	if (enable && !json_is_array(enable))
		return err_set(err, errlen, -EINVAL,
			       "Invalid parameter type for 'enable', expected: array");
	/* we offer no capability (the greeting's list is empty) */
	json_array_foreach(enable, i, cap)
	{
		if (!json_is_string(cap))
			return err_set(err, errlen, -EINVAL,
				       "Invalid parameter type for 'enable', expected: string");
		return err_set(err, errlen, -EINVAL, "Capability '%s' not available",
			       json_string_value(cap));
	}
	s->negotiated = true;
	*ret = json_object();
	return 0;
}

static int cmd_query_status(struct qmp_session *s, json_t *args, json_t **ret, char *err,
			    size_t errlen)
{
	bool paused = s->ops->paused(s->vm);

	/* "singlestep" is in QEMU 7.2's StatusInfo (deprecated since 8.1) */
	*ret = json_pack("{s:s,s:b,s:b}", "status", paused ? "paused" : "running", "singlestep", 0,
			 "running", !paused);
	return 0;
}

/* A command that is one op with no result: {} or the op's error. */
static int run_op(struct qmp_session *s, int (*op)(void *vm, char *err, size_t errlen),
		  json_t **ret, char *err, size_t errlen)
{
	int r = op(s->vm, err, errlen);

	*ret = r ? NULL : json_object();
	return r;
}

static int cmd_stop(struct qmp_session *s, json_t *args, json_t **ret, char *err, size_t errlen)
{
	return run_op(s, s->ops->stop, ret, err, errlen);
}

static int cmd_cont(struct qmp_session *s, json_t *args, json_t **ret, char *err, size_t errlen)
{
	return run_op(s, s->ops->cont, ret, err, errlen);
}

static int cmd_powerdown(struct qmp_session *s, json_t *args, json_t **ret, char *err,
			 size_t errlen)
{
	return run_op(s, s->ops->powerdown, ret, err, errlen);
}

static int cmd_reset(struct qmp_session *s, json_t *args, json_t **ret, char *err, size_t errlen)
{
	return run_op(s, s->ops->reset, ret, err, errlen);
}

static int cmd_quit(struct qmp_session *s, json_t *args, json_t **ret, char *err, size_t errlen)
{
	return run_op(s, s->ops->quit, ret, err, errlen);
}

/* QEMU 7.2's CpuInfoFast for x86: one socket, one core per vCPU. */
static int cmd_query_cpus_fast(struct qmp_session *s, json_t *args, json_t **ret, char *err,
			       size_t errlen)
{
	struct qmp_cpu cpus[256];
	unsigned int n, i;
	json_t *list = json_array();

	n = s->ops->cpus(s->vm, cpus, sizeof(cpus) / sizeof(cpus[0]));
	if (n > sizeof(cpus) / sizeof(cpus[0]))
		n = sizeof(cpus) / sizeof(cpus[0]);
	for (i = 0; list && i < n; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/machine/unattached/device[%u]", cpus[i].index);
		if (json_array_append_new(
			    list, json_pack("{s:i,s:s,s:i,s:{s:i,s:i,s:i,s:i},s:s}", "cpu-index",
					    (int)cpus[i].index, "qom-path", path, "thread-id",
					    cpus[i].thread_id, "props", "core-id",
					    (int)cpus[i].index, "thread-id", 0, "die-id", 0,
					    "socket-id", 0, "target", "x86_64")) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	if (!list)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	*ret = list;
	return 0;
}

static int cmd_query_version(struct qmp_session *s, json_t *args, json_t **ret, char *err,
			     size_t errlen)
{
	*ret = version_object();
	return 0;
}

static int cmd_query_commands(struct qmp_session *s, json_t *args, json_t **ret, char *err,
			      size_t errlen)
{
	json_t *list = json_array();
	unsigned int i;

	for (i = 0; list && i < qmp_command_count(); i++)
		if (json_array_append_new(list, json_pack("{s:s}", "name", qmp_command_name(i))) <
		    0) {
			json_decref(list);
			list = NULL;
		}
	if (!list)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	*ret = list;
	return 0;
}

/* migrate {"uri": "file:PATH"}: the save runs to its end before the reply
 * (QEMU's migration runs in the background; a file is written in well under
 * a second here, and the reply then says whether it worked). QEMU's other
 * arguments (detach, resume, ...) are accepted only as false. */
static int cmd_migrate(struct qmp_session *s, json_t *args, json_t **ret, char *err, size_t errlen)
{
	json_t *uri = json_object_get(args, "uri");
	const char *flags[] = { "blk", "inc", "detach", "resume" };

	if (!json_is_string(uri))
		return err_set(err, errlen, -EINVAL, "Parameter 'uri' is missing");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		json_t *f = json_object_get(args, flags[i]);

		if (f && !json_is_boolean(f))
			return err_set(err, errlen, -EINVAL,
				       "Invalid parameter type for '%s', expected: boolean",
				       flags[i]);
		if (f && json_is_true(f) && strcmp(flags[i], "detach"))
			return err_set(err, errlen, -EINVAL, "migrate: '%s' is not supported",
				       flags[i]);
	}
	if (s->ops->migrate(s->vm, json_string_value(uri), err, errlen) < 0)
		return -EIO;
	*ret = json_object();
	return *ret ? 0 : err_set(err, errlen, -ENOMEM, "out of memory");
}

static int cmd_query_migrate(struct qmp_session *s, json_t *args, json_t **ret, char *err,
			     size_t errlen)
{
	struct qmp_migrate_info info = { 0 };

	s->ops->migrate_info(s->vm, &info);
	if (!info.status)
		*ret = json_object();
	else if (!strcmp(info.status, "failed"))
		*ret = json_pack("{s:s,s:s}", "status", info.status, "error-desc", info.error_desc);
	else
		*ret = json_pack("{s:s,s:I,s:{s:I,s:I}}", "status", info.status, "total-time",
				 (json_int_t)info.total_time_ms, "ram", "transferred",
				 (json_int_t)info.bytes, "total", (json_int_t)info.bytes);
	return *ret ? 0 : err_set(err, errlen, -ENOMEM, "out of memory");
}

/*
 * The command table: one entry per command, nothing else to touch to add
 * one.
 */
static const char *const capabilities_params[] = { "enable", NULL };
static const char *const migrate_params[] = { "uri", "blk", "inc", "detach", "resume", NULL };
static const struct qmp_command commands[] = {
	{ "qmp_capabilities", cmd_capabilities, capabilities_params },
	{ "query-status", cmd_query_status, NULL },
	{ "stop", cmd_stop, NULL },
	{ "cont", cmd_cont, NULL },
	{ "system_powerdown", cmd_powerdown, NULL },
	{ "system_reset", cmd_reset, NULL },
	{ "quit", cmd_quit, NULL },
	{ "migrate", cmd_migrate, migrate_params },
	{ "query-migrate", cmd_query_migrate, NULL },
	{ "query-cpus-fast", cmd_query_cpus_fast, NULL },
	{ "query-version", cmd_query_version, NULL },
	{ "query-commands", cmd_query_commands, NULL },
};

unsigned int qmp_command_count(void)
{
	return sizeof(commands) / sizeof(commands[0]);
}

const char *qmp_command_name(unsigned int i)
{
	return i < qmp_command_count() ? commands[i].name : NULL;
}

static const struct qmp_command *command_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < qmp_command_count(); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static bool param_known(const struct qmp_command *cmd, const char *key)
{
	const char *const *p;

	for (p = cmd->params; p && *p; p++)
		if (!strcmp(*p, key))
			return true;
	return false;
}

/* ------------------------------------------------------------ dispatch */

/* One request (a parsed value, borrowed). Returns the out error, if any. */
static int session_dispatch(struct qmp_session *s, json_t *req)
{
	json_t *id, *exec, *args, *val, *ret = NULL, *empty = NULL;
	const struct qmp_command *cmd;
	const char *key, *name;
	char err[256] = "";
	int r;

	if (!json_is_object(req))
		return send_error(s, QMP_ERR_GENERIC, "QMP input must be a JSON object", NULL);
	id = json_object_get(req, "id");
	json_object_foreach(req, key, val)
	{
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			snprintf(err, sizeof(err), "QMP input member '%s' is unexpected", key);
			return send_error(s, QMP_ERR_GENERIC, err, id);
		}
	}
	exec = json_object_get(req, "execute");
	if (!exec)
		return send_error(s, QMP_ERR_GENERIC, "QMP input lacks member 'execute'", id);
	if (!json_is_string(exec))
		return send_error(s, QMP_ERR_GENERIC, "QMP input member 'execute' must be a string",
				  id);
	args = json_object_get(req, "arguments");
	if (args && !json_is_object(args))
		return send_error(s, QMP_ERR_GENERIC,
				  "QMP input member 'arguments' must be an object", id);
	name = json_string_value(exec);
	if (!s->negotiated && strcmp(name, "qmp_capabilities"))
		return send_error(s, QMP_ERR_NOT_FOUND,
				  "Expecting capabilities negotiation with 'qmp_capabilities'", id);
	if (s->negotiated && !strcmp(name, "qmp_capabilities"))
		return send_error(s, QMP_ERR_NOT_FOUND,
				  "Capabilities negotiation is already complete, command ignored",
				  id);
	cmd = command_find(name);
	if (!cmd) {
		/* %.64s: the name is the client's and may be long */
		snprintf(err, sizeof(err), "The command %.64s has not been found", name);
		return send_error(s, QMP_ERR_NOT_FOUND, err, id);
	}
	json_object_foreach(args, key, val)
	{
		if (!param_known(cmd, key)) {
			snprintf(err, sizeof(err), "Parameter '%.64s' is unexpected", key);
			return send_error(s, QMP_ERR_GENERIC, err, id);
		}
	}
	if (!args)
		args = empty = json_object();
	r = cmd->run(s, args, &ret, err, sizeof(err));
	json_decref(empty);
	if (r < 0)
		return send_error(s, QMP_ERR_GENERIC, err[0] ? err : strerror(-r), id);
	if (!ret)
		return -ENOMEM;
	return send_return(s, ret, id);
}

void qmp_session_init(struct qmp_session *s, const struct qmp_vm_ops *ops, void *vm,
		      int (*out)(void *opaque, const char *text, size_t len), void *out_opaque)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->vm = vm;
	s->out = out;
	s->out_opaque = out_opaque;
}

void qmp_session_free(struct qmp_session *s)
{
	free(s->in);
	s->in = NULL;
	s->inlen = s->incap = 0;
}

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Drop the first n bytes of the input buffer. */
static void input_consume(struct qmp_session *s, size_t n)
{
	memmove(s->in, s->in + n, s->inlen - n);
	s->inlen -= n;
}

/*
 * Parse and answer every complete value at the front of the buffer. After
 * a syntax error the rest of that line is dropped (QEMU resets its lexer
 * likewise), so the next line starts afresh.
 */
static int session_parse(struct qmp_session *s)
{
	for (;;) {
		json_error_t jerr;
		json_t *v;
		size_t skip = 0;
		int r;

		while (skip < s->inlen && is_json_space(s->in[skip]))
			skip++;
		input_consume(s, skip);
		if (!s->inlen || s->gone)
			return 0;
		v = json_loadb(s->in, s->inlen, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &jerr);
		if (v) {
			input_consume(s, jerr.position <= (int)s->inlen ? (size_t)jerr.position
									: s->inlen);
			r = session_dispatch(s, v);
			json_decref(v);
			if (r)
				return r;
			continue;
		}
		if (json_error_code(&jerr) == json_error_premature_end_of_input) {
			if (s->inlen <= QMP_MAX_PENDING)
				return 0; /* wait for the rest */
			s->inlen = 0;
			r = send_error(s, QMP_ERR_GENERIC, "JSON parse error, input too long",
				       NULL);
			return r ? r : -EMSGSIZE;
		} else {
			char desc[256];
			const char *nl;
			size_t at = jerr.position > 0 && (size_t)jerr.position < s->inlen
					    ? (size_t)jerr.position
					    : 0;

			snprintf(desc, sizeof(desc), "JSON parse error, %s", jerr.text);
			nl = memchr(s->in + at, '\n', s->inlen - at);
			input_consume(s, nl ? (size_t)(nl - s->in) + 1 : s->inlen);
			r = send_error(s, QMP_ERR_GENERIC, desc, NULL);
			if (r)
				return r;
		}
	}
}

int qmp_session_input(struct qmp_session *s, const void *buf, size_t len)
{
	if (s->gone)
		return -EPIPE;
	if (len > s->incap - s->inlen) {
		size_t cap = s->incap ? s->incap : 4096;
		char *in;

		while (cap - s->inlen < len) {
			if (cap > QMP_MAX_PENDING * 4)
				return -EMSGSIZE; /* cannot happen: parse drains */
			cap *= 2;
		}
		in = realloc(s->in, cap);
		if (!in)
			return -ENOMEM;
		s->in = in;
		s->incap = cap;
	}
	memcpy(s->in + s->inlen, buf, len);
	s->inlen += len;
	return session_parse(s);
}
