/*
 * recover: what a restarted sandboxd finds, made true again before it
 * serves anything. From the rows (state/):
 *   containers: CREATING and REMOVING are torn down (a create that never
 *   answered, a removal cut short); STARTING asks runc whether the start
 *   happened; CREATED and RUNNING get their conmon watched again (a conmon
 *   that died meanwhile has left its exit file, read now); EXITED stays.
 *   pods: CREATING and REMOVING are torn down, STOPPING is stopped again;
 *   a READY pod whose pod-init is gone is NOTREADY.
 * Then what no row names: directories under RUNROOT/pods, RUNROOT/containers
 * and ROOT/containers (with what is mounted below them), runc containers
 * in each handler's root, and imaged leases named sandboxd-<id> (when
 * imaged can be reached; else the next start tries again). Each finding is
 * logged: this is sandboxd's boundary for its own start.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/fsutil.h"
#include "common/log.h"
#include "common/spawn.h"
#include "sandboxd/container/ctr.h"
#include "sandboxd/imaged.h"
#include "sandboxd/pod/pod.h"
#include "sandboxd/recover.h"

struct tally {
	unsigned torn, watched, exited, restarted, orphans;
};

static void ctr_recover(struct sbx *s, struct ctr *c, struct tally *t)
{
	struct crisp_error err = { 0 };
	pthread_mutex_lock(&c->op);
	switch (c->state) {
	case CTR_CREATING:
	case CTR_REMOVING:
		if (ctr_teardown(s, c, &err) < 0)
			log_warn("container %s: left half %s: %s", c->id,
				 c->state == CTR_CREATING ? "made" : "removed", err.msg);
		else
			t->torn++;
		break;
	case CTR_STARTING: {
		struct runc rt;
		enum runc_status rs = RUNC_GONE;
		if (ctr_runc(s, c, &rt) == 0)
			runc_state(&rt, c->id, &rs, NULL, &err);
		state_lock(s->st);
		c->state = rs == RUNC_CREATED ? CTR_CREATED : CTR_RUNNING;
		if (c->state == CTR_RUNNING && !c->started_ns)
			c->started_ns = sbx_now_ns();
		state_ctr_save(s->st, c);
		state_unlock(s->st);
	}
		/* fall through */
	case CTR_CREATED:
	case CTR_RUNNING:
		if (exits_watch(s, c) == 0)
			t->watched++;
		break;
	case CTR_EXITED:
		t->exited++;
		break;
	}
	pthread_mutex_unlock(&c->op);
}

static void pod_recover(struct sbx *s, struct pod *p, struct tally *t)
{
	struct crisp_error err = { 0 };
	pthread_mutex_lock(&p->op);
	switch (p->state) {
	case POD_CREATING:
	case POD_REMOVING:
		if (pod_teardown(s, p, true, &err) < 0)
			log_warn("pod %s: left half %s: %s", p->id,
				 p->state == POD_CREATING ? "made" : "removed", err.msg);
		else
			t->torn++;
		break;
	case POD_STOPPING:
		if (pod_teardown(s, p, false, &err) < 0) {
			log_warn("pod %s: left half stopped: %s", p->id, err.msg);
			break;
		}
		state_lock(s->st);
		p->state = POD_NOTREADY;
		state_pod_save(s->st, p);
		state_unlock(s->st);
		t->restarted++;
		break;
	case POD_READY:
		if (p->init_pid && !sbx_proc_is(p->init_pid, p->init_start)) {
			log_warn("pod %s: its pod-init %d is gone: the pod is not ready", p->id,
				 (int)p->init_pid);
			state_lock(s->st);
			p->state = POD_NOTREADY;
			state_pod_save(s->st, p);
			state_unlock(s->st);
		}
		break;
	case POD_NOTREADY:
		break;
	}
	pthread_mutex_unlock(&p->op);
}

static bool is_id(const char *s)
{
	size_t n = strlen(s);
	return n == SBX_ID_LEN && strspn(s, "0123456789abcdef") == n;
}

/* Remove dir/<id> entries that no row names (unmounting below them). */
static void orphan_dirs(struct sbx *s, const char *dir, bool pods, struct tally *t)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_id(e->d_name))
			continue;
		struct pod *p = NULL;
		struct ctr *c = NULL;
		bool known = pods ? state_pod_get(s->st, e->d_name, &p) == 0 :
			     state_ctr_get(s->st, e->d_name, &c) == 0;
		state_pod_put(s->st, p);
		state_ctr_put(s->st, c);
		if (known)
			continue;
		char path[PATH_MAX], sub[PATH_MAX], name[32];
		if (fs_path_join(path, sizeof path, dir, e->d_name) < 0)
			continue;
		static const char *const mounts[] = { "ns/net", "ns/ipc", "ns/uts", "shm", "rootfs" };
		for (size_t i = 0; i < sizeof mounts / sizeof mounts[0]; i++)
			if (fs_path_join(sub, sizeof sub, path, mounts[i]) == 0)
				rootfs_unmount(sub);
		for (unsigned i = 0; i < 256; i++) {
			snprintf(name, sizeof name, "image-%u", i);
			if (fs_path_join(sub, sizeof sub, path, name) < 0 || rootfs_unmount(sub) < 0)
				break;
		}
		int r = rootfs_remove_tree(path);
		if (r < 0)
			log_warn("leftover %s: %s", path, strerror(-r));
		else
			t->orphans++;
	}
	closedir(d);
}

/* runc containers of ours (64-hex ids) that no row names. */
static void orphan_runc(struct sbx *s, struct tally *t)
{
	for (size_t i = 0; i < s->n_handlers; i++) {
		const char *argv[] = { s->handlers[i].cfg->path, "--root", s->handlers[i].root,
				       "list", "--format", "json", NULL };
		struct spawn_opts o = { .argv = argv, .timeout_ms = 30000, .out_max = 16 << 20 };
		struct spawn_result res;
		if (spawn_run(&o, &res) < 0 || res.wait_status != 0 || !res.out) {
			spawn_result_clear(&res);
			continue;
		}
		json_object *a = json_tokener_parse(res.out);
		size_t n = a && json_object_is_type(a, json_type_array) ?
			   json_object_array_length(a) : 0;
		for (size_t k = 0; k < n; k++) {
			json_object *id;
			if (!json_object_object_get_ex(json_object_array_get_idx(a, k), "id", &id))
				continue;
			const char *cid = json_object_get_string(id);
			struct ctr *c = NULL;
			if (!is_id(cid) || state_ctr_get(s->st, cid, &c) == 0) {
				state_ctr_put(s->st, c);
				continue;
			}
			struct runc rt = { .path = s->handlers[i].cfg->path,
					   .root = s->handlers[i].root,
					   .systemd_cgroup = s->cg.systemd };
			struct crisp_error err = { 0 };
			if (runc_delete(&rt, cid, true, &err) == 0)
				t->orphans++;
			else
				log_warn("leftover runc container %s: %s", cid, err.msg);
		}
		json_object_put(a);
		spawn_result_clear(&res);
	}
}

void recover_leases(struct sbx *s)
{
	Crisp__LeaseList *l = NULL;
	struct crisp_error err = { 0 };
	if (imaged_lease_list(&s->imaged, &l, &err) < 0) {
		log_info("leases: not checked now (%s)", err.msg);
		return;
	}
	size_t plen = strlen(SBX_LEASE_PREFIX);
	for (size_t i = 0; i < l->n_leases; i++) {
		const char *id = l->leases[i]->id;
		if (strncmp(id, SBX_LEASE_PREFIX, plen) != 0 || !is_id(id + plen))
			continue;
		struct ctr *c = NULL;
		if (state_ctr_get(s->st, id + plen, &c) == 0) {
			state_ctr_put(s->st, c);
			continue;
		}
		if (imaged_lease_release(&s->imaged, id, &err) == 0)
			log_info("released lease %s: its container is gone", id);
	}
	crisp__lease_list__free_unpacked(l, NULL);
}

void recover(struct sbx *s)
{
	struct tally t = { 0 };
	struct ctr **cv;
	struct pod **pv;
	size_t nc = 0, np = 0;
	if (state_ctrs_all(s->st, &cv, &nc) == 0) {
		for (size_t i = 0; i < nc; i++)
			ctr_recover(s, cv[i], &t);
		state_ctrs_put_all(s->st, cv, nc);
	}
	if (state_pods_all(s->st, &pv, &np) == 0) {
		for (size_t i = 0; i < np; i++)
			pod_recover(s, pv[i], &t);
		state_pods_put_all(s->st, pv, np);
	}
	orphan_dirs(s, s->dir_ctrs, false, &t);
	orphan_dirs(s, s->dir_data, false, &t);
	orphan_dirs(s, s->dir_pods, true, &t);
	orphan_runc(s, &t);
	recover_leases(s);
	log_info("recovered %zu pods and %zu containers: %u half-done undone, %u stops "
		 "finished, %u conmons watched, %u exited, %u leftovers removed", np, nc, t.torn,
		 t.restarted, t.watched, t.exited, t.orphans);
}
