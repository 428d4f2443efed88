/*
 * cni/args: what one plugin run is given besides its own config: the CNI
 * environment (and nothing of sandboxd's: PATH is fixed, as portmap and
 * bridge run iptables and ip), and the "runtimeConfig" of the capabilities
 * it declares, in the forms libcni's callers use:
 *   portMappings  [{hostPort, containerPort, protocol "tcp"|"udp"|"sctp",
 *                 hostIP}] from the CRI port mappings, those with host port
 *                 0 left out (as kubelet and containerd do)
 *   bandwidth     {ingressRate, ingressBurst, egressRate, egressBurst} in
 *                 bits/s, each direction only when set, its burst
 *                 UINT32_MAX bits (containerd's conversion)
 *   cgroupPath    the pod's cgroup
 * CNI_ARGS is "IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..;
 * K8S_POD_INFRA_CONTAINER_ID=..;K8S_POD_UID=..": a value with ';', '=' or a
 * control character is refused rather than passed mangled. Never logs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/status.h"
#include "sandboxd/cni/cni_int.h"

#define CNI_PLUGIN_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define CNI_ID_MAX 256
#define CNI_ARG_MAX 256

/* A container id as the plugins' skel accepts it: [A-Za-z0-9][A-Za-z0-9_.-]*. */
static bool valid_id(const char *id)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = strlen(id);
	size_t head = strspn(id, alnum);
	return n > 0 && n <= CNI_ID_MAX && head > 0 &&
	       head + strspn(id + head, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			     "0123456789_.-") == n;
}

static bool valid_arg(const char *v)
{
	if (strlen(v) > CNI_ARG_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == ';' || *p == '=')
			return false;
	return true;
}

static char *var(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *var(const char *fmt, ...)
{
	char *v = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&v, fmt, ap) < 0)
		v = NULL;
	va_end(ap);
	return v;
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

int cni_env_build(const struct cni_settings *s, const char *command, const char *id,
		  const char *netns, const char *ifname, const struct cni_pod *pod,
		  struct cni_env *ret, struct crisp_error *err)
{
	struct cni_env e = { { NULL } };
	char args[5 * CNI_ARG_MAX + 128] = "";
	if (!id || !valid_id(id))
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				  "\"%.80s\" cannot be a CNI container id", or_empty(id));
	if (pod) {
		const char *v[] = { or_empty(pod->namespace_), or_empty(pod->name),
				    or_empty(pod->id), or_empty(pod->uid) };
		for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
			if (!valid_arg(v[i]))
				return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
						  "\"%.80s\" cannot be passed in CNI_ARGS", v[i]);
		snprintf(args, sizeof args, "IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
			 "K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=%s", v[0], v[1], v[2], v[3]);
	}
	e.vars[0] = var("CNI_COMMAND=%s", command);
	e.vars[1] = var("CNI_CONTAINERID=%s", id);
	e.vars[2] = var("CNI_NETNS=%s", or_empty(netns));
	e.vars[3] = var("CNI_IFNAME=%s", ifname);
	e.vars[4] = var("CNI_ARGS=%s", args);
	e.vars[5] = var("CNI_PATH=%s", or_empty(s->bin_dirs));
	e.vars[6] = var("PATH=%s", CNI_PLUGIN_PATH);
	for (size_t i = 0; i < 7; i++) {
		if (!e.vars[i]) {
			cni_env_clear(&e);
			return crisp_fail_errno(err, -ENOMEM, "the CNI environment");
		}
	}
	*ret = e;
	return 0;
}

void cni_env_clear(struct cni_env *e)
{
	for (size_t i = 0; i < sizeof e->vars / sizeof e->vars[0]; i++) {
		free(e->vars[i]);
		e->vars[i] = NULL;
	}
}

static bool capability_on(struct json_object *caps, const char *name)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(caps, name, &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static const char *protocol_name(Runtime__V1__Protocol p)
{
	switch (p) {
	case RUNTIME__V1__PROTOCOL__TCP:
		return "tcp";
	case RUNTIME__V1__PROTOCOL__UDP:
		return "udp";
	case RUNTIME__V1__PROTOCOL__SCTP:
		return "sctp";
	default:
		return NULL;
	}
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

static int port_mappings(const struct cni_pod *pod, struct json_object **ret)
{
	struct json_object *a = json_object_new_array();
	int r = a ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < pod->n_ports; i++) {
		const Runtime__V1__PortMapping *p = pod->ports[i];
		const char *proto = p ? protocol_name(p->protocol) : NULL;
		if (!p || p->host_port <= 0 || !proto)
			continue;
		struct json_object *m = json_object_new_object();
		r = m ? 0 : -ENOMEM;
		if (r == 0)
			r = put(m, "hostPort", json_object_new_int(p->host_port));
		if (r == 0)
			r = put(m, "containerPort", json_object_new_int(p->container_port));
		if (r == 0)
			r = put(m, "protocol", json_object_new_string(proto));
		if (r == 0 && p->host_ip && *p->host_ip)
			r = put(m, "hostIP", json_object_new_string(p->host_ip));
		if (r == 0 && json_object_array_add(a, m) < 0)
			r = -ENOMEM;
		if (r < 0)
			json_object_put(m);
	}
	if (r < 0 || json_object_array_length(a) == 0) {
		json_object_put(a);
		a = NULL;
	}
	*ret = a;
	return r;
}

static int bandwidth(const struct cni_pod *pod, struct json_object **ret)
{
	struct json_object *b = json_object_new_object();
	int r = b ? 0 : -ENOMEM;
	if (r == 0 && pod->ingress_bps) {
		r = put(b, "ingressRate", json_object_new_uint64(pod->ingress_bps));
		if (r == 0)
			r = put(b, "ingressBurst", json_object_new_uint64(UINT32_MAX));
	}
	if (r == 0 && pod->egress_bps) {
		r = put(b, "egressRate", json_object_new_uint64(pod->egress_bps));
		if (r == 0)
			r = put(b, "egressBurst", json_object_new_uint64(UINT32_MAX));
	}
	if (r < 0) {
		json_object_put(b);
		b = NULL;
	}
	*ret = b;
	return r;
}

int cni_runtime_config(struct json_object *plugin, const struct cni_pod *pod,
		       struct json_object **ret)
{
	struct json_object *caps = NULL, *v = NULL;
	*ret = NULL;
	if (!pod || !json_object_object_get_ex(plugin, "capabilities", &caps) ||
	    !json_object_is_type(caps, json_type_object))
		return 0;
	struct json_object *rc = json_object_new_object();
	int r = rc ? 0 : -ENOMEM;
	if (r == 0 && capability_on(caps, "portMappings")) {
		r = port_mappings(pod, &v);
		if (r == 0 && v)
			r = put(rc, "portMappings", v);
	}
	if (r == 0 && capability_on(caps, "bandwidth") && (pod->ingress_bps || pod->egress_bps)) {
		r = bandwidth(pod, &v);
		if (r == 0)
			r = put(rc, "bandwidth", v);
	}
	if (r == 0 && capability_on(caps, "cgroupPath") && pod->cgroup_path && *pod->cgroup_path)
		r = put(rc, "cgroupPath", json_object_new_string(pod->cgroup_path));
	if (r < 0 || json_object_object_length(rc) == 0) {
		json_object_put(rc);
		return r;
	}
	*ret = rc;
	return 0;
}
