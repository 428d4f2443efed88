/*
 * create: CreateContainer. In order, each step saved before it is taken so
 * that recovery can undo a half-made container (ctr_teardown):
 *   the row (CREATING) -> its dirs -> the image lease (imaged: layer dirs
 *   and the image's runtime config) -> image mounts -> the rootfs overlay
 *   -> the OCI spec (sandboxd/oci/) in bundle/config.json -> conmon, which
 *   runs `runc create` -> CREATED, and its conmon watched (exits.c).
 * The pod's op mutex is held throughout, so the pod cannot be stopped or
 * removed under a container being made. Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/status.h"
#include "sandboxd/container/conmon_run.h"
#include "sandboxd/container/ctr.h"
#include "sandboxd/imaged.h"
#include "sandboxd/oci/spec.h"
#include "sandboxd/pod/pod.h"

#define LEASE_TIMEOUT_MS 60000

/* A deep copy of a protobuf-c message (pack, unpack). */
static void *msg_copy(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return NULL;
	protobuf_c_message_pack(m, buf);
	void *c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
	free(buf);
	return c;
}

void *sbx_msg_copy(const ProtobufCMessage *m)
{
	return msg_copy(m);
}

/* kubelet's name of a container: unique in its pod per name and attempt. */
static int name_check(struct sbx *s, const struct pod *p, const Runtime__V1__ContainerMetadata *md,
		      struct crisp_error *err)
{
	struct ctr **v;
	size_t n;
	int r = state_pod_ctrs(s->st, p->id, &v, &n);
	if (r < 0)
		return crisp_fail_errno(err, r, "containers");
	for (size_t i = 0; i < n && r == 0; i++) {
		const Runtime__V1__ContainerMetadata *o = v[i]->config->metadata;
		if (o && !strcmp(o->name, md->name) && o->attempt == md->attempt)
			r = crisp_fail(err, CRISP_STATUS_ALREADY_EXISTS, -EEXIST,
				       "a container named \"%.100s\" (attempt %u) exists in pod %s: %s",
				       md->name, md->attempt, p->id, v[i]->id);
	}
	state_ctrs_put_all(s->st, v, n);
	return r;
}

static int log_path_of(const struct pod *p, const Runtime__V1__ContainerConfig *cfg, char **ret)
{
	const char *dir = p->config->log_directory, *rel = cfg->log_path;
	*ret = NULL;
	if (!dir || !*dir || !rel || !*rel)
		return state_set_str(ret, "");
	char buf[PATH_MAX];
	int r = fs_path_join(buf, sizeof buf, dir, rel);
	return r < 0 ? r : state_set_str(ret, buf);
}

/* The pod, as the OCI spec builder needs it (paths into buf storage). */
struct pod_paths {
	char ns[3][PATH_MAX];
	char hostname[PATH_MAX], hosts[PATH_MAX], resolv[PATH_MAX], shm[PATH_MAX];
};

static void oci_pod_of(struct sbx *s, const struct pod *p, struct pod_paths *pp,
		       struct oci_pod *ret)
{
	static const char *const ns[3] = { "ns/net", "ns/ipc", "ns/uts" };
	for (int i = 0; i < 3; i++)
		sbx_pod_path(s, p->id, ns[i], pp->ns[i], sizeof pp->ns[i]);
	sbx_pod_path(s, p->id, "hostname", pp->hostname, sizeof pp->hostname);
	sbx_pod_path(s, p->id, "hosts", pp->hosts, sizeof pp->hosts);
	sbx_pod_path(s, p->id, "resolv.conf", pp->resolv, sizeof pp->resolv);
	sbx_pod_path(s, p->id, "shm", pp->shm, sizeof pp->shm);
	*ret = (struct oci_pod){
		.id = p->id, .config = p->config,
		.net_ns = p->netns ? pp->ns[0] : NULL,
		.ipc_ns = p->ipcns ? pp->ns[1] : NULL,
		.uts_ns = p->utsns ? pp->ns[2] : NULL,
		.pid_ns_init = p->init_pid,
		.hostname_path = pp->hostname, .hosts_path = pp->hosts, .resolv_path = pp->resolv,
		.shm_path = p->shm ? pp->shm : NULL,
	};
}

static int lease(struct sbx *s, struct ctr *c, const char *image, Crisp__LeasedImage **ret,
		 struct crisp_error *err)
{
	char lid[sizeof SBX_LEASE_PREFIX + SBX_ID_LEN], holder[SBX_ID_LEN + 16];
	snprintf(lid, sizeof lid, SBX_LEASE_PREFIX "%s", c->id);
	snprintf(holder, sizeof holder, "container %s", c->id);
	int r = imaged_lease_image(&s->imaged, lid, holder, image, LEASE_TIMEOUT_MS, ret, err);
	if (r == -ENOENT)
		err->code = CRISP_STATUS_NOT_FOUND;
	return r;
}

/* The image mounts (config.mounts[i].image): leased too, mounted read-only
 * at DIR/image-<i>. dirs[i] is that dir, or NULL for a host mount. */
static int image_mounts(struct sbx *s, struct ctr *c, char **dirs, struct crisp_error *err)
{
	const Runtime__V1__ContainerConfig *cfg = c->config;
	int r = 0;
	for (size_t i = 0; i < cfg->n_mounts && r == 0; i++) {
		const Runtime__V1__Mount *m = cfg->mounts[i];
		if (!m->image || !m->image->image || !m->image->image[0])
			continue;
		Crisp__LeasedImage *li = NULL;
		char name[32], dir[PATH_MAX];
		snprintf(name, sizeof name, "image-%zu", i);
		if ((r = lease(s, c, m->image->image, &li, err)) < 0) {
			snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
				 " (config.mounts[%zu].image)", i);
			break;
		}
		state_lock(s->st);
		c->mounts = (unsigned)i + 1;
		r = state_ctr_save(s->st, c);
		state_unlock(s->st);
		if (r == 0 && (r = sbx_ctr_path(s, c->id, name, dir, sizeof dir)) == 0)
			r = rootfs_mount(li->layer_dirs, li->n_layer_dirs, NULL, NULL, dir, true, err);
		else if (r < 0)
			crisp_fail_errno(err, r, "saving container %s", c->id);
		crisp__leased_image__free_unpacked(li, NULL);
		if (r == 0 && !(dirs[i] = strdup(dir)))
			r = crisp_fail_errno(err, -ENOMEM, "image mounts");
	}
	return r;
}

static int make_dirs(struct sbx *s, const struct ctr *c, struct crisp_error *err)
{
	char d[PATH_MAX];
	static const struct { const char *what; mode_t mode; } data[] = {
		{ NULL, 0700 }, { "upper", 0755 }, { "work", 0700 },
	};
	int r = sbx_ctr_dir(s, c->id, d, sizeof d);
	if (r == 0 && mkdir(d, 0700) < 0)
		r = -errno;
	if (r == 0 && (r = sbx_ctr_path(s, c->id, "bundle", d, sizeof d)) == 0 && mkdir(d, 0700) < 0)
		r = -errno;
	for (size_t i = 0; r == 0 && i < 3; i++) {
		r = sbx_ctr_data(s, c->id, data[i].what, d, sizeof d);
		if (r == 0 && mkdir(d, data[i].mode) < 0)
			r = -errno;
	}
	return r < 0 ? crisp_fail_errno(err, r, "making the dirs of container %s", c->id) : 0;
}

static int write_spec(struct sbx *s, const struct ctr *c, const char *json,
		      struct crisp_error *err)
{
	char p[PATH_MAX];
	int r = sbx_ctr_path(s, c->id, "bundle/config.json", p, sizeof p);
	if (r == 0)
		r = fs_write_file(AT_FDCWD, p, json, strlen(json), 0600);
	return r < 0 ? crisp_fail_errno(err, r, "writing %s", p) : 0;
}

/* Everything after the row: the container exists in runc when it returns 0. */
static int build(struct sbx *s, struct pod *p, struct ctr *c, struct crisp_error *err)
{
	const Runtime__V1__ContainerConfig *cfg = c->config;
	Crisp__LeasedImage *li = NULL;
	struct oci_output out = { 0 };
	char rootfs[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], dir[PATH_MAX], bundle[PATH_MAX];
	char cgpath[1024], oomf[PATH_MAX];
	char **img_dirs = calloc(cfg->n_mounts ? cfg->n_mounts : 1, sizeof *img_dirs);
	int rootfs_fd = -1;
	int r = img_dirs ? make_dirs(s, c, err) : crisp_fail_errno(err, -ENOMEM, "mounts");
	if (r < 0)
		goto out;
	if ((r = lease(s, c, cfg->image->image, &li, err)) < 0)
		goto out;
	state_lock(s->st);
	r = state_set_str(&c->image_id, li->image_id);
	if (r == 0)
		r = state_set_str(&c->image_ref, li->n_repo_digests ? li->repo_digests[0] : li->image_id);
	if (r == 0)
		r = state_set_str(&c->image_name, li->n_repo_tags ? li->repo_tags[0] : cfg->image->image);
	if (r == 0)
		r = state_ctr_save(s->st, c);
	state_unlock(s->st);
	if (r < 0) {
		crisp_fail_errno(err, r, "saving container %s", c->id);
		goto out;
	}
	if ((r = image_mounts(s, c, img_dirs, err)) < 0)
		goto out;
	sbx_ctr_path(s, c->id, "rootfs", rootfs, sizeof rootfs);
	sbx_ctr_data(s, c->id, "upper", upper, sizeof upper);
	sbx_ctr_data(s, c->id, "work", work, sizeof work);
	sbx_ctr_dir(s, c->id, dir, sizeof dir);
	sbx_ctr_path(s, c->id, "bundle", bundle, sizeof bundle);
	if (li->n_layer_dirs == 0) {
		/* an image without layers: one empty lower dir */
		char empty[PATH_MAX];
		sbx_ctr_data(s, c->id, "empty", empty, sizeof empty);
		if (mkdir(empty, 0755) < 0 && errno != EEXIST) {
			r = crisp_fail_errno(err, -errno, "mkdir %s", empty);
			goto out;
		}
		char *lower[1] = { empty };
		r = rootfs_mount(lower, 1, upper, work, rootfs, false, err);
	} else {
		r = rootfs_mount(li->layer_dirs, li->n_layer_dirs, upper, work, rootfs, false, err);
	}
	if (r < 0)
		goto out;
	if ((rootfs_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = crisp_fail_errno(err, -errno, "open %s", rootfs);
		goto out;
	}
	if ((r = cgroup_ctr_path(&s->cg, pod_cgroup(p), c->id, cgpath, sizeof cgpath)) < 0) {
		crisp_fail_errno(err, r, "cgroup of container %s", c->id);
		goto out;
	}
	const struct sbx_handler *h = sbx_handler(s, p->handler);
	struct oci_host host = {
		.cgroup_v2 = s->cg.mode == CGROUP_V2, .systemd_cgroup = s->cg.systemd,
		.hugetlb = s->cg.hugetlb, .swap = s->cg.swap, .rro = h && h->rro,
		.oom_score_adj_min = s->oom_score_adj_min, .all_caps = s->caps,
	};
	struct pod_paths pp;
	struct oci_pod opod;
	oci_pod_of(s, p, &pp, &opod);
	struct oci_input in = {
		.id = c->id, .config = cfg, .image = li->config, .rootfs = rootfs,
		.rootfs_fd = rootfs_fd, .cgroups_path = cgpath,
		.image_mount_dirs = (const char *const *)img_dirs, .pod = &opod, .host = &host,
	};
	if ((r = oci_spec_build(&in, &out, err)) < 0 || (r = write_spec(s, c, out.json, err)) < 0)
		goto out;
	if (c->log_path[0]) {
		char logdir[PATH_MAX];
		if ((r = fs_dirname(c->log_path, logdir, sizeof logdir)) == 0)
			r = fs_mkdir_p(logdir, 0755);
		if (r < 0) {
			crisp_fail_errno(err, r, "the log directory of %s", c->log_path);
			goto out;
		}
	}
	struct runc rt;
	char ownlog[PATH_MAX];
	sbx_ctr_path(s, c->id, "console.log", ownlog, sizeof ownlog);
	if ((r = ctr_runc(s, c, &rt)) < 0) {
		crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, r, "runtime handler \"%s\" is gone",
			   p->handler);
		goto out;
	}
	bool oom = cgroup_oom_file(&s->cg, cgpath, oomf, sizeof oomf) == 0;
	struct conmon_args ca = {
		.rt = &rt, .id = c->id, .bundle = bundle, .dir = dir,
		.log_path = c->log_path[0] ? c->log_path : ownlog, .oom_file = oom ? oomf : NULL,
		.tty = out.tty, .stdin_open = out.stdin, .stdin_once = out.stdin_once,
	};
	pid_t pid = 0, cpid = 0;
	uint64_t cstart = 0;
	/* conmon exists from here on, whatever it answers: save that first */
	state_lock(s->st);
	c->uid = out.uid;
	c->gid = out.gid;
	c->stop_signal = out.stop_signal;
	state_ctr_save(s->st, c);
	state_unlock(s->st);
	r = conmon_run(s, &ca, &pid, &cpid, &cstart, err);
	if (r < 0)
		goto out;
	state_lock(s->st);
	c->pid = pid;
	c->conmon_pid = cpid;
	c->conmon_start = cstart;
	c->state = CTR_CREATED;
	r = state_ctr_save(s->st, c);
	state_unlock(s->st);
	if (r < 0)
		crisp_fail_errno(err, r, "saving container %s", c->id);
out:
	if (rootfs_fd >= 0)
		close(rootfs_fd);
	oci_output_clear(&out);
	if (li)
		crisp__leased_image__free_unpacked(li, NULL);
	for (size_t i = 0; img_dirs && i < cfg->n_mounts; i++)
		free(img_dirs[i]);
	free(img_dirs);
	return r;
}

static int pod_ready(struct sbx *s, struct pod *p, struct crisp_error *err)
{
	state_lock(s->st);
	enum pod_state st = p->state;
	state_unlock(s->st);
	if (st != POD_READY)
		return crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EBUSY,
				  "pod sandbox %s is not ready", p->id);
	return 0;
}

int ctr_create(struct sbx *s, const Runtime__V1__CreateContainerRequest *rq,
	       char ret_id[SBX_ID_LEN + 1], struct crisp_error *err)
{
	struct pod *p = NULL;
	int r = state_pod_get(s->st, rq->pod_sandbox_id, &p);
	if (r < 0)
		return crisp_fail(err, r == -ENOENT ? CRISP_STATUS_NOT_FOUND :
				  CRISP_STATUS_INVALID_ARGUMENT, r, "pod_sandbox_id: %s %.80s",
				  r == -ENOENT ? "no pod sandbox" : "not a unique id prefix:",
				  rq->pod_sandbox_id);
	pthread_mutex_lock(&p->op);
	struct ctr *c = NULL;
	if ((r = pod_ready(s, p, err)) < 0 ||
	    (r = name_check(s, p, rq->config->metadata, err)) < 0)
		goto out;
	state_lock(s->st);
	bool full = state_n_ctrs(s->st) >= s->cfg->max_containers;
	state_unlock(s->st);
	if (full) {
		r = crisp_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EUSERS,
			       "[runtime] max_containers (%u) containers exist already",
			       s->cfg->max_containers);
		goto out;
	}
	if (!(c = state_ctr_new()) || !(c->config = msg_copy(&rq->config->base))) {
		r = crisp_fail_errno(err, -ENOMEM, "container");
		goto out;
	}
	state_new_id(c->id);
	memcpy(c->pod_id, p->id, sizeof c->pod_id);
	c->created_ns = sbx_now_ns();
	c->state = CTR_CREATING;
	c->lease = true;
	if ((r = log_path_of(p, c->config, &c->log_path)) < 0) {
		crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
			   "config.log_path: too long with the pod's log_directory");
		goto out;
	}
	if ((r = state_ctr_add(s->st, c)) < 0) {
		crisp_fail_errno(err, r, "saving the new container");
		goto out;
	}
	pthread_mutex_lock(&c->op);
	r = build(s, p, c, err);
	if (r < 0) {
		struct crisp_error e2 = { 0 };
		ctr_teardown(s, c, &e2);
	} else {
		exits_watch(s, c);
		memcpy(ret_id, c->id, SBX_ID_LEN + 1);
	}
	pthread_mutex_unlock(&c->op);
out:
	pthread_mutex_unlock(&p->op);
	if (c)
		state_ctr_put(s->st, c);
	state_pod_put(s->st, p);
	return r;
}
