/*
 * cni/chain: a network's plugin list run for a pod, as libcni's
 * AddNetworkList and DelNetworkList run it. Each plugin gets its own
 * config object with the list's "name" and "cniVersion", "prevResult" and
 * "runtimeConfig" (args.c) put in, on stdin of its binary (exec.c).
 *   ADD  in order; prevResult is the previous plugin's result. When plugin
 *        k fails, plugins k..0 are DELed (in reverse) before returning, so
 *        that a failed ADD leaves nothing behind. The last result is the
 *        attachment's, with the list's exact JSON.
 *   DEL  in reverse; prevResult is the stored final result (spec >= 0.4.0
 *        only, as libcni); CNI_NETNS is "" when the netns is gone, which the
 *        plugins take as "only release what is outside it". Every plugin is
 *        run even when one fails (the first error is returned), so that one
 *        plugin's trouble does not strand another's allocation; plugins of
 *        spec >= 0.4.0 treat "already gone" as success themselves.
 * The list is parsed afresh for every call: nothing is shared between
 * threads. Never logs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "common/status.h"
#include "sandboxd/cni/cni_int.h"

#define CNI_IFNAME "eth0"
#define LOOPBACK_ID "crisp-loopback"
#define LOOPBACK_LIST "{\"cniVersion\":\"0.3.1\",\"name\":\"cni-loopback\"," \
		      "\"plugins\":[{\"type\":\"loopback\"}]}"

struct chain {
	struct json_object *list;
	const char *name, *version;
	struct json_object *plugins;
	size_t n;
};

static int chain_open(const char *net_json, struct chain *ret, struct crisp_error *err)
{
	struct chain c = { NULL, NULL, NULL, NULL, 0 };
	const char *why = "no config";
	int r = net_json ? cni_json_parse_object(net_json, strlen(net_json), &c.list, &why) :
		-EINVAL;
	if (r == 0) {
		c.name = cni_json_string(c.list, "name");
		c.version = cni_json_string(c.list, "cniVersion");
		if (json_object_object_get_ex(c.list, "plugins", &c.plugins) &&
		    json_object_is_type(c.plugins, json_type_array))
			c.n = json_object_array_length(c.plugins);
		why = "no name, cniVersion or plugins";
		r = c.name && c.version && c.n > 0 && c.n <= CNI_MAX_PLUGINS ? 0 : -EINVAL;
		for (size_t i = 0; r == 0 && i < c.n; i++)
			if (!cni_json_string(json_object_array_get_idx(c.plugins, i), "type"))
				r = -EINVAL;
	}
	if (r < 0) {
		json_object_put(c.list);
		return crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EINVAL,
				  "the CNI network config is not valid: %s", why);
	}
	*ret = c;
	return 0;
}

/* Add key: value to obj (value consumed); -ENOMEM. */
static int put(struct json_object *obj, const char *key, struct json_object *value)
{
	if (!value)
		return -ENOMEM;
	if (json_object_object_add(obj, key, value) < 0) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

/* The config text plugin i runs with. */
static int plugin_conf(const struct chain *c, size_t i, struct json_object *prev,
		       const struct cni_pod *pod, char **ret)
{
	struct json_object *p = json_object_array_get_idx(c->plugins, i), *conf = NULL, *rc = NULL;
	if (json_object_deep_copy(p, &conf, NULL) < 0)
		return -ENOMEM;
	int r = put(conf, "name", json_object_new_string(c->name));
	if (r == 0)
		r = put(conf, "cniVersion", json_object_new_string(c->version));
	if (r == 0 && prev)
		r = put(conf, "prevResult", json_object_get(prev));
	if (r == 0)
		r = cni_runtime_config(p, pod, &rc);
	if (r == 0 && rc)
		r = put(conf, "runtimeConfig", rc);
	char *text = r == 0 ? cni_json_text(conf) : NULL;
	json_object_put(conf);
	if (!text)
		return -ENOMEM;
	*ret = text;
	return 0;
}

struct run_ctx {
	const struct cni_settings *s;
	const struct chain *c;
	const struct cni_pod *pod;      /* NULL: loopback */
	const char *command;
	struct cni_env env;
};

/* Run plugin i. For ADD, its result into *ret_result and its text into
 * *ret_text. */
static int plugin_run(const struct run_ctx *x, size_t i, struct json_object *prev,
		      struct json_object **ret_result, char **ret_text, struct crisp_error *err)
{
	const char *type = cni_json_string(json_object_array_get_idx(x->c->plugins, i), "type");
	char path[PATH_MAX], where[320];
	snprintf(where, sizeof where, "network \"%.256s\"", x->c->name);
	int r = cni_plugin_find_err(x->s->bin_dirs, type, where, path, sizeof path, err);
	if (r < 0)
		return r;
	char *conf = NULL;
	r = plugin_conf(x->c, i, prev, x->pod, &conf);
	if (r < 0)
		return crisp_fail_errno(err, r, "the config of CNI plugin %s", type);
	struct cni_run run = {
		.type = type, .command = x->command, .path = path, .env = x->env.vars,
		.conf = conf, .conf_len = strlen(conf), .timeout_ms = x->s->timeout_ms,
	};
	struct cni_output o;
	r = cni_exec(&run, &o, err);
	free(conf);
	if (r < 0)
		return r;
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0) {
		char text[CRISP_ERROR_MSG_MAX];
		int code = 0;
		cni_error_text(&o, text, sizeof text, &code);
		cni_output_clear(&o);
		return crisp_fail(err, code == 11 ? CRISP_STATUS_UNAVAILABLE : CRISP_STATUS_UNKNOWN,
				  -EIO, "CNI plugin %s (%s) failed: %s", type, x->command, text);
	}
	if (ret_result) {
		const char *why = NULL;
		r = cni_json_parse_object(o.out, o.out_len, ret_result, &why);
		if (r < 0) {
			cni_output_clear(&o);
			return crisp_fail(err, CRISP_STATUS_UNKNOWN, r, "CNI plugin %s (%s) gave no "
					  "valid result: %s", type, x->command, why);
		}
		*ret_text = o.out;
		o.out = NULL;
	}
	cni_output_clear(&o);
	return 0;
}

/* DEL plugins last..0 of c; the first error is returned. */
static int del_plugins(const struct cni_settings *s, const struct chain *c, size_t last,
		       const struct cni_pod *pod, const char *netns, struct json_object *prev,
		       struct crisp_error *err)
{
	struct run_ctx x = { s, c, pod, "DEL", { { NULL } } };
	int r = cni_env_build(s, "DEL", pod->id, netns, CNI_IFNAME, pod, &x.env, err);
	if (r < 0)
		return r;
	if (!cni_version_at_least(c->version, 0, 4, 0))
		prev = NULL;
	int first = 0;
	for (size_t i = last + 1; i-- > 0;) {
		struct crisp_error e = { 0, "" };
		r = plugin_run(&x, i, prev, NULL, NULL, first ? &e : err);
		if (r < 0 && !first)
			first = r;
	}
	cni_env_clear(&x.env);
	return first;
}

/* After plugin k failed with err: DEL k..0; a failure there is added to err. */
static void undo(const struct cni_settings *s, const struct chain *c, size_t k,
		 const struct cni_pod *pod, struct json_object *prev, struct crisp_error *err)
{
	struct crisp_error e = { 0, "" };
	if (del_plugins(s, c, k, pod, pod->netns, prev, &e) < 0 && err) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, " (and undoing the ADD failed: %s)",
			 e.msg);
	}
}

static bool path_exists(const char *path)
{
	struct stat st;
	return path && *path && stat(path, &st) == 0;
}

static int pod_netns_check(const char *netns, struct crisp_error *err)
{
	if (!path_exists(netns))
		return crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -ENOENT,
				  "the pod's network namespace \"%.200s\" does not exist",
				  netns ? netns : "");
	return 0;
}

/* ADD every plugin of c; the last result and its text. */
static int add_plugins(const struct cni_settings *s, const struct chain *c,
		       const struct cni_pod *pod, struct json_object **ret_result,
		       char **ret_text, struct crisp_error *err)
{
	struct run_ctx x = { s, c, pod, "ADD", { { NULL } } };
	int r = cni_env_build(s, "ADD", pod->id, pod->netns, CNI_IFNAME, pod, &x.env, err);
	if (r < 0)
		return r;
	struct json_object *prev = NULL;
	char *prev_text = NULL;
	for (size_t i = 0; i < c->n; i++) {
		struct json_object *result = NULL;
		char *text = NULL;
		r = plugin_run(&x, i, prev, &result, &text, err);
		if (r < 0) {
			undo(s, c, i, pod, prev, err);
			break;
		}
		json_object_put(prev);
		free(prev_text);
		prev = result;
		prev_text = text;
	}
	cni_env_clear(&x.env);
	if (r < 0) {
		json_object_put(prev);
		free(prev_text);
		return r;
	}
	*ret_result = prev;
	*ret_text = prev_text;
	return 0;
}

int cni_add(const struct cni_settings *s, const struct cni_net *net, const struct cni_pod *pod,
	    struct cni_attachment *ret, struct crisp_error *err)
{
	struct chain c;
	if (!net)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				  "CNI ADD of pod %s: no network", pod->id ? pod->id : "");
	int r = pod_netns_check(pod->netns, err);
	if (r == 0)
		r = chain_open(net->json, &c, err);
	if (r < 0)
		return r;
	struct cni_attachment a = { NULL, NULL, NULL, 0 };
	struct json_object *result = NULL;
	r = add_plugins(s, &c, pod, &result, &a.result_json, err);
	if (r == 0)
		r = cni_result_ips_of(result, &a.ips, &a.n_ips, err);
	if (r == 0 && a.n_ips == 0)
		r = crisp_fail(err, CRISP_STATUS_UNKNOWN, -EADDRNOTAVAIL,
			       "the network \"%s\" gave the pod no IP address", c.name);
	if (r == 0 && !(a.net_json = strdup(net->json)))
		r = crisp_fail_errno(err, -ENOMEM, "the CNI attachment");
	if (r < 0 && result)            /* the chain ran but its result is unusable */
		undo(s, &c, c.n - 1, pod, result, err);
	json_object_put(result);
	json_object_put(c.list);
	if (r < 0) {
		cni_attachment_clear(&a);
		return r;
	}
	*ret = a;
	return 0;
}

int cni_del(const struct cni_settings *s, const struct cni_net *net,
	    const struct cni_attachment *att, const struct cni_pod *pod, struct crisp_error *err)
{
	const char *json = att && att->net_json ? att->net_json : net ? net->json : NULL;
	if (!json)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				  "CNI DEL of pod %s: no network config", pod->id);
	struct chain c;
	int r = chain_open(json, &c, err);
	if (r < 0)
		return r;
	struct json_object *prev = NULL;
	const char *why = NULL;
	if (att && att->result_json &&          /* unreadable: DEL without it */
	    cni_json_parse_object(att->result_json, strlen(att->result_json), &prev, &why) < 0)
		prev = NULL;
	const char *netns = path_exists(pod->netns) ? pod->netns : "";
	r = del_plugins(s, &c, c.n - 1, pod, netns, prev, err);
	json_object_put(prev);
	json_object_put(c.list);
	return r;
}

int cni_loopback(const struct cni_settings *s, const char *netns, struct crisp_error *err)
{
	struct chain c;
	int r = pod_netns_check(netns, err);
	if (r == 0)
		r = chain_open(LOOPBACK_LIST, &c, err);
	if (r < 0)
		return r;
	struct run_ctx x = { s, &c, NULL, "ADD", { { NULL } } };
	struct json_object *result = NULL;
	char *text = NULL;
	r = cni_env_build(s, "ADD", LOOPBACK_ID, netns, "lo", NULL, &x.env, err);
	if (r == 0)
		r = plugin_run(&x, 0, NULL, &result, &text, err);
	cni_env_clear(&x.env);
	json_object_put(result);
	free(text);
	json_object_put(c.list);
	return r;
}

void cni_attachment_clear(struct cni_attachment *a)
{
	if (!a)
		return;
	free(a->net_json);
	free(a->result_json);
	for (size_t i = 0; i < a->n_ips; i++)
		free(a->ips[i]);
	free(a->ips);
	*a = (struct cni_attachment){ NULL, NULL, NULL, 0 };
}
