/*
 * oci/process: the "process" object: args, env, cwd, terminal, user (user.c),
 * capabilities (caps.c), noNewPrivileges, oomScoreAdj. As containerd's CRI
 * plugin does it:
 *
 *   - args (WithProcessArgs): no command and no args: image Entrypoint +
 *     Cmd; args only: Entrypoint + args; command: command + args. An image
 *     Entrypoint of exactly [""] counts as none. Nothing left: "no command
 *     specified".
 *   - env: PATH=<default> (oci.WithDefaultPathEnv), HOSTNAME=<the pod's
 *     hostname, or the node's when the pod has none>, then the image's Env
 *     and config.envs through replaceOrAppendEnvValues: a key seen before
 *     is replaced in place (so an image PATH replaces the default one where
 *     it stands, an image HOSTNAME the pod's, an env the image's), an image
 *     entry without '=' unsets the key. A config.envs key that is empty or
 *     holds '=' and a value with a NUL are refused; values are never
 *     quoted in errors (they may be secrets).
 *   - cwd: config.working_dir, else the image's WorkingDir, else "/"; it
 *     must be absolute.
 *   - no rlimits: containerd's CRI removes the default RLIMIT_NOFILE
 *     (WithoutDefaultSecuritySettings, containerd issue #515), so the
 *     container inherits runc's limits, as with containerd.
 *   - oomScoreAdj only when resources are given (-1000..1000), raised to
 *     host->oom_score_adj_min (restrict_oom_score_adj).
 * Never logs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sandboxd/oci/spec_int.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int check_string(struct ocispec *s, const char *v, const char *field, size_t i)
{
	if (strlen(v) >= OCISPEC_MAX_STRING)
		return OCISPEC_INVALID(s, "%s[%zu]: longer than %u bytes", field, i,
				       OCISPEC_MAX_STRING - 1);
	return 0;
}

static int push_list(struct ocispec *s, json_object *a, char *const *v, size_t n,
		     const char *field, size_t *count)
{
	for (size_t i = 0; i < n; i++) {
		const char *str = ocispec_str(v[i]);
		int r = check_string(s, str, field, i);
		if (r < 0)
			return r;
		if (++*count > OCISPEC_MAX_ARGS)
			return OCISPEC_INVALID(s, "process args: more than %u", OCISPEC_MAX_ARGS);
		if (ocispec_push_str(a, str) < 0)
			return ocispec_nomem(s);
	}
	return 0;
}

static int build_args(struct ocispec *s)
{
	const Runtime__V1__ContainerConfig *c = s->cfg;
	const Crisp__ImageRuntimeConfig *img = s->image;
	char *const *cmd = c->command, *const *args = c->args;
	size_t n_cmd = c->n_command, n_args = c->n_args;
	const char *cmd_field = "config.command", *args_field = "config.args";
	if (n_cmd == 0) {
		if (n_args == 0) {
			args = img->cmd;
			n_args = img->n_cmd;
			args_field = "image config Cmd";
		}
		if (!(img->n_entrypoint == 1 && ocispec_str(img->entrypoint[0])[0] == '\0')) {
			cmd = img->entrypoint;
			n_cmd = img->n_entrypoint;
			cmd_field = "image config Entrypoint";
		}
	}
	if (n_cmd == 0 && n_args == 0)
		return OCISPEC_INVALID(s, "no command specified");
	json_object *a = ocispec_child(s->process, "args", true);
	if (!a)
		return ocispec_nomem(s);
	size_t count = 0;
	int r = push_list(s, a, cmd, n_cmd, cmd_field, &count);
	if (r >= 0)
		r = push_list(s, a, args, n_args, args_field, &count);
	return r;
}

/* The environment being built: "KEY=value" strings (owned), in order;
 * NULL slots are unset ones. */
struct envlist {
	char **v;
	size_t n, cap;
};

static size_t key_len(const char *e)
{
	return strcspn(e, "=");
}

static ssize_t env_find(const struct envlist *l, const char *e, size_t klen)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] && key_len(l->v[i]) == klen && memcmp(l->v[i], e, klen) == 0)
			return (ssize_t)i;
	return -1;
}

/* replaceOrAppendEnvValues for one entry e (taken: freed on failure) */
static int env_put(struct ocispec *s, struct envlist *l, char *e)
{
	size_t klen = key_len(e);
	ssize_t at = env_find(l, e, klen);
	if (e[klen] != '=') {           /* "KEY": unset */
		if (at >= 0) {
			free(l->v[at]);
			l->v[at] = NULL;
		}
		free(e);
		return 0;
	}
	if (at >= 0) {
		free(l->v[at]);
		l->v[at] = e;
		return 0;
	}
	if (l->n >= OCISPEC_MAX_ENV + 2) {
		free(e);
		return OCISPEC_INVALID(s, "process env: more than %u entries", OCISPEC_MAX_ENV);
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char **nv = realloc(l->v, nc * sizeof *nv);
		if (!nv) {
			free(e);
			return ocispec_nomem(s);
		}
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = e;
	return 0;
}

static int env_put_copy(struct ocispec *s, struct envlist *l, const char *e)
{
	char *d = strdup(e);
	if (!d)
		return ocispec_nomem(s);
	return env_put(s, l, d);
}

static int env_put_kv(struct ocispec *s, struct envlist *l, const char *k, const void *v,
		      size_t vlen)
{
	size_t klen = strlen(k);
	char *e = malloc(klen + 1 + vlen + 1);
	if (!e)
		return ocispec_nomem(s);
	memcpy(e, k, klen);
	e[klen] = '=';
	if (vlen)
		memcpy(e + klen + 1, v, vlen);
	e[klen + 1 + vlen] = '\0';
	return env_put(s, l, e);
}

static int hostname_env(struct ocispec *s, struct envlist *l)
{
	const Runtime__V1__PodSandboxConfig *pc = s->in->pod->config;
	const char *h = pc ? ocispec_str(pc->hostname) : "";
	char node[HOST_NAME_MAX + 1];
	if (!h[0]) {
		if (gethostname(node, sizeof node) < 0)
			return crisp_fail_errno(s->err, -errno, "gethostname");
		node[sizeof node - 1] = '\0';
		h = node;
	}
	if (strlen(h) > HOST_NAME_MAX || strchr(h, '\n'))
		return OCISPEC_INVALID(s, "sandbox_config.hostname: not a host name");
	return env_put_kv(s, l, "HOSTNAME", h, strlen(h));
}

static int fill_env(struct ocispec *s, struct envlist *l)
{
	const Crisp__ImageRuntimeConfig *img = s->image;
	const Runtime__V1__ContainerConfig *c = s->cfg;
	if (img->n_env + c->n_envs > OCISPEC_MAX_ENV)
		return OCISPEC_INVALID(s, "process env: more than %u entries (image and config)",
				       OCISPEC_MAX_ENV);
	int r = env_put_copy(s, l, DEFAULT_PATH);
	if (r >= 0)
		r = hostname_env(s, l);
	for (size_t i = 0; r >= 0 && i < img->n_env; i++) {
		const char *e = ocispec_str(img->env[i]);
		r = check_string(s, e, "image config Env", i);
		if (r >= 0 && (e[0] == '=' || e[0] == '\0'))
			r = OCISPEC_INVALID(s, "image config Env[%zu]: empty variable name", i);
		if (r >= 0)
			r = env_put_copy(s, l, e);
	}
	for (size_t i = 0; r >= 0 && i < c->n_envs; i++) {
		const Runtime__V1__KeyValue *kv = c->envs[i];
		const char *k = kv ? ocispec_str(kv->key) : "";
		if (!k[0])
			return OCISPEC_INVALID(s, "config.envs[%zu].key: empty", i);
		if (strchr(k, '='))
			return OCISPEC_INVALID(s, "config.envs[%zu].key: holds '='", i);
		if (kv->value.len && !kv->value.data)
			return OCISPEC_INVALID(s, "config.envs[%zu].value: missing", i);
		if (kv->value.len && memchr(kv->value.data, '\0', kv->value.len))
			return OCISPEC_INVALID(s, "config.envs[%zu].value: holds a NUL byte", i);
		if (strlen(k) + 1 + kv->value.len >= OCISPEC_MAX_STRING)
			return OCISPEC_INVALID(s, "config.envs[%zu]: longer than %u bytes", i,
					       OCISPEC_MAX_STRING - 1);
		r = env_put_kv(s, l, k, kv->value.data, kv->value.len);
	}
	return r;
}

static int build_env(struct ocispec *s)
{
	struct envlist l = { 0 };
	int r = fill_env(s, &l);
	json_object *a = r >= 0 ? ocispec_child(s->process, "env", true) : NULL;
	if (r >= 0 && !a)
		r = ocispec_nomem(s);
	for (size_t i = 0; r >= 0 && i < l.n; i++)
		if (l.v[i] && ocispec_push_str(a, l.v[i]) < 0)
			r = ocispec_nomem(s);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return r;
}

static int build_cwd(struct ocispec *s)
{
	const char *cwd = ocispec_str(s->cfg->working_dir);
	const char *field = "config.working_dir";
	if (!cwd[0]) {
		cwd = ocispec_str(s->image->working_dir);
		field = "image config WorkingDir";
	}
	if (!cwd[0])
		cwd = "/";
	if (cwd[0] != '/')
		return OCISPEC_INVALID(s, "%s: not an absolute path", field);
	if (strlen(cwd) >= OCISPEC_MAX_PATH)
		return OCISPEC_INVALID(s, "%s: too long", field);
	return ocispec_set_str(s->process, "cwd", cwd) < 0 ? ocispec_nomem(s) : 0;
}

static int build_oom(struct ocispec *s)
{
	if (!s->res)
		return 0;
	int64_t adj = s->res->oom_score_adj;
	if (adj < -1000 || adj > 1000)
		return OCISPEC_INVALID(s, "config.linux.resources.oom_score_adj: %lld not in "
				       "-1000..1000", (long long)adj);
	if (adj < s->in->host->oom_score_adj_min)
		adj = s->in->host->oom_score_adj_min;
	return ocispec_set_int(s->process, "oomScoreAdj", adj) < 0 ? ocispec_nomem(s) : 0;
}

int ocispec_process(struct ocispec *s)
{
	s->process = ocispec_child(s->spec, "process", false);
	if (!s->process)
		return ocispec_nomem(s);
	int r = ocispec_set_bool(s->process, "terminal", s->cfg->tty);
	if (r < 0)
		return ocispec_nomem(s);
	r = ocispec_user(s, s->process);
	if (r >= 0)
		r = build_args(s);
	if (r >= 0)
		r = build_env(s);
	if (r >= 0)
		r = build_cwd(s);
	if (r >= 0)
		r = ocispec_caps(s, s->process);
	if (r >= 0 && ocispec_set_bool(s->process, "noNewPrivileges",
				       s->sc && s->sc->no_new_privs) < 0)
		r = ocispec_nomem(s);
	if (r >= 0)
		r = build_oom(s);
	if (r >= 0)
		r = ocispec_stop_signal(s);
	return r;
}
