/*
 * runc: see runc.h. runc writes its errors to stderr as logrus lines
 * ("time=... level=error msg=\"...\""); the message part is what the user
 * gets. Never logs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/spawn.h"
#include "common/status.h"
#include "sandboxd/runtime/runc.h"
#include "sandboxd/sbx.h"

#define RUNC_OUT_MAX (64 * 1024)
#define RUNC_ARGS_MAX 12

/* The last msg="..." of runc's stderr, or its last line. */
static void error_text(const char *e, char *buf, size_t len)
{
	const char *m = NULL, *p = e;
	while (p && (p = strstr(p, "msg=\""))) {
		m = p + 5;
		p = m;
	}
	if (m) {
		size_t n = 0;
		for (; *m && *m != '\n' && n + 1 < len; m++) {
			if (*m == '"' && m[-1] != '\\')
				break;
			buf[n++] = *m;
		}
		buf[n] = '\0';
		return;
	}
	const char *end = e + strlen(e);
	while (end > e && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	const char *start = end;
	while (start > e && start[-1] != '\n')
		start--;
	snprintf(buf, len, "%.*s", (int)(end - start), start);
}

static bool not_found(const char *e)
{
	return e && (strstr(e, "does not exist") || strstr(e, "not exist") ||
		     strstr(e, "container not running") || strstr(e, "process already finished") ||
		     strstr(e, "no such file"));
}

/* Run rt with the subcommand words (NULL-terminated); *ret_res filled. */
static int run(const struct runc *rt, const char *const *words, struct spawn_result *res)
{
	const char *argv[RUNC_ARGS_MAX + 6];
	size_t n = 0;
	argv[n++] = rt->path;
	argv[n++] = "--root";
	argv[n++] = rt->root;
	if (rt->systemd_cgroup)
		argv[n++] = "--systemd-cgroup";
	for (size_t i = 0; words[i] && n < RUNC_ARGS_MAX + 5; i++)
		argv[n++] = words[i];
	argv[n] = NULL;
	struct spawn_opts o = { .argv = argv, .timeout_ms = SBX_RUNC_TIMEOUT_MS,
				.out_max = RUNC_OUT_MAX, .err_max = RUNC_OUT_MAX };
	return spawn_run(&o, res);
}

static int finish(const struct runc *rt, const char *what, const char *id, int r,
		  struct spawn_result *res, bool gone_ok, struct crisp_error *err)
{
	char text[512];
	if (r == -ETIMEDOUT)
		r = crisp_fail(err, CRISP_STATUS_DEADLINE_EXCEEDED, r, "%s %s %.80s: no answer in %d s",
			       rt->path, what, id, SBX_RUNC_TIMEOUT_MS / 1000);
	else if (r < 0)
		r = crisp_fail_errno(err, r, "%s %s %.80s", rt->path, what, id);
	else if (res->wait_status != 0) {
		if (gone_ok && not_found(res->err)) {
			r = 0;
		} else {
			error_text(res->err ? res->err : "", text, sizeof text);
			r = crisp_fail(err, CRISP_STATUS_INTERNAL, -EIO, "%s %s: %s", what, id,
				       text[0] ? text : "failed");
		}
	}
	spawn_result_clear(res);
	return r;
}

int runc_start(const struct runc *rt, const char *id, struct crisp_error *err)
{
	const char *w[] = { "start", id, NULL };
	struct spawn_result res;
	int r = run(rt, w, &res);
	return finish(rt, "start", id, r, &res, false, err);
}

int runc_kill(const struct runc *rt, const char *id, int sig, bool all, struct crisp_error *err)
{
	char s[16];
	snprintf(s, sizeof s, "%d", sig);
	const char *w[] = { "kill", all ? "--all" : id, all ? id : s, all ? s : NULL, NULL };
	struct spawn_result res;
	int r = run(rt, w, &res);
	return finish(rt, "kill", id, r, &res, true, err);
}

int runc_delete(const struct runc *rt, const char *id, bool force, struct crisp_error *err)
{
	const char *w[] = { "delete", force ? "--force" : id, force ? id : NULL, NULL };
	struct spawn_result res;
	int r = run(rt, w, &res);
	return finish(rt, "delete", id, r, &res, true, err);
}

int runc_state(const struct runc *rt, const char *id, enum runc_status *ret, pid_t *ret_pid,
	       struct crisp_error *err)
{
	const char *w[] = { "state", id, NULL };
	struct spawn_result res;
	*ret = RUNC_GONE;
	if (ret_pid)
		*ret_pid = 0;
	int r = run(rt, w, &res);
	if (r == 0 && res.wait_status != 0 && not_found(res.err)) {
		spawn_result_clear(&res);
		return 0;
	}
	if (r < 0 || res.wait_status != 0)
		return finish(rt, "state", id, r, &res, false, err);
	json_object *o = json_tokener_parse(res.out ? res.out : "");
	json_object *v;
	if (o && json_object_object_get_ex(o, "status", &v)) {
		const char *st = json_object_get_string(v);
		*ret = !strcmp(st, "created") ? RUNC_CREATED : !strcmp(st, "running") ?
		       RUNC_RUNNING : !strcmp(st, "paused") ? RUNC_PAUSED : RUNC_STOPPED;
	} else {
		r = crisp_fail(err, CRISP_STATUS_INTERNAL, -EBADMSG, "state %s: unreadable answer", id);
	}
	if (o && ret_pid && json_object_object_get_ex(o, "pid", &v))
		*ret_pid = (pid_t)json_object_get_int(v);
	json_object_put(o);
	spawn_result_clear(&res);
	return r;
}

bool runc_has_rro(const char *path)
{
	const char *argv[] = { path, "features", NULL };
	struct spawn_opts o = { .argv = argv, .timeout_ms = 10000, .out_max = RUNC_OUT_MAX };
	struct spawn_result res;
	bool rro = false;
	if (spawn_run(&o, &res) == 0 && res.wait_status == 0 && res.out) {
		json_object *j = json_tokener_parse(res.out), *m;
		if (j && json_object_object_get_ex(j, "mountOptions", &m) &&
		    json_object_is_type(m, json_type_array))
			for (size_t i = 0; i < json_object_array_length(m); i++)
				rro |= !strcmp(json_object_get_string(json_object_array_get_idx(m, i)),
					       "rro");
		json_object_put(j);
	}
	spawn_result_clear(&res);
	return rro;
}
