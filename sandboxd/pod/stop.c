/*
 * stop: StopPodSandbox, and the teardown that undoes what a pod's row says
 * exists (used by stop, remove, a failed run and recovery). Stop kills the
 * pod's containers that still run, stops its pod-init, runs CNI DEL (with
 * the config and result saved at ADD, so that a changed config dir cannot
 * strand its IP) and unpins its namespaces and /dev/shm: the pod is then
 * NOTREADY. Remove also removes its containers, its cgroup (when crisp made
 * it), its dir and its row. Every step is idempotent and saved as done, so
 * a teardown cut short is simply run again. Stopping what is gone or
 * stopped already succeeds. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/status.h"
#include "sandboxd/container/ctr.h"
#include "sandboxd/pod/pod.h"

#define POD_KILL_WAIT_MS 30000

static int save(struct sbx *s, struct pod *p, struct crisp_error *err)
{
	state_lock(s->st);
	int r = state_pod_save(s->st, p);
	state_unlock(s->st);
	return r < 0 ? crisp_fail_errno(err, r, "saving pod %s", p->id) : 0;
}

static int containers(struct sbx *s, struct pod *p, bool remove, struct crisp_error *err)
{
	struct ctr **v;
	size_t n;
	int r = state_pod_ctrs(s->st, p->id, &v, &n);
	if (r < 0)
		return crisp_fail_errno(err, r, "containers of pod %s", p->id);
	int64_t deadline = sbx_mono_ms() + POD_KILL_WAIT_MS;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct ctr *c = v[i];
		pthread_mutex_lock(&c->op);
		if (!c->gone) {
			r = ctr_kill_wait(s, c, deadline, err);
			if (r == 0 && remove) {
				state_lock(s->st);
				c->state = CTR_REMOVING;
				state_ctr_save(s->st, c);
				state_unlock(s->st);
				r = ctr_teardown(s, c, err);
			}
		}
		pthread_mutex_unlock(&c->op);
	}
	state_ctrs_put_all(s->st, v, n);
	return r;
}

static int network_down(struct sbx *s, struct pod *p, struct crisp_error *err)
{
	char netns[PATH_MAX];
	struct cni_net *net = NULL;
	struct cni_attachment att = { .net_json = p->cni_net, .result_json = p->cni_result };
	const Runtime__V1__PodSandboxConfig *cfg = p->config;
	sbx_pod_path(s, p->id, "ns/net", netns, sizeof netns);
	int r = p->cni_net ? 0 : cni_net_load(&s->cni, &net, err);
	struct cni_pod cp = {
		.id = p->id, .netns = pod_ns_pinned(netns) ? netns : "",
		.name = cfg->metadata->name, .namespace_ = cfg->metadata->namespace_,
		.uid = cfg->metadata->uid, .ports = cfg->port_mappings,
		.n_ports = cfg->n_port_mappings, .cgroup_path = pod_cgroup(p),
	};
	pod_bandwidth(cfg, &cp.ingress_bps, &cp.egress_bps);
	if (r == 0)
		r = cni_del(&s->cni, net, p->cni_net ? &att : NULL, &cp, err);
	cni_net_free(net);
	if (r < 0)
		return r;
	state_lock(s->st);
	p->cni_started = false;
	free(p->cni_net);
	free(p->cni_result);
	p->cni_net = p->cni_result = NULL;
	for (size_t i = 0; i < p->n_ips; i++)
		free(p->ips[i]);
	free(p->ips);
	p->ips = NULL;
	p->n_ips = 0;
	state_unlock(s->st);
	return save(s, p, err);
}

int pod_teardown(struct sbx *s, struct pod *p, bool remove, struct crisp_error *err)
{
	char path[PATH_MAX];
	int r = containers(s, p, remove, err);
	if (r < 0)
		return r;
	if (p->init_pid) {
		if ((r = pod_init_stop(p->init_pid, p->init_start)) < 0)
			return crisp_fail_errno(err, r, "stopping pod-init %d", (int)p->init_pid);
		if ((r = pod_init_cgroup_remove(s, p)) < 0)
			return crisp_fail_errno(err, r, "removing pod-init's cgroup");
		state_lock(s->st);
		p->init_pid = 0;
		p->init_start = 0;
		state_unlock(s->st);
		if ((r = save(s, p, err)) < 0)
			return r;
	}
	if (p->cni_started && (r = network_down(s, p, err)) < 0)
		return r;
	if (p->netns || p->ipcns || p->utsns) {
		sbx_pod_path(s, p->id, "ns", path, sizeof path);
		if ((r = pod_ns_release(path)) < 0)
			return crisp_fail_errno(err, r, "unpinning the namespaces in %s", path);
		p->netns = p->ipcns = p->utsns = false;
		if ((r = save(s, p, err)) < 0)
			return r;
	}
	if (p->shm) {
		sbx_pod_path(s, p->id, "shm", path, sizeof path);
		if ((r = pod_shm_release(path)) < 0)
			return crisp_fail_errno(err, r, "unmounting %s", path);
		p->shm = false;
		if ((r = save(s, p, err)) < 0)
			return r;
	}
	if (!remove)
		return 0;
	if (p->cgroup_owned && (r = cgroup_remove(&s->cg, pod_cgroup(p))) < 0)
		return crisp_fail_errno(err, r, "removing cgroup %s", pod_cgroup(p));
	sbx_pod_dir(s, p->id, path, sizeof path);
	if ((r = rootfs_remove_tree(path)) < 0)
		return crisp_fail_errno(err, r, "removing %s", path);
	r = state_pod_del(s->st, p);
	return r < 0 ? crisp_fail_errno(err, r, "deleting pod %s", p->id) : 0;
}

/* The pod of a Stop/Remove request; 0 with *ret NULL when there is none. */
static int pod_lookup_gone_ok(struct sbx *s, const char *id, struct pod **ret, struct crisp_error *err)
{
	*ret = NULL;
	int r = state_pod_get(s->st, id, ret);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				  "pod_sandbox_id: %.80s is %s", id,
				  r == -ENOTUNIQ ? "an ambiguous id prefix" : "not an id");
	return 0;
}

int pod_stop(struct sbx *s, const char *id, struct crisp_error *err)
{
	struct pod *p;
	int r = pod_lookup_gone_ok(s, id, &p, err);
	if (r < 0 || !p)
		return r;
	pthread_mutex_lock(&p->op);
	if (!p->gone && p->state != POD_REMOVING) {
		state_lock(s->st);
		p->state = p->state == POD_NOTREADY ? POD_NOTREADY : POD_STOPPING;
		r = state_pod_save(s->st, p);
		state_unlock(s->st);
		if (r < 0)
			crisp_fail_errno(err, r, "saving pod %s", p->id);
		else
			r = pod_teardown(s, p, false, err);
		if (r == 0) {
			state_lock(s->st);
			p->state = POD_NOTREADY;
			r = state_pod_save(s->st, p);
			state_unlock(s->st);
		}
	}
	pthread_mutex_unlock(&p->op);
	state_pod_put(s->st, p);
	return r;
}

int pod_remove(struct sbx *s, const char *id, struct crisp_error *err)
{
	struct pod *p;
	int r = pod_lookup_gone_ok(s, id, &p, err);
	if (r < 0 || !p)
		return r;
	pthread_mutex_lock(&p->op);
	if (!p->gone) {
		state_lock(s->st);
		p->state = POD_REMOVING;
		r = state_pod_save(s->st, p);
		state_unlock(s->st);
		r = r < 0 ? crisp_fail_errno(err, r, "saving pod %s", p->id) :
		    pod_teardown(s, p, true, err);
	}
	pthread_mutex_unlock(&p->op);
	state_pod_put(s->st, p);
	return r;
}
