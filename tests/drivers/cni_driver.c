/*
 * cni-driver: a test-only program (build/tests/cni-driver) that runs
 * sandboxd/cni for tests/integration/test_cni.py, which drives it with the
 * real CNI plugins. One JSON request on stdin, one JSON answer on stdout:
 *
 *   {"op": "status" | "load" | "loopback" | "add" | "del",
 *    "settings": {"conf_dir", "bin_dirs", "default_bridge", "default_subnet",
 *                 "ipam_dir", "timeout_ms"},
 *    "netns": "/run/netns/x",                          (loopback)
 *    "pod": {"id", "netns", "name", "namespace", "uid", "ingress_bps",
 *            "egress_bps", "cgroup_path", "ports": [{"protocol": "tcp",
 *            "container_port", "host_port", "host_ip"}]},   (add, del)
 *    "attachment": {"net_json", "result_json"}}        (del; absent: DEL on
 *                                                       the network loaded now)
 *
 *   {"ok": true, ...what the op gives} or {"ok": false, "code", "error"}
 *
 * Exits 0 when it could answer. Not installed; never part of a daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "sandboxd/cni/cni.h"
#include "sandboxd/cni/cni_int.h"
#include "sandboxd/cni/status.h"

#define REQUEST_MAX (4u * 1024u * 1024u)
#define MAX_PORTS 16

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : NULL;
}

static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static struct json_object *obj(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_object) ?
	       v : NULL;
}

static void settings_of(struct json_object *o, struct cni_settings *s)
{
	*s = (struct cni_settings){
		.conf_dir = str(o, "conf_dir"), .bin_dirs = str(o, "bin_dirs"),
		.default_bridge = str(o, "default_bridge"),
		.default_subnet = str(o, "default_subnet"), .ipam_dir = str(o, "ipam_dir"),
		.timeout_ms = (unsigned)num(o, "timeout_ms"),
	};
}

struct pod_in {
	Runtime__V1__PortMapping pm[MAX_PORTS];
	Runtime__V1__PortMapping *ports[MAX_PORTS];
	struct cni_pod pod;
};

static void pod_of(struct json_object *o, struct pod_in *p)
{
	memset(p, 0, sizeof *p);
	p->pod = (struct cni_pod){
		.id = str(o, "id"), .netns = str(o, "netns"), .name = str(o, "name"),
		.namespace_ = str(o, "namespace"), .uid = str(o, "uid"),
		.ingress_bps = (uint64_t)num(o, "ingress_bps"),
		.egress_bps = (uint64_t)num(o, "egress_bps"), .cgroup_path = str(o, "cgroup_path"),
		.ports = p->ports,
	};
	struct json_object *ports = NULL;
	if (!json_object_object_get_ex(o, "ports", &ports) ||
	    !json_object_is_type(ports, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(ports) && i < MAX_PORTS; i++) {
		struct json_object *m = json_object_array_get_idx(ports, i);
		const char *proto = str(m, "protocol");
		p->pm[i] = (Runtime__V1__PortMapping)RUNTIME__V1__PORT_MAPPING__INIT;
		p->pm[i].protocol = proto && strcmp(proto, "udp") == 0 ? RUNTIME__V1__PROTOCOL__UDP :
				    proto && strcmp(proto, "sctp") == 0 ? RUNTIME__V1__PROTOCOL__SCTP :
				    RUNTIME__V1__PROTOCOL__TCP;
		p->pm[i].container_port = (int32_t)num(m, "container_port");
		p->pm[i].host_port = (int32_t)num(m, "host_port");
		p->pm[i].host_ip = (char *)(str(m, "host_ip") ? str(m, "host_ip") : "");
		p->ports[i] = &p->pm[i];
		p->pod.n_ports = i + 1;
	}
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static int op_status(const struct cni_settings *s, struct json_object *ans)
{
	struct cni_status st;
	int r = cni_status_check_settings(s, &st);
	json_object_object_add(ans, "ready", json_object_new_boolean(st.ready));
	add_str(ans, "reason", st.reason);
	add_str(ans, "message", st.message);
	add_str(ans, "config_file", st.config_file);
	add_str(ans, "network_name", st.network_name);
	json_object_object_add(ans, "default_network", json_object_new_boolean(st.default_network));
	return r;
}

static int op_load(const struct cni_settings *s, struct json_object *ans, struct crisp_error *err)
{
	struct cni_net *n = NULL;
	int r = cni_net_load(s, &n, err);
	if (r < 0)
		return r;
	add_str(ans, "name", cni_net_name(n));
	add_str(ans, "file", cni_net_file(n));
	json_object_object_add(ans, "default", json_object_new_boolean(cni_net_is_default(n)));
	add_str(ans, "json", n->json);
	cni_net_free(n);
	return 0;
}

static int op_add(const struct cni_settings *s, const struct cni_pod *pod, struct json_object *ans,
		  struct crisp_error *err)
{
	struct cni_net *n = NULL;
	struct cni_attachment att;
	int r = cni_net_load(s, &n, err);
	if (r == 0)
		r = cni_add(s, n, pod, &att, err);
	cni_net_free(n);
	if (r < 0)
		return r;
	struct json_object *a = json_object_new_object(), *ips = json_object_new_array();
	add_str(a, "net_json", att.net_json);
	add_str(a, "result_json", att.result_json);
	for (size_t i = 0; i < att.n_ips; i++)
		json_object_array_add(ips, json_object_new_string(att.ips[i]));
	json_object_object_add(a, "ips", ips);
	json_object_object_add(ans, "attachment", a);
	cni_attachment_clear(&att);
	return 0;
}

static int op_del(const struct cni_settings *s, const struct cni_pod *pod,
		  struct json_object *a, struct crisp_error *err)
{
	if (a) {
		struct cni_attachment att = {
			.net_json = (char *)str(a, "net_json"),
			.result_json = (char *)str(a, "result_json"),
		};
		return cni_del(s, NULL, &att, pod, err);
	}
	struct cni_net *n = NULL;
	int r = cni_net_load(s, &n, err);
	if (r == 0)
		r = cni_del(s, n, NULL, pod, err);
	cni_net_free(n);
	return r;
}

int main(void)
{
	char *buf = NULL;
	size_t len = 0;
	struct json_object *req = NULL;
	const char *why = "";
	if (fs_read_fd(0, REQUEST_MAX, &buf, &len) < 0 ||
	    cni_json_parse_object(buf, len, &req, &why) < 0) {
		fprintf(stderr, "cni-driver: a JSON request on stdin, please (%s)\n", why);
		return 2;
	}
	struct cni_settings s;
	struct pod_in p;
	settings_of(obj(req, "settings"), &s);
	pod_of(obj(req, "pod"), &p);
	const char *op = str(req, "op") ? str(req, "op") : "";
	struct json_object *ans = json_object_new_object();
	struct crisp_error err = { 0, "" };
	int r;
	if (strcmp(op, "status") == 0)
		r = op_status(&s, ans);
	else if (strcmp(op, "load") == 0)
		r = op_load(&s, ans, &err);
	else if (strcmp(op, "loopback") == 0)
		r = cni_loopback(&s, str(req, "netns"), &err);
	else if (strcmp(op, "add") == 0)
		r = op_add(&s, &p.pod, ans, &err);
	else if (strcmp(op, "del") == 0)
		r = op_del(&s, &p.pod, obj(req, "attachment"), &err);
	else
		r = crisp_fail(&err, 3, -EINVAL, "unknown op \"%s\"", op);
	json_object_object_add(ans, "ok", json_object_new_boolean(r == 0));
	if (r < 0) {
		json_object_object_add(ans, "code", json_object_new_int(err.code));
		add_str(ans, "error", err.msg);
	}
	puts(json_object_to_json_string_ext(ans, JSON_C_TO_STRING_PLAIN));
	json_object_put(ans);
	json_object_put(req);
	free(buf);
	return fflush(stdout) == 0 ? 0 : 1;
}
