/*
 * handle: sandboxd's dispatch-table handlers for the CRI pod and container
 * calls criserver forwards (MSG_SBX_*). Status and List are answered at
 * once on the loop thread, from memory; every step that runs a process
 * (runc, conmon, CNI plugins) is a job on a worker pool (lifecycle steps on
 * one, ExecSync on its own, so that long probes never hold up a pod). The
 * deadline is taken when the request arrives. This is sandboxd's boundary:
 * it logs what it did and what failed (never a config: env values may be
 * secrets).
 * Must never answer a request twice, or block the loop thread.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "common/daemon.h"
#include "common/log.h"
#include "common/status.h"
#include "sandboxd/container/ctr.h"
#include "sandboxd/handle.h"
#include "sandboxd/pod/pod.h"

#define ANSWER_MAX (64u * 1024u * 1024u)        /* the channel's cap on one payload */

struct job {
	struct pool_job job;
	struct sbx *s;
	struct server_req *req;
	int64_t deadline_ms;            /* CLOCK_MONOTONIC; 0: none */
	int64_t started_ms;
	void (*fn)(struct job *j);
};

#define job_of(p) ((struct job *)((char *)(p) - offsetof(struct job, job)))

static void job_run(struct pool_job *pj)
{
	struct job *j = job_of(pj);
	j->fn(j);
	free(j);
}

static void job_drop(struct pool_job *pj)
{
	struct job *j = job_of(pj);
	(void)server_answer(j->req, CRISP_STATUS_UNAVAILABLE, "sandboxd is stopping", NULL, -1);
	free(j);
}

static void answer(struct job *j, const struct crisp_error *err, int r, const ProtobufCMessage *m)
{
	pool_job_done(&j->job);
	if (r < 0)
		(void)server_answer(j->req, err->code ? err->code : crisp_status_of_errno(r),
				    err->msg[0] ? err->msg : strerror(-r), NULL, -1);
	else
		(void)server_answer(j->req, CRISP_STATUS_OK, NULL, m, -1);
}

static int submit(struct server_req *req, void *userdata, bool exec, void (*fn)(struct job *j))
{
	struct daemon_ctx *d = userdata;
	struct sbx *s = d->data;
	struct pool *pool = s ? (exec ? s->exec : s->life) : NULL;
	if (!pool || s->stopping) {
		(void)server_answer(req, CRISP_STATUS_UNAVAILABLE, "sandboxd is not ready", NULL, -1);
		return 0;
	}
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	j->job = (struct pool_job){ .run = job_run, .drop = job_drop, .cancel = &req->cancelled };
	j->s = s;
	j->req = req;
	j->fn = fn;
	j->started_ms = sbx_mono_ms();
	j->deadline_ms = req->msg.timeout_ms > 0 ? j->started_ms + req->msg.timeout_ms : 0;
	int r = pool_submit(pool, &j->job);
	if (r < 0) {
		free(j);
		(void)server_answer(req, r == -EAGAIN ? CRISP_STATUS_RESOURCE_EXHAUSTED :
				    CRISP_STATUS_UNAVAILABLE, r == -EAGAIN ?
				    "too many pod and container requests waiting" :
				    "sandboxd is stopping", NULL, -1);
	}
	return 0;
}

static long ms_since(const struct job *j)
{
	return (long)(sbx_mono_ms() - j->started_ms);
}

/* ---- pods --------------------------------------------------------------- */

static void do_run_pod(struct job *j)
{
	const Runtime__V1__RunPodSandboxRequest *rq = (const void *)j->req->body;
	const Runtime__V1__PodSandboxMetadata *md = rq->config->metadata;
	struct crisp_error err = { 0 };
	char id[SBX_ID_LEN + 1];
	int r = pod_run(j->s, rq, id, &err);
	Runtime__V1__RunPodSandboxResponse resp = RUNTIME__V1__RUN_POD_SANDBOX_RESPONSE__INIT;
	if (r < 0)
		log_warn("RunPodSandbox %.100s/%.100s: %s", md->namespace_, md->name, err.msg);
	else
		log_info("pod %s (%.100s/%.100s) is ready (%ld ms)", id, md->namespace_, md->name,
			 ms_since(j));
	resp.pod_sandbox_id = id;
	answer(j, &err, r, &resp.base);
}

static void do_stop_pod(struct job *j)
{
	const Runtime__V1__StopPodSandboxRequest *rq = (const void *)j->req->body;
	struct crisp_error err = { 0 };
	int r = pod_stop(j->s, rq->pod_sandbox_id, &err);
	if (r < 0)
		log_warn("StopPodSandbox %.80s: %s", rq->pod_sandbox_id, err.msg);
	else
		log_info("pod %.80s stopped (%ld ms)", rq->pod_sandbox_id, ms_since(j));
	Runtime__V1__StopPodSandboxResponse resp = RUNTIME__V1__STOP_POD_SANDBOX_RESPONSE__INIT;
	answer(j, &err, r, &resp.base);
}

static void do_remove_pod(struct job *j)
{
	const Runtime__V1__RemovePodSandboxRequest *rq = (const void *)j->req->body;
	struct crisp_error err = { 0 };
	int r = pod_remove(j->s, rq->pod_sandbox_id, &err);
	if (r < 0)
		log_warn("RemovePodSandbox %.80s: %s", rq->pod_sandbox_id, err.msg);
	else
		log_info("pod %.80s removed (%ld ms)", rq->pod_sandbox_id, ms_since(j));
	Runtime__V1__RemovePodSandboxResponse resp = RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
	answer(j, &err, r, &resp.base);
}

int handle_run_pod(struct server_req *req, void *userdata)
{
	return submit(req, userdata, false, do_run_pod);
}

int handle_stop_pod(struct server_req *req, void *userdata)
{
	return submit(req, userdata, false, do_stop_pod);
}

int handle_remove_pod(struct server_req *req, void *userdata)
{
	return submit(req, userdata, false, do_remove_pod);
}

/* Status and List: built in an arena, answered, freed; on the loop thread. */
static int answer_now(struct server_req *req, int r, const struct crisp_error *err,
		      const ProtobufCMessage *m, struct arena *a)
{
	if (r < 0)
		(void)server_answer(req, err->code ? err->code : crisp_status_of_errno(r),
				    err->msg[0] ? err->msg : strerror(-r), NULL, -1);
	else
		(void)server_answer(req, CRISP_STATUS_OK, NULL, m, -1);
	arena_free(a);
	return 0;
}

int handle_pod_status(struct server_req *req, void *userdata)
{
	struct sbx *s = ((struct daemon_ctx *)userdata)->data;
	struct arena a = { .max = ANSWER_MAX };
	struct crisp_error err = { 0 };
	Runtime__V1__PodSandboxStatusResponse *resp = NULL;
	int r = pod_status(s, (const void *)req->body, &a, &resp, &err);
	return answer_now(req, r, &err, resp ? &resp->base : NULL, &a);
}

int handle_list_pods(struct server_req *req, void *userdata)
{
	struct sbx *s = ((struct daemon_ctx *)userdata)->data;
	struct arena a = { .max = ANSWER_MAX };
	struct crisp_error err = { 0 };
	Runtime__V1__ListPodSandboxResponse *resp = NULL;
	int r = pod_list(s, (const void *)req->body, &a, &resp, &err);
	return answer_now(req, r, &err, resp ? &resp->base : NULL, &a);
}

/* ---- containers --------------------------------------------------------- */

static void do_create_ctr(struct job *j)
{
	const Runtime__V1__CreateContainerRequest *rq = (const void *)j->req->body;
	struct crisp_error err = { 0 };
	char id[SBX_ID_LEN + 1];
	int r = ctr_create(j->s, rq, id, &err);
	if (r < 0)
		log_warn("CreateContainer %.100s in pod %.80s: %s", rq->config->metadata->name,
			 rq->pod_sandbox_id, err.msg);
	else
		log_info("container %s (%.100s) created in pod %.80s (%ld ms)", id,
			 rq->config->metadata->name, rq->pod_sandbox_id, ms_since(j));
	Runtime__V1__CreateContainerResponse resp = RUNTIME__V1__CREATE_CONTAINER_RESPONSE__INIT;
	resp.container_id = id;
	answer(j, &err, r, &resp.base);
}

static void do_start_ctr(struct job *j)
{
	const Runtime__V1__StartContainerRequest *rq = (const void *)j->req->body;
	struct crisp_error err = { 0 };
	int r = ctr_start(j->s, rq->container_id, &err);
	if (r < 0)
		log_warn("StartContainer %.80s: %s", rq->container_id, err.msg);
	else
		log_info("container %.80s started (%ld ms)", rq->container_id, ms_since(j));
	Runtime__V1__StartContainerResponse resp = RUNTIME__V1__START_CONTAINER_RESPONSE__INIT;
	answer(j, &err, r, &resp.base);
}

static void do_stop_ctr(struct job *j)
{
	const Runtime__V1__StopContainerRequest *rq = (const void *)j->req->body;
	struct crisp_error err = { 0 };
	int r = ctr_stop(j->s, rq->container_id, rq->timeout, j->deadline_ms, &err);
	if (r < 0)
		log_warn("StopContainer %.80s: %s", rq->container_id, err.msg);
	else
		log_info("container %.80s stopped (%ld ms)", rq->container_id, ms_since(j));
	Runtime__V1__StopContainerResponse resp = RUNTIME__V1__STOP_CONTAINER_RESPONSE__INIT;
	answer(j, &err, r, &resp.base);
}

static void do_remove_ctr(struct job *j)
{
	const Runtime__V1__RemoveContainerRequest *rq = (const void *)j->req->body;
	struct crisp_error err = { 0 };
	int r = ctr_remove(j->s, rq->container_id, j->deadline_ms, &err);
	if (r < 0)
		log_warn("RemoveContainer %.80s: %s", rq->container_id, err.msg);
	else
		log_info("container %.80s removed (%ld ms)", rq->container_id, ms_since(j));
	Runtime__V1__RemoveContainerResponse resp = RUNTIME__V1__REMOVE_CONTAINER_RESPONSE__INIT;
	answer(j, &err, r, &resp.base);
}

static void do_reopen_log(struct job *j)
{
	const Runtime__V1__ReopenContainerLogRequest *rq = (const void *)j->req->body;
	struct crisp_error err = { 0 };
	int r = ctr_reopen_log(j->s, rq->container_id, &err);
	if (r < 0)
		log_info("ReopenContainerLog %.80s: %s", rq->container_id, err.msg);
	Runtime__V1__ReopenContainerLogResponse resp =
		RUNTIME__V1__REOPEN_CONTAINER_LOG_RESPONSE__INIT;
	answer(j, &err, r, &resp.base);
}

static void do_exec_sync(struct job *j)
{
	const Runtime__V1__ExecSyncRequest *rq = (const void *)j->req->body;
	struct crisp_error err = { 0 };
	Runtime__V1__ExecSyncResponse resp = RUNTIME__V1__EXEC_SYNC_RESPONSE__INIT;
	int r = ctr_exec_sync(j->s, rq, j->deadline_ms, &j->req->cancelled, &resp, &err);
	if (r < 0)
		log_debug("ExecSync in %.80s: %s", rq->container_id, err.msg);
	answer(j, &err, r, &resp.base);
	free(resp.stdout.data);
	free(resp.stderr.data);
}

int handle_create_ctr(struct server_req *req, void *userdata)
{
	return submit(req, userdata, false, do_create_ctr);
}

int handle_start_ctr(struct server_req *req, void *userdata)
{
	return submit(req, userdata, false, do_start_ctr);
}

int handle_stop_ctr(struct server_req *req, void *userdata)
{
	return submit(req, userdata, false, do_stop_ctr);
}

int handle_remove_ctr(struct server_req *req, void *userdata)
{
	return submit(req, userdata, false, do_remove_ctr);
}

int handle_reopen_log(struct server_req *req, void *userdata)
{
	return submit(req, userdata, false, do_reopen_log);
}

int handle_exec_sync(struct server_req *req, void *userdata)
{
	return submit(req, userdata, true, do_exec_sync);
}

int handle_ctr_status(struct server_req *req, void *userdata)
{
	struct sbx *s = ((struct daemon_ctx *)userdata)->data;
	struct arena a = { .max = ANSWER_MAX };
	struct crisp_error err = { 0 };
	Runtime__V1__ContainerStatusResponse *resp = NULL;
	int r = ctr_status(s, (const void *)req->body, &a, &resp, &err);
	return answer_now(req, r, &err, resp ? &resp->base : NULL, &a);
}

int handle_list_ctrs(struct server_req *req, void *userdata)
{
	struct sbx *s = ((struct daemon_ctx *)userdata)->data;
	struct arena a = { .max = ANSWER_MAX };
	struct crisp_error err = { 0 };
	Runtime__V1__ListContainersResponse *resp = NULL;
	int r = ctr_list(s, (const void *)req->body, &a, &resp, &err);
	return answer_now(req, r, &err, resp ? &resp->base : NULL, &a);
}
