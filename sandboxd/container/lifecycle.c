/*
 * lifecycle: StartContainer and StopContainer, and the kill that pods and
 * RemoveContainer use. Start saves STARTING before `runc start` (recovery
 * asks runc what happened), then RUNNING; a start that fails leaves the
 * container EXITED with reason StartError and exit code 128, as containerd
 * does. Stop sends the stop signal (the config's, else the image's, else
 * SIGTERM), waits up to the request's timeout for conmon to see the exit,
 * then SIGKILLs every process of the container and waits again. Stopping
 * what is not running (created, exited, gone) succeeds: the CRI says so.
 * Never logs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "common/status.h"
#include "sandboxd/container/ctr.h"

#define KILL_WAIT_MS 10000      /* after SIGKILL, for conmon to see the exit */

int ctr_runc(struct sbx *s, const struct ctr *c, struct runc *ret)
{
	struct pod *p = NULL;
	const struct sbx_handler *h = NULL;
	if (state_pod_get(s->st, c->pod_id, &p) == 0) {
		h = sbx_handler(s, p->handler);
		state_pod_put(s->st, p);
	} else {
		h = sbx_handler(s, NULL);       /* a container whose pod row is gone */
	}
	if (!h)
		return -ENOENT;
	*ret = (struct runc){ .path = h->cfg->path, .root = h->root,
			      .systemd_cgroup = s->cg.systemd };
	return 0;
}

static int lookup(struct sbx *s, const char *id, struct ctr **ret, struct crisp_error *err)
{
	int r = state_ctr_get(s->st, id, ret);
	if (r == -ENOENT)
		return crisp_fail(err, CRISP_STATUS_NOT_FOUND, r, "no container %.80s", id);
	if (r < 0)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				  "container_id: %.80s is %s", id,
				  r == -ENOTUNIQ ? "an ambiguous id prefix" : "not an id");
	return 0;
}

int ctr_start(struct sbx *s, const char *id, struct crisp_error *err)
{
	struct ctr *c;
	int r = lookup(s, id, &c, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->op);
	state_lock(s->st);
	enum ctr_state st = c->state;
	if (st == CTR_CREATED) {
		c->state = CTR_STARTING;
		r = state_ctr_save(s->st, c);
	}
	state_unlock(s->st);
	if (st != CTR_CREATED) {
		r = crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EBUSY,
			       "container %s is %s, not created", c->id,
			       st == CTR_RUNNING ? "running" : st == CTR_EXITED ? "exited" :
			       st == CTR_REMOVING ? "being removed" : "being made");
		goto out;
	}
	struct runc rt = { 0 };
	if (r == 0 && (r = ctr_runc(s, c, &rt)) < 0)
		crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, r, "its runtime handler is gone");
	if (r == 0)
		r = runc_start(&rt, c->id, err);
	state_lock(s->st);
	if (r == 0) {
		if (c->state == CTR_STARTING) {
			c->state = CTR_RUNNING;
			c->started_ns = sbx_now_ns();
		} else if (!c->started_ns) {
			c->started_ns = c->finished_ns;  /* it ran and exited already */
		}
	} else if (c->state == CTR_STARTING) {
		c->state = CTR_EXITED;
		c->exit_code = 128;
		c->finished_ns = sbx_now_ns();
		state_set_str(&c->reason, "StartError");
		state_set_str(&c->message, err->msg);
	}
	state_ctr_save(s->st, c);
	state_broadcast(s->st);
	state_unlock(s->st);
	if (r < 0 && rt.path) {
		/* nothing of it may run on: conmon then sees the exit and goes */
		struct crisp_error e2 = { 0 };
		runc_kill(&rt, c->id, SIGKILL, true, &e2);
	}
out:
	pthread_mutex_unlock(&c->op);
	state_ctr_put(s->st, c);
	return r;
}

/* Wait (state lock held) until c has exited or deadline (monotonic ms). */
static int wait_exit(struct sbx *s, struct ctr *c, int64_t deadline)
{
	while (c->state != CTR_EXITED && !c->gone) {
		if (state_wait(s->st, deadline) == -ETIMEDOUT)
			return c->state == CTR_EXITED ? 0 : -ETIMEDOUT;
	}
	return 0;
}

static bool running(const struct ctr *c)
{
	return c->state == CTR_RUNNING || c->state == CTR_STARTING;
}

int ctr_kill_wait(struct sbx *s, struct ctr *c, int64_t deadline_ms, struct crisp_error *err)
{
	struct runc rt;
	state_lock(s->st);
	bool live = running(c) || c->state == CTR_CREATED;
	state_unlock(s->st);
	if (!live)
		return 0;
	int r = ctr_runc(s, c, &rt);
	if (r == 0)
		r = runc_kill(&rt, c->id, SIGKILL, true, err);
	if (r < 0)
		return r;
	int64_t d = sbx_mono_ms() + KILL_WAIT_MS;
	if (deadline_ms && deadline_ms < d)
		d = deadline_ms;
	state_lock(s->st);
	r = wait_exit(s, c, d);
	state_unlock(s->st);
	return r < 0 ? crisp_fail(err, CRISP_STATUS_DEADLINE_EXCEEDED, r,
				  "container %s did not exit after SIGKILL", c->id) : 0;
}

int ctr_stop(struct sbx *s, const char *id, int64_t timeout_s, int64_t deadline_ms,
	     struct crisp_error *err)
{
	struct ctr *c;
	int r = lookup(s, id, &c, err);
	if (r == -ENOENT)
		return 0;               /* stopping what is gone succeeds */
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->op);
	state_lock(s->st);
	bool live = running(c);
	int sig = c->stop_signal > 0 ? c->stop_signal : SIGTERM;
	state_unlock(s->st);
	struct runc rt;
	if (live && (r = ctr_runc(s, c, &rt)) < 0)
		crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, r, "its runtime handler is gone");
	if (live && r == 0 && timeout_s > 0) {
		r = runc_kill(&rt, c->id, sig, false, err);
		int64_t d = sbx_mono_ms() + timeout_s * 1000;
		if (deadline_ms && deadline_ms < d)
			d = deadline_ms;
		state_lock(s->st);
		int w = r == 0 ? wait_exit(s, c, d) : -ETIMEDOUT;
		state_unlock(s->st);
		if (w == 0)
			live = false;
		r = 0;          /* a failed signal: SIGKILL next, as after a timeout */
	}
	if (live && r == 0)
		r = ctr_kill_wait(s, c, deadline_ms, err);
	pthread_mutex_unlock(&c->op);
	state_ctr_put(s->st, c);
	return r;
}
