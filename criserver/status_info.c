/*
 * status_info: the JSON `info` of a verbose Status (see status_info.h),
 * with json-c. Times are RFC 3339 in UTC (no time zone files are read:
 * criserver may not open files after its privilege drop).
 * Must never put a secret into the info.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <grpc/grpc.h>
#include <json-c/json.h>

#include "criserver/status_info.h"

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void rfc3339(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)ms);
}

static json_object *handlers_json(const struct crisp_config *c)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < c->n_handlers; i++) {
		json_object *h = json_object_new_object();
		if (!h)
			break;
		json_object_object_add(h, "name", jstr(c->handlers[i].name));
		json_object_object_add(h, "path", jstr(c->handlers[i].path));
		json_object_object_add(h, "root", jstr(c->handlers[i].root));
		json_object_array_add(a, h);
	}
	return a;
}

static json_object *pinned_json(const struct crisp_config *c)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < c->n_pinned; i++)
		json_object_array_add(a, jstr(c->pinned_images[i]));
	return a;
}

/* Turn o into an owned string and release o; NULL when out of memory. */
static char *to_text(json_object *o)
{
	char *s = NULL;
	if (o) {
		const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		s = t ? strdup(t) : NULL;
		json_object_put(o);
	}
	return s;
}

char *status_info_config_json(const struct crisp_config *c)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "config_file", jstr(c->config_file));
	json_object_object_add(o, "config_dir", jstr(c->config_dir));
	json_object_object_add(o, "supervised", json_object_new_boolean(c->supervised));
	json_object_object_add(o, "root", jstr(c->root));
	json_object_object_add(o, "runroot", jstr(c->runroot));
	json_object_object_add(o, "listen", jstr(c->listen));
	json_object_object_add(o, "user", jstr(c->user));
	json_object_object_add(o, "log_level", json_object_new_int(c->log_level));
	json_object_object_add(o, "max_msg_size", json_object_new_int64((int64_t)c->max_msg_size));
	json_object_object_add(o, "max_connections", json_object_new_int64(c->max_connections));
	json_object_object_add(o, "idle_timeout", json_object_new_int64(c->idle_timeout));
	json_object_object_add(o, "handshake_timeout", json_object_new_int64(c->handshake_timeout));
	json_object_object_add(o, "max_call_timeout", json_object_new_int64(c->max_call_timeout));
	json_object_object_add(o, "cgroup_manager", jstr(c->cgroup_manager));
	json_object_object_add(o, "default_runtime", jstr(c->default_runtime));
	json_object_object_add(o, "runtimes", handlers_json(c));
	json_object_object_add(o, "cni_conf_dir", jstr(c->cni_conf_dir));
	json_object_object_add(o, "cni_bin_dirs", jstr(c->cni_bin_dirs));
	json_object_object_add(o, "stream_address", jstr(c->stream_address));
	json_object_object_add(o, "stream_port", json_object_new_int64(c->stream_port));
	json_object_object_add(o, "pinned_images", pinned_json(c));
	return to_text(o);
}

static char *daemons_json(struct criserver *cs)
{
	json_object *o = json_object_new_object();
	for (int i = 0; o && i < BACKEND_N; i++) {
		struct backend_info bi;
		char since[64];
		json_object *d = json_object_new_object();
		if (!d)
			break;
		backend_get_info(cs->backends[i], &bi);
		rfc3339(bi.since_ms, since, sizeof since);
		json_object_object_add(d, "connected", json_object_new_boolean(bi.ready));
		json_object_object_add(d, "since", json_object_new_string(since));
		json_object_object_add(d, "connects", json_object_new_int64(bi.connects));
		json_object_object_add(d, "requests_in_flight", json_object_new_int64(bi.pending));
		if (bi.pid > 0) {
			json_object_object_add(d, "pid", json_object_new_int64(bi.pid));
			json_object_object_add(d, "name", json_object_new_string(bi.peer_name));
		}
		if (!bi.ready)
			json_object_object_add(d, "error", json_object_new_string(bi.last_error));
		json_object_object_add(o, bi.name, d);
	}
	return to_text(o);
}

static json_object *connections_json(struct criserver *cs)
{
	struct cri_socket_stats st;
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	cri_socket_get_stats(cs->sock, &st);
	json_object_object_add(o, "open", json_object_new_int64(st.open));
	json_object_object_add(o, "in_handshake", json_object_new_int64(st.handshaking));
	json_object_object_add(o, "accepted", json_object_new_int64((int64_t)st.accepted));
	json_object_object_add(o, "handed_to_grpc", json_object_new_int64((int64_t)st.handed));
	json_object_object_add(o, "closed_for_newcomers",
			       json_object_new_int64((int64_t)st.evicted));
	json_object_object_add(o, "handshake_timed_out",
			       json_object_new_int64((int64_t)st.expired));
	json_object_object_add(o, "not_http2", json_object_new_int64((int64_t)st.bad_preface));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)st.refused));
	return o;
}

static char *criserver_json(struct criserver *cs)
{
	char started[64];
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	rfc3339(cs->started_ms, started, sizeof started);
	json_object_object_add(o, "version", json_object_new_string(CRISP_VERSION));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "started", json_object_new_string(started));
	json_object_object_add(o, "grpc_version", json_object_new_string(grpc_version_string()));
	json_object_object_add(o, "calls_in_flight",
			       json_object_new_int64(rpc_server_calls(cs->rpc)));
	json_object_object_add(o, "connections", connections_json(cs));
	return to_text(o);
}

char *status_info_network_json(const Crisp__NetworkStatus *net, const char *net_error)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "known", json_object_new_boolean(net != NULL));
	if (!net) {
		json_object_object_add(o, "error", jstr(net_error ? net_error : "no answer"));
		return to_text(o);
	}
	json_object_object_add(o, "ready", json_object_new_boolean(net->ready));
	json_object_object_add(o, "reason", jstr(net->reason));
	json_object_object_add(o, "message", jstr(net->message));
	json_object_object_add(o, "config_file", jstr(net->config_file));
	json_object_object_add(o, "network_name", jstr(net->network_name));
	json_object_object_add(o, "default_network",
			       json_object_new_boolean(net->default_network));
	json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < net->n_handlers; i++) {
		const Crisp__RuntimeHandlerInfo *hi = net->handlers[i];
		json_object *h = json_object_new_object();
		if (!h)
			break;
		json_object_object_add(h, "name", jstr(hi->name));
		json_object_object_add(h, "recursive_read_only_mounts",
				       json_object_new_boolean(hi->recursive_read_only_mounts));
		json_object_object_add(h, "user_namespaces",
				       json_object_new_boolean(hi->user_namespaces));
		json_object_array_add(a, h);
	}
	json_object_object_add(o, "handlers", a);
	return to_text(o);
}

void status_info_free(struct status_info *info)
{
	for (size_t i = 0; i < info->n; i++)
		free(info->entry[i].value);
	info->n = 0;
}

int status_info_build(struct criserver *cs, const Crisp__NetworkStatus *net,
		      const char *net_error, struct status_info *ret)
{
	static const char *const keys[STATUS_INFO_MAX] = {
		"criserver", "config", "daemons", "network",
	};
	char *values[STATUS_INFO_MAX] = {
		criserver_json(cs), status_info_config_json(cs->cfg), daemons_json(cs),
		status_info_network_json(net, net_error),
	};

	for (size_t i = 0; i < STATUS_INFO_MAX; i++) {
		if (values[i])
			continue;
		for (size_t k = 0; k < STATUS_INFO_MAX; k++)
			free(values[k]);
		return -ENOMEM;
	}
	ret->n = STATUS_INFO_MAX;
	for (size_t i = 0; i < STATUS_INFO_MAX; i++) {
		ret->entry[i] = (Runtime__V1__StatusResponse__InfoEntry)
			RUNTIME__V1__STATUS_RESPONSE__INFO_ENTRY__INIT;
		ret->entry[i].key = (char *)keys[i];
		ret->entry[i].value = values[i];
		ret->entries[i] = &ret->entry[i];
	}
	return 0;
}
