/*
 * remove: RemoveContainer, and the teardown that undoes whatever a
 * container's row says may exist (a failed create, recovery, a pod's
 * removal): the runc container (killed and deleted), its conmon, the rootfs
 * and image mounts, its dirs in RUNROOT and ROOT, the image lease, and last
 * the row. Each step is idempotent, so a teardown cut short by a crash is
 * simply run again. Removing what is gone succeeds (the CRI says so). The
 * log file stays: it is kubelet's. Never logs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/status.h"
#include "sandboxd/container/ctr.h"
#include "sandboxd/imaged.h"

#define CONMON_GONE_MS 5000

/* conmon leaves by itself once the container is gone; make sure. */
static void conmon_end(struct sbx *s, struct ctr *c)
{
	int64_t until = sbx_mono_ms() + CONMON_GONE_MS;
	while (sbx_proc_is(c->conmon_pid, c->conmon_start) && sbx_mono_ms() < until)
		usleep(10000);
	if (sbx_proc_is(c->conmon_pid, c->conmon_start))
		kill(c->conmon_pid, SIGKILL);
}

static int unmount_all(struct sbx *s, struct ctr *c)
{
	char p[PATH_MAX];
	int r = sbx_ctr_path(s, c->id, "rootfs", p, sizeof p);
	if (r == 0)
		r = rootfs_unmount(p);
	for (unsigned i = 0; r == 0 && i < c->mounts; i++) {
		char name[32];
		snprintf(name, sizeof name, "image-%u", i);
		if ((r = sbx_ctr_path(s, c->id, name, p, sizeof p)) == 0)
			r = rootfs_unmount(p);
	}
	return r;
}

int ctr_teardown(struct sbx *s, struct ctr *c, struct crisp_error *err)
{
	struct runc rt;
	char p[PATH_MAX];
	int r = ctr_runc(s, c, &rt);
	if (r == 0)
		r = runc_delete(&rt, c->id, true, err);
	if (r < 0 && r != -ENOENT)
		return r;
	conmon_end(s, c);
	if ((r = unmount_all(s, c)) < 0)
		return crisp_fail_errno(err, r, "unmounting the rootfs of container %s", c->id);
	if ((r = sbx_ctr_dir(s, c->id, p, sizeof p)) == 0)
		r = rootfs_remove_tree(p);
	if (r == 0 && (r = sbx_ctr_data(s, c->id, NULL, p, sizeof p)) == 0)
		r = rootfs_remove_tree(p);
	if (r < 0)
		return crisp_fail_errno(err, r, "removing %s", p);
	if (c->lease) {
		char lid[sizeof SBX_LEASE_PREFIX + SBX_ID_LEN];
		snprintf(lid, sizeof lid, SBX_LEASE_PREFIX "%s", c->id);
		r = imaged_lease_release(&s->imaged, lid, err);
		if (r < 0)
			return r;       /* imaged down: the row stays, so it is tried again */
		state_lock(s->st);
		c->lease = false;
		state_ctr_save(s->st, c);
		state_unlock(s->st);
	}
	r = state_ctr_del(s->st, c);
	return r < 0 ? crisp_fail_errno(err, r, "deleting container %s", c->id) : 0;
}

int ctr_remove(struct sbx *s, const char *id, int64_t deadline_ms, struct crisp_error *err)
{
	struct ctr *c;
	int r = state_ctr_get(s->st, id, &c);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				  "container_id: %.80s is %s", id,
				  r == -ENOTUNIQ ? "an ambiguous id prefix" : "not an id");
	pthread_mutex_lock(&c->op);
	if (!c->gone) {
		/* a running container is killed first: the CRI says "forcibly" */
		r = ctr_kill_wait(s, c, deadline_ms, err);
		if (r == 0) {
			state_lock(s->st);
			c->state = CTR_REMOVING;
			r = state_ctr_save(s->st, c);
			state_unlock(s->st);
		}
		if (r == 0)
			r = ctr_teardown(s, c, err);
	}
	pthread_mutex_unlock(&c->op);
	state_ctr_put(s->st, c);
	return r;
}
