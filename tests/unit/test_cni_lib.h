/*
 * test_cni_lib: helpers for the CNI unit tests (test_cni_*.c): files and
 * directories in the test's tmp dir, fake CNI plugins (small /bin/sh
 * scripts that record each call, their stdin and their environment under a
 * log directory, then do what the test says), and reading back what they
 * recorded. Test code only.
 */
#pragma once
#include <json.h>
#include <stddef.h>
#include <sys/types.h>
#include "sandboxd/cni/cni_int.h"

struct tc_env {
	char conf[512];                 /* an empty config dir */
	char bin[512];                  /* the plugins' dir */
	char log[512];                  /* where fake plugins record */
	char netns[512];                /* a file standing in for the pod's netns */
	struct cni_settings s;          /* conf_dir, bin_dirs; bridge crt0,
					 * subnet 10.201.7.0/24, ipam_dir, 5 s */
};

void tc_env_init(struct tc_env *e);
/* Write dir/name with text and mode. */
void tc_put(const char *dir, const char *name, const char *text, mode_t mode);
/* A fake plugin `type` in e->bin: it appends "$CNI_COMMAND type" to
 * e->log/calls, saves its stdin as e->log/type.COMMAND.stdin and its
 * environment as e->log/type.COMMAND.env, then runs the shell text body
 * (NULL: print a 1.0.0 result with IP 10.1.0.<n> and an interface named
 * after the plugin). */
void tc_plugin(const struct tc_env *e, const char *type, const char *body);
/* e->log/name's contents (malloc'd; "" when it does not exist). */
char *tc_log(const struct tc_env *e, const char *name);
/* The JSON object a plugin got on stdin for command. */
struct json_object *tc_stdin(const struct tc_env *e, const char *type, const char *command);
/* The value of var in the environment type got for command (malloc'd, NULL
 * when unset). */
char *tc_env_var(const struct tc_env *e, const char *type, const char *command, const char *var);
/* obj at a path of keys ("a.b"), NULL when missing. */
struct json_object *tc_get(struct json_object *obj, const char *path);
/* A struct cni_net over the conflist text json (for cni_add/cni_del). */
struct cni_net *tc_net(const char *json);
