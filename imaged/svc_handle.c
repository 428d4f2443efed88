/*
 * svc_handle: the dispatch-table handlers of imaged's image service (the
 * glue between common/server.h and the svc_* calls). On the loop thread a
 * handler only queues the request: pulls on the pull pool, everything else
 * on the quick pool; the worker runs the call and answers. The deadline is
 * taken when the request arrives (time spent queued counts), and the
 * request's cancel flag is what the call watches. This is imaged's boundary
 * for these requests: it logs pulls and removals (never credentials) and
 * what failed.
 * Must never answer a request twice, or block the loop thread.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "common/daemon.h"
#include "common/log.h"
#include "common/status.h"
#include "imaged/svc.h"
#include "common/pool.h"

struct svc_call {
	struct pool_job job;
	struct svc *s;
	struct server_req *req;
	int64_t deadline_ms;            /* CLOCK_MONOTONIC; 0: none */
	int64_t started_ms;
	void (*fn)(struct svc_call *c);
};

#define call_of(j) ((struct svc_call *)((char *)(j) - offsetof(struct svc_call, job)))

static void call_run(struct pool_job *j)
{
	struct svc_call *c = call_of(j);
	c->fn(c);
	free(c);
}

static void call_drop(struct pool_job *j)
{
	struct svc_call *c = call_of(j);
	(void)server_answer(c->req, CRISP_STATUS_UNAVAILABLE, "imaged is stopping", NULL, -1);
	free(c);
}

/* The final answer: the request (and its cancel flag) is freed by it, so
 * the pool lets go of the flag first. */
static void call_answer(struct svc_call *c, int32_t status, const char *error,
			const ProtobufCMessage *msg)
{
	pool_job_done(&c->job);
	(void)server_answer(c->req, status, error, msg, -1);
}

static void answer_error(struct svc_call *c, const struct svc_error *err)
{
	call_answer(c, err->code ? err->code : CRISP_STATUS_INTERNAL,
		    err->msg[0] ? err->msg : "internal error", NULL);
}

static int call_submit(struct server_req *req, void *userdata, bool pull,
		       void (*fn)(struct svc_call *c))
{
	struct daemon_ctx *d = userdata;
	struct svc *s = d->data;
	struct pool *pool = s ? (pull ? s->pulls : s->quick) : NULL;
	if (!pool) {
		(void)server_answer(req, CRISP_STATUS_UNAVAILABLE, "imaged is not ready", NULL, -1);
		return 0;
	}
	struct svc_call *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->job = (struct pool_job){ .run = call_run, .drop = call_drop, .cancel = &req->cancelled };
	c->s = s;
	c->req = req;
	c->fn = fn;
	c->started_ms = svc_now_ms();
	c->deadline_ms = req->msg.timeout_ms > 0 ? c->started_ms + req->msg.timeout_ms : 0;
	int r = pool_submit(pool, &c->job);
	if (r < 0) {
		free(c);
		(void)server_answer(req, r == -EAGAIN ? CRISP_STATUS_RESOURCE_EXHAUSTED :
				    CRISP_STATUS_UNAVAILABLE, r == -EAGAIN ?
				    "too many image requests waiting" : "imaged is stopping", NULL, -1);
	}
	return 0;
}

/* ---- pull --------------------------------------------------------------- */

static void do_pull(struct svc_call *c)
{
	const Runtime__V1__PullImageRequest *rq = (const void *)c->req->body;
	const char *image = rq->image ? rq->image->image : "";
	char id[DIGEST_STR_SIZE];
	struct svc_error err = { 0 };
	int r = svc_pull(c->s, rq, &c->req->cancelled, c->deadline_ms, id, &err);
	if (r < 0) {
		log_warn("pull of %.300s failed: %s", image, err.msg);
		answer_error(c, &err);
		return;
	}
	log_info("pulled %.300s: %s (%lld ms)", image, id,
		 (long long)(svc_now_ms() - c->started_ms));
	Runtime__V1__PullImageResponse resp = RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT;
	resp.image_ref = id;
	call_answer(c, CRISP_STATUS_OK, NULL, &resp.base);
}

int svc_handle_pull(struct server_req *req, void *userdata)
{
	return call_submit(req, userdata, true, do_pull);
}

/* ---- list and stream ---------------------------------------------------- */

static void do_list(struct svc_call *c)
{
	const Runtime__V1__ListImagesRequest *rq = (const void *)c->req->body;
	Runtime__V1__ListImagesResponse resp = RUNTIME__V1__LIST_IMAGES_RESPONSE__INIT;
	struct svc_error err = { 0 };
	if (svc_list(c->s, rq->filter, &resp.images, &resp.n_images, &err) < 0) {
		answer_error(c, &err);
		return;
	}
	call_answer(c, CRISP_STATUS_OK, NULL, &resp.base);
	svc_cri_images_free(resp.images, resp.n_images);
}

int svc_handle_list(struct server_req *req, void *userdata)
{
	return call_submit(req, userdata, false, do_list);
}

static void do_stream(struct svc_call *c)
{
	const Runtime__V1__StreamImagesRequest *rq = (const void *)c->req->body;
	Runtime__V1__Image **v = NULL;
	size_t n = 0;
	struct svc_error err = { 0 };
	if (svc_list(c->s, rq->filter, &v, &n, &err) < 0) {
		answer_error(c, &err);
		return;
	}
	int r = 0;
	for (size_t off = 0; off < n && r == 0; off += SVC_STREAM_PART) {
		Runtime__V1__StreamImagesResponse part = RUNTIME__V1__STREAM_IMAGES_RESPONSE__INIT;
		part.images = v + off;
		part.n_images = n - off < SVC_STREAM_PART ? n - off : SVC_STREAM_PART;
		r = server_answer_more(c->req, &part.base);
	}
	Runtime__V1__StreamImagesResponse end = RUNTIME__V1__STREAM_IMAGES_RESPONSE__INIT;
	if (r < 0)
		call_answer(c, r == -ECANCELED ? CRISP_STATUS_CANCELLED : CRISP_STATUS_UNAVAILABLE,
			    strerror(-r), NULL);
	else
		call_answer(c, CRISP_STATUS_OK, NULL, &end.base);
	svc_cri_images_free(v, n);
}

int svc_handle_stream(struct server_req *req, void *userdata)
{
	return call_submit(req, userdata, false, do_stream);
}

/* ---- status, remove, fsinfo ---------------------------------------------- */

static void do_status(struct svc_call *c)
{
	const Runtime__V1__ImageStatusRequest *rq = (const void *)c->req->body;
	Runtime__V1__ImageStatusResponse resp;
	struct svc_error err = { 0 };
	if (svc_status(c->s, rq, &resp, &err) < 0) {
		answer_error(c, &err);
		return;
	}
	call_answer(c, CRISP_STATUS_OK, NULL, &resp.base);
	svc_status_clear(&resp);
}

int svc_handle_status(struct server_req *req, void *userdata)
{
	return call_submit(req, userdata, false, do_status);
}

static void do_remove(struct svc_call *c)
{
	const Runtime__V1__RemoveImageRequest *rq = (const void *)c->req->body;
	const char *image = rq->image ? rq->image->image : NULL;
	struct svc_error err = { 0 };
	if (svc_remove(c->s, image, &err) < 0) {
		log_warn("removing image %.300s failed: %s", image ? image : "", err.msg);
		answer_error(c, &err);
		return;
	}
	log_info("removed image %.300s", image);
	Runtime__V1__RemoveImageResponse resp = RUNTIME__V1__REMOVE_IMAGE_RESPONSE__INIT;
	call_answer(c, CRISP_STATUS_OK, NULL, &resp.base);
}

int svc_handle_remove(struct server_req *req, void *userdata)
{
	return call_submit(req, userdata, false, do_remove);
}

static void do_fsinfo(struct svc_call *c)
{
	Runtime__V1__ImageFsInfoResponse resp;
	struct svc_error err = { 0 };
	if (svc_fsinfo(c->s, &resp, &err) < 0) {
		log_warn("ImageFsInfo: %s", err.msg);
		answer_error(c, &err);
		return;
	}
	call_answer(c, CRISP_STATUS_OK, NULL, &resp.base);
	svc_fsinfo_clear(&resp);
}

int svc_handle_fsinfo(struct server_req *req, void *userdata)
{
	return call_submit(req, userdata, false, do_fsinfo);
}

/* ---- leases ------------------------------------------------------------- */

static void do_lease(struct svc_call *c)
{
	struct svc_error err = { 0 };
	Crisp__Lease lease = CRISP__LEASE__INIT;
	Crisp__LeaseList list = CRISP__LEASE_LIST__INIT;
	const void *body = c->req->body;
	uint32_t type = c->req->msg.type;
	int r;
	switch (type) {
	case CRISP__MSG_TYPE__MSG_LEASE_CREATE:
		r = svc_lease_create(c->s, body, &lease, &err);
		break;
	case CRISP__MSG_TYPE__MSG_LEASE_ADD:
		r = svc_lease_add(c->s, body, &lease, &err);
		break;
	case CRISP__MSG_TYPE__MSG_LEASE_RELEASE:
		r = svc_lease_release(c->s, body, &lease, &err);
		break;
	default:
		r = svc_lease_list(c->s, &list, &err);
		break;
	}
	if (r < 0) {
		log_debug("lease request %u from pid %d: %s", type, (int)c->req->peer_pid, err.msg);
		answer_error(c, &err);
		return;
	}
	if (type != CRISP__MSG_TYPE__MSG_LEASE_LIST)
		log_info("lease %s: %s by pid %d", lease.id,
			 type == CRISP__MSG_TYPE__MSG_LEASE_CREATE ? "created" :
			 type == CRISP__MSG_TYPE__MSG_LEASE_ADD ? "holds an image" : "released",
			 (int)c->req->peer_pid);
	call_answer(c, CRISP_STATUS_OK, NULL,
		    type == CRISP__MSG_TYPE__MSG_LEASE_LIST ? &list.base : &lease.base);
	svc_lease_clear(&lease);
	svc_lease_list_clear(&list);
}

int svc_handle_lease(struct server_req *req, void *userdata)
{
	return call_submit(req, userdata, false, do_lease);
}

static void do_lease_image(struct svc_call *c)
{
	struct svc_error err = { 0 };
	Crisp__LeasedImage li = CRISP__LEASED_IMAGE__INIT;
	const Crisp__LeaseImage *rq = (const void *)c->req->body;
	if (svc_lease_image(c->s, rq, &li, &err) < 0) {
		log_info("lease %.300s on image %.300s for pid %d: %s", rq->lease_id, rq->image,
			 (int)c->req->peer_pid, err.msg);
		answer_error(c, &err);
		return;
	}
	log_debug("lease %s holds image %s for pid %d", li.lease_id, li.image_id,
		  (int)c->req->peer_pid);
	call_answer(c, CRISP_STATUS_OK, NULL, &li.base);
	svc_leased_image_clear(&li);
}

int svc_handle_lease_image(struct server_req *req, void *userdata)
{
	return call_submit(req, userdata, false, do_lease_image);
}
