/*
 * status: PodSandboxStatus and ListPodSandbox, answered from memory. A pod
 * being made is not shown yet; READY is SANDBOX_READY, every other state
 * SANDBOX_NOTREADY. The status carries the pod's IPs (while its network is
 * up), its namespace options, its containers' statuses (for kubelet's
 * evented PLEG) and, verbose, an "info" JSON (pod-init pid, namespace
 * pins, cgroup, CNI result). List filters exactly per the spec: id (a
 * prefix, as containerd matches truncated ids), state, every label of
 * label_selector. Answers point into the pods' immutable configs; the
 * arena holds the pods' references until it is freed. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/status.h"
#include "sandboxd/answer.h"
#include "sandboxd/container/ctr.h"
#include "sandboxd/pod/pod.h"

static Runtime__V1__PodSandboxNetworkStatus *network(const struct pod *p, struct arena *a)
{
	Runtime__V1__PodSandboxNetworkStatus *n = arena_new(a, Runtime__V1__PodSandboxNetworkStatus);
	if (!n)
		return NULL;
	runtime__v1__pod_sandbox_network_status__init(n);
	if (p->state != POD_READY || !p->n_ips)
		return n;
	n->ip = p->ips[0];
	n->additional_ips = arena_alloc(a, p->n_ips * sizeof *n->additional_ips);
	for (size_t i = 1; n->additional_ips && i < p->n_ips; i++) {
		Runtime__V1__PodIP *ip = arena_new(a, Runtime__V1__PodIP);
		if (!ip)
			return NULL;
		runtime__v1__pod_ip__init(ip);
		ip->ip = p->ips[i];
		n->additional_ips[n->n_additional_ips++] = ip;
	}
	return n;
}

static Runtime__V1__LinuxPodSandboxStatus *linux_status(const struct pod *p, struct arena *a)
{
	Runtime__V1__LinuxPodSandboxStatus *l = arena_new(a, Runtime__V1__LinuxPodSandboxStatus);
	Runtime__V1__Namespace *ns = arena_new(a, Runtime__V1__Namespace);
	if (!l || !ns)
		return NULL;
	runtime__v1__linux_pod_sandbox_status__init(l);
	runtime__v1__namespace__init(ns);
	const Runtime__V1__PodSandboxConfig *cfg = p->config;
	ns->options = cfg->linux && cfg->linux->security_context ?
		      cfg->linux->security_context->namespace_options : NULL;
	if (!ns->options) {
		/* the defaults, said: POD network and IPC, CONTAINER pid */
		Runtime__V1__NamespaceOption *o = arena_new(a, Runtime__V1__NamespaceOption);
		if (!o)
			return NULL;
		runtime__v1__namespace_option__init(o);
		o->pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
		ns->options = o;
	}
	l->namespaces = ns;
	return l;
}

static void info(struct sbx *s, const struct pod *p, struct arena *a,
		 Runtime__V1__PodSandboxStatusResponse *resp)
{
	char path[PATH_MAX];
	json_object *o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "pid", json_object_new_int(p->init_pid));
	if (p->netns && sbx_pod_path(s, p->id, "ns/net", path, sizeof path) == 0)
		json_object_object_add(o, "netNamespace", json_object_new_string(path));
	json_object_object_add(o, "cgroupParent", json_object_new_string(pod_cgroup(p)));
	json_object_object_add(o, "runtimeHandler", json_object_new_string(p->handler));
	if (p->cni_result) {
		json_object *r = json_tokener_parse(p->cni_result);
		if (r)
			json_object_object_add(o, "cniResult", r);
	}
	resp->info = answer_map1(a, "info", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
				 &runtime__v1__pod_sandbox_status_response__info_entry__descriptor,
				 &resp->n_info);
	json_object_put(o);
}

/* The statuses of the pod's containers (they stay held by the arena). */
static void container_statuses(struct sbx *s, const struct pod *p, struct arena *a,
			       Runtime__V1__PodSandboxStatusResponse *resp)
{
	struct ctr **v;
	size_t n;
	if (state_pod_ctrs(s->st, p->id, &v, &n) < 0)
		return;
	resp->containers_statuses = arena_alloc(a, (n ? n : 1) * sizeof *resp->containers_statuses);
	state_lock(s->st);
	for (size_t i = 0; resp->containers_statuses && i < n; i++) {
		if (v[i]->state == CTR_CREATING)
			continue;
		Runtime__V1__ContainerStatus *cs = ctr_cri_status(v[i], a);
		if (cs)
			resp->containers_statuses[resp->n_containers_statuses++] = cs;
	}
	state_unlock(s->st);
	answer_hold_ctrs(a, s->st, v, n);
}

int pod_status(struct sbx *s, const Runtime__V1__PodSandboxStatusRequest *rq,
	       struct arena *a, Runtime__V1__PodSandboxStatusResponse **ret,
	       struct crisp_error *err)
{
	struct pod *p;
	int r = state_pod_get(s->st, rq->pod_sandbox_id, &p);
	if (r == 0 && p->state == POD_CREATING) {
		state_pod_put(s->st, p);
		r = -ENOENT;
	}
	if (r < 0)
		return crisp_fail(err, r == -ENOENT ? CRISP_STATUS_NOT_FOUND :
				  CRISP_STATUS_INVALID_ARGUMENT, r, "pod sandbox %.80s: %s",
				  rq->pod_sandbox_id, r == -ENOENT ? "not found" :
				  r == -ENOTUNIQ ? "an ambiguous id prefix" : "not an id");
	answer_hold_pod(a, s->st, p);
	Runtime__V1__PodSandboxStatusResponse *resp = arena_new(a, Runtime__V1__PodSandboxStatusResponse);
	Runtime__V1__PodSandboxStatus *st = arena_new(a, Runtime__V1__PodSandboxStatus);
	if (!resp || !st)
		return crisp_fail_errno(err, -ENOMEM, "pod status");
	runtime__v1__pod_sandbox_status_response__init(resp);
	runtime__v1__pod_sandbox_status__init(st);
	state_lock(s->st);
	st->id = p->id;
	st->metadata = p->config->metadata;
	st->state = pod_cri_state(p->state);
	st->created_at = p->created_ns;
	st->network = network(p, a);
	st->linux = linux_status(p, a);
	st->labels = answer_map(a, (void *const *)p->config->labels, p->config->n_labels,
			      &runtime__v1__pod_sandbox_status__labels_entry__descriptor,
			      &st->n_labels);
	st->annotations = answer_map(a, (void *const *)p->config->annotations,
				   p->config->n_annotations,
				   &runtime__v1__pod_sandbox_status__annotations_entry__descriptor,
				   &st->n_annotations);
	st->runtime_handler = p->handler;
	if (rq->verbose)
		info(s, p, a, resp);
	state_unlock(s->st);
	resp->status = st;
	container_statuses(s, p, a, resp);
	resp->timestamp = sbx_now_ns();
	if (a->failed)
		return crisp_fail_errno(err, a->failed, "pod status");
	*ret = resp;
	return 0;
}

static bool match(const struct pod *p, const Runtime__V1__PodSandboxFilter *f)
{
	if (p->state == POD_CREATING)
		return false;
	if (!f)
		return true;
	if (f->id && f->id[0] && strncmp(p->id, f->id, strlen(f->id)) != 0)
		return false;
	if (f->state && pod_cri_state(p->state) != f->state->state)
		return false;
	for (size_t i = 0; i < f->n_label_selector; i++) {
		bool found = false;
		for (size_t j = 0; j < p->config->n_labels && !found; j++)
			found = !strcmp(p->config->labels[j]->key, f->label_selector[i]->key) &&
				!strcmp(p->config->labels[j]->value, f->label_selector[i]->value);
		if (!found)
			return false;
	}
	return true;
}

int pod_list(struct sbx *s, const Runtime__V1__ListPodSandboxRequest *rq, struct arena *a,
	     Runtime__V1__ListPodSandboxResponse **ret, struct crisp_error *err)
{
	struct pod **v;
	size_t n;
	int r = state_pods_all(s->st, &v, &n);
	if (r < 0)
		return crisp_fail_errno(err, r, "pods");
	Runtime__V1__ListPodSandboxResponse *resp = arena_new(a, Runtime__V1__ListPodSandboxResponse);
	Runtime__V1__PodSandbox **out = arena_alloc(a, (n ? n : 1) * sizeof *out);
	if (resp && out) {
		runtime__v1__list_pod_sandbox_response__init(resp);
		state_lock(s->st);
		for (size_t i = 0; i < n && !a->failed; i++) {
			const struct pod *p = v[i];
			if (!match(p, rq->filter))
				continue;
			Runtime__V1__PodSandbox *x = arena_new(a, Runtime__V1__PodSandbox);
			if (!x)
				break;
			runtime__v1__pod_sandbox__init(x);
			x->id = (char *)p->id;
			x->metadata = p->config->metadata;
			x->state = pod_cri_state(p->state);
			x->created_at = p->created_ns;
			x->labels = answer_map(a, (void *const *)p->config->labels,
					       p->config->n_labels,
					       &runtime__v1__pod_sandbox__labels_entry__descriptor,
					       &x->n_labels);
			x->annotations = answer_map(a, (void *const *)p->config->annotations,
						    p->config->n_annotations,
						    &runtime__v1__pod_sandbox__annotations_entry__descriptor,
						    &x->n_annotations);
			x->runtime_handler = (char *)p->handler;
			out[resp->n_items++] = x;
		}
		state_unlock(s->st);
		resp->items = out;
	}
	answer_hold_pods(a, s->st, v, n);       /* takes v: not used after this */
	if (!resp || !out || a->failed)
		return crisp_fail(err, a->failed == -E2BIG ? CRISP_STATUS_RESOURCE_EXHAUSTED :
				  CRISP_STATUS_INTERNAL, a->failed ? a->failed : -ENOMEM,
				  "the list of pods is too large for one answer%s",
				  a->failed == -E2BIG ? " (use StreamPodSandboxes)" : "");
	*ret = resp;
	return 0;
}
