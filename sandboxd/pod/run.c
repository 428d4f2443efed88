/*
 * run: RunPodSandbox. In order, each step saved in the pod's row before it
 * is taken, so that recovery can undo a half-made pod (pod_teardown):
 *   the row (CREATING) -> RUNROOT/pods/<id> -> the namespaces (pinned) ->
 *   /dev/shm -> the cgroup (made when crisp owns it) -> pod-init (pid =
 *   POD) -> CNI: loopback, then ADD of the network in use (its config and
 *   result saved) -> hostname, hosts, resolv.conf -> READY.
 * Any failure undoes what was made and removes the row: kubelet gets the
 * error and tries again with a new attempt. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/status.h"
#include "sandboxd/pod/pod.h"

void *sbx_msg_copy(const ProtobufCMessage *m);

void pod_ns_mode(const Runtime__V1__PodSandboxConfig *cfg, struct pod_ns_mode *ret)
{
	const Runtime__V1__NamespaceOption *o = cfg->linux && cfg->linux->security_context ?
		cfg->linux->security_context->namespace_options : NULL;
	/* absent options are the zero values: network and IPC POD, and pid POD
	 * too (one PID namespace for the pod, as with containerd's pause);
	 * kubelet says CONTAINER for the usual pod */
	*ret = (struct pod_ns_mode){ .pod_pid = true };
	if (!o)
		return;
	ret->host_net = o->network == RUNTIME__V1__NAMESPACE_MODE__NODE;
	ret->host_ipc = o->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE;
	ret->host_pid = o->pid == RUNTIME__V1__NAMESPACE_MODE__NODE;
	ret->pod_pid = o->pid == RUNTIME__V1__NAMESPACE_MODE__POD;
}

const char *pod_cgroup(const struct pod *p)
{
	return p->cgroup_parent ? p->cgroup_parent : "";
}

/* pod-init's own cgroup below the pod's: a leaf, so that on cgroup v2 the
 * pod's cgroup may still enable controllers for its containers. */
void pod_init_cgroup(const struct pod *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/crisp-pod-init", strcmp(pod_cgroup(p), "/") ? pod_cgroup(p) : "");
}

int pod_init_cgroup_remove(struct sbx *s, const struct pod *p)
{
	char cg[1024];
	if (s->cg.systemd)
		return 0;
	pod_init_cgroup(p, cg, sizeof cg);
	return cgroup_remove(&s->cg, cg);
}

Runtime__V1__PodSandboxState pod_cri_state(enum pod_state st)
{
	return st == POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY :
	       RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
}

/* What this sandboxd cannot do (yet), refused before anything is made. */
static int config_check(struct sbx *s, const Runtime__V1__RunPodSandboxRequest *rq,
			struct crisp_error *err)
{
	const Runtime__V1__PodSandboxConfig *cfg = rq->config;
	const Runtime__V1__NamespaceOption *o = cfg->linux && cfg->linux->security_context ?
		cfg->linux->security_context->namespace_options : NULL;
	if (!sbx_handler(s, rq->runtime_handler))
		return crisp_fail(err, CRISP_STATUS_NOT_FOUND, -ENOENT,
				  "runtime_handler: no runtime handler \"%.64s\" is configured",
				  rq->runtime_handler);
	if (o && (o->network == RUNTIME__V1__NAMESPACE_MODE__TARGET ||
		  o->pid == RUNTIME__V1__NAMESPACE_MODE__TARGET ||
		  o->ipc == RUNTIME__V1__NAMESPACE_MODE__TARGET))
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				  "config.linux.security_context.namespace_options: TARGET is for "
				  "containers, not pods");
	if (o && o->userns_options && o->userns_options->mode != RUNTIME__V1__NAMESPACE_MODE__NODE)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EOPNOTSUPP,
				  "config.linux.security_context.namespace_options.userns_options: "
				  "user namespaces are not supported yet");
	if (cfg->hostname && cfg->hostname[0])
		return pod_hostname_check(cfg->hostname, err);
	return 0;
}

/* kubelet's name of a pod: unique per name, namespace, uid and attempt. */
static int name_check(struct sbx *s, const Runtime__V1__PodSandboxMetadata *md,
		      struct crisp_error *err)
{
	struct pod **v;
	size_t n;
	int r = state_pods_all(s->st, &v, &n);
	if (r < 0)
		return crisp_fail_errno(err, r, "pods");
	for (size_t i = 0; i < n && r == 0; i++) {
		const Runtime__V1__PodSandboxMetadata *o = v[i]->config->metadata;
		if (o && !strcmp(o->name, md->name) && !strcmp(o->namespace_, md->namespace_) &&
		    !strcmp(o->uid, md->uid) && o->attempt == md->attempt)
			r = crisp_fail(err, CRISP_STATUS_ALREADY_EXISTS, -EEXIST,
				       "a pod sandbox %.100s/%.100s (uid %.64s, attempt %u) exists: %s",
				       md->namespace_, md->name, md->uid, md->attempt, v[i]->id);
	}
	state_pods_put_all(s->st, v, n);
	return r;
}

static int save(struct sbx *s, struct pod *p, struct crisp_error *err)
{
	state_lock(s->st);
	int r = state_pod_save(s->st, p);
	state_unlock(s->st);
	return r < 0 ? crisp_fail_errno(err, r, "saving pod %s", p->id) : 0;
}

static void ns_paths(struct sbx *s, const struct pod *p, char paths[3][PATH_MAX],
		     const char *out[3])
{
	static const char *const names[3] = { "ns/net", "ns/ipc", "ns/uts" };
	bool have[3] = { p->netns, p->ipcns, p->utsns };
	for (int i = 0; i < 3; i++) {
		sbx_pod_path(s, p->id, names[i], paths[i], PATH_MAX);
		out[i] = have[i] ? paths[i] : NULL;
	}
}

static int network(struct sbx *s, struct pod *p, struct crisp_error *err)
{
	char netns[PATH_MAX];
	struct cni_net *net = NULL;
	struct cni_attachment att = { 0 };
	const Runtime__V1__PodSandboxConfig *cfg = p->config;
	sbx_pod_path(s, p->id, "ns/net", netns, sizeof netns);
	p->cni_started = true;
	int r = save(s, p, err);
	if (r == 0)
		r = cni_net_load(&s->cni, &net, err);
	if (r == 0)
		r = cni_loopback(&s->cni, netns, err);
	struct cni_pod cp = {
		.id = p->id, .netns = netns, .name = cfg->metadata->name,
		.namespace_ = cfg->metadata->namespace_, .uid = cfg->metadata->uid,
		.ports = cfg->port_mappings, .n_ports = cfg->n_port_mappings,
		.cgroup_path = pod_cgroup(p),
	};
	pod_bandwidth(cfg, &cp.ingress_bps, &cp.egress_bps);
	if (r == 0)
		r = cni_add(&s->cni, net, &cp, &att, err);
	if (r == 0) {
		state_lock(s->st);
		p->cni_net = att.net_json;
		p->cni_result = att.result_json;
		p->ips = att.ips;
		p->n_ips = att.n_ips;
		att = (struct cni_attachment){ 0 };
		r = state_pod_save(s->st, p);
		state_unlock(s->st);
		if (r < 0)
			crisp_fail_errno(err, r, "saving pod %s", p->id);
	}
	cni_attachment_clear(&att);
	cni_net_free(net);
	return r;
}

static int make(struct sbx *s, struct pod *p, const char *hostname, struct crisp_error *err)
{
	struct pod_ns_mode m;
	char dir[PATH_MAX], sub[PATH_MAX];
	pod_ns_mode(p->config, &m);
	int r = sbx_pod_dir(s, p->id, dir, sizeof dir);
	if (r == 0 && mkdir(dir, 0711) < 0)
		r = -errno;
	if (r < 0)
		return crisp_fail_errno(err, r, "mkdir %s", dir);
	/* namespaces: the network one (and UTS with it) unless on the host's */
	bool want[3] = { !m.host_net, !m.host_ipc, !m.host_net };
	p->netns = want[0];
	p->ipcns = want[1];
	p->utsns = want[2];
	p->shm = !m.host_ipc;
	if ((r = save(s, p, err)) < 0)
		return r;
	sbx_pod_path(s, p->id, "ns", sub, sizeof sub);
	if ((r = pod_ns_create(sub, want, hostname, err)) < 0)
		return r;
	sbx_pod_path(s, p->id, "shm", sub, sizeof sub);
	if (p->shm && (r = pod_shm_create(sub, s->cfg->shm_size, err)) < 0)
		return r;
	if (p->cgroup_owned && (r = cgroup_make(&s->cg, pod_cgroup(p))) < 0)
		return crisp_fail_errno(err, r, "making cgroup %s", pod_cgroup(p));
	if (m.pod_pid) {
		char paths[3][PATH_MAX], cg[1024];
		const char *nsp[3];
		ns_paths(s, p, paths, nsp);
		pod_init_cgroup(p, cg, sizeof cg);
		if (!s->cg.systemd && (r = cgroup_make(&s->cg, cg)) < 0)
			return crisp_fail_errno(err, r, "making cgroup %s", cg);
		pid_t pid = 0;
		uint64_t start = 0;
		if ((r = pod_init_start(s->pod_init, nsp, s->cg.systemd ? NULL : cg, &s->cg, &pid,
					&start, err)) < 0)
			return r;
		state_lock(s->st);
		p->init_pid = pid;
		p->init_start = start;
		state_unlock(s->st);
		if ((r = save(s, p, err)) < 0)
			return r;
	}
	if (!m.host_net && (r = network(s, p, err)) < 0)
		return r;
	return pod_files_write(dir, p->config, m.host_net, hostname, p->n_ips ? p->ips[0] : NULL,
			       err);
}

int pod_run(struct sbx *s, const Runtime__V1__RunPodSandboxRequest *rq,
	    char ret_id[SBX_ID_LEN + 1], struct crisp_error *err)
{
	char hostname[256], cg[1024];
	int r = config_check(s, rq, err);
	if (r < 0)
		return r;
	if (rq->config->hostname && rq->config->hostname[0])
		snprintf(hostname, sizeof hostname, "%s", rq->config->hostname);
	else if (gethostname(hostname, sizeof hostname) < 0)
		snprintf(hostname, sizeof hostname, "localhost");
	if ((r = name_check(s, rq->config->metadata, err)) < 0)
		return r;
	state_lock(s->st);
	bool full = state_n_pods(s->st) >= s->cfg->max_pods;
	state_unlock(s->st);
	if (full)
		return crisp_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EUSERS,
				  "[runtime] max_pods (%u) pod sandboxes exist already",
				  s->cfg->max_pods);
	struct pod *p = state_pod_new();
	if (!p || !(p->config = sbx_msg_copy(&rq->config->base))) {
		state_pod_free(p);
		return crisp_fail_errno(err, -ENOMEM, "pod");
	}
	state_new_id(p->id);
	p->created_ns = sbx_now_ns();
	p->state = POD_CREATING;
	snprintf(p->handler, sizeof p->handler, "%s", sbx_handler(s, rq->runtime_handler)->cfg->name);
	const char *parent = rq->config->linux ? rq->config->linux->cgroup_parent : NULL;
	r = cgroup_pod_path(&s->cg, parent, p->id, cg, sizeof cg, &p->cgroup_owned);
	if (r < 0) {
		state_pod_free(p);
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				  "config.linux.cgroup_parent: \"%.200s\" is not a %s", parent,
				  s->cg.systemd ? "systemd slice (name.slice)" :
				  "cgroup path (/a/b, without . or ..)");
	}
	if (!(p->cgroup_parent = strdup(cg))) {
		state_pod_free(p);
		return crisp_fail_errno(err, -ENOMEM, "pod");
	}
	if ((r = state_pod_add(s->st, p)) < 0) {
		state_pod_free(p);
		return crisp_fail_errno(err, r, "saving the new pod");
	}
	pthread_mutex_lock(&p->op);
	r = make(s, p, hostname, err);
	if (r == 0) {
		state_lock(s->st);
		p->state = POD_READY;
		r = state_pod_save(s->st, p);
		state_unlock(s->st);
		if (r < 0)
			crisp_fail_errno(err, r, "saving pod %s", p->id);
	}
	if (r < 0) {
		struct crisp_error e2 = { 0 };
		pod_teardown(s, p, true, &e2);
	} else {
		memcpy(ret_id, p->id, SBX_ID_LEN + 1);
	}
	pthread_mutex_unlock(&p->op);
	state_pod_put(s->st, p);
	return r;
}
