/*
 * admin: the dispatch-table side of imaged's admin requests (admin.h).
 * A handler only queues the request on the image service's pull pool
 * (common/pool.h: import, export and push take minutes and must never
 * hold up the event loop; svc_stop cancels them through the request's
 * cancel flag and waits); the worker takes the request's fd, runs the work
 * with SIGPIPE blocked on its thread (a reader who went away is an EPIPE,
 * not the end of imaged), answers, and logs one line (this is the daemon's
 * boundary; credentials never reach a log line or an answer).
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/daemon.h"
#include "common/log.h"
#include "common/status.h"
#include "imaged/admin_int.h"
#include "imaged/svc.h"
#include "common/pool.h"

enum job_kind { JOB_IMPORT, JOB_EXPORT, JOB_PUSH };

struct admin_job {
	struct pool_job job;             /* the pool's */
	struct admin_ctx a;
	struct server_req *req;
	enum job_kind kind;
	int fd;
};

#define job_of(j) ((struct admin_job *)((char *)(j) - offsetof(struct admin_job, job)))

static atomic_ulong lease_seq;

int admin_status_of(int r)
{
	switch (r) {
	case -ENOENT:
		return CRISP_STATUS_NOT_FOUND;
	case -EINVAL:
	case -ENOTUNIQ:
		return CRISP_STATUS_INVALID_ARGUMENT;
	case -EBADMSG:
		return CRISP_STATUS_DATA_LOSS;
	case -EFBIG:
	case -E2BIG:
	case -ENOSPC:
	case -EDQUOT:
		return CRISP_STATUS_RESOURCE_EXHAUSTED;
	case -ECANCELED:
		return CRISP_STATUS_CANCELLED;
	default:
		return CRISP_STATUS_INTERNAL;
	}
}

int admin_lease_new(struct admin_ctx *a, const char *what, char ret[ADMIN_LEASE_MAX])
{
	unsigned long n = atomic_fetch_add(&lease_seq, 1);
	int w = snprintf(ret, ADMIN_LEASE_MAX, ADMIN_LEASE_PREFIX "%s-%ld-%lu", what,
			 (long)getpid(), n);
	return w < 0 || w >= ADMIN_LEASE_MAX ? -ENAMETOOLONG : 0;
}

/* ---- jobs ----------------------------------------------------------------- */

static void job_import(struct admin_job *j)
{
	const Crisp__ImageImport *rq = (const Crisp__ImageImport *)j->req->body;
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	int r = admin_import_run(&j->a, j->fd, rq, &j->req->cancelled, &out, &err);
	pool_job_done(&j->job);         /* the answer below frees the cancel flag */
	if (r < 0) {
		log_warn("import failed: %s", err.msg);
		server_answer(j->req, err.code, err.msg, NULL, -1);
		return;
	}
	for (size_t i = 0; i < out.n_image_ids; i++)
		log_info("imported image %s", out.image_ids[i]);
	server_answer(j->req, CRISP_STATUS_OK, NULL, &out.base, -1);
	admin_imported_clear(&out);
}

static void job_export(struct admin_job *j)
{
	const Crisp__ImageExport *rq = (const Crisp__ImageExport *)j->req->body;
	Crisp__ImageExported out = CRISP__IMAGE_EXPORTED__INIT;
	struct oci_error err = { 0 };
	int r = admin_export_run(&j->a, j->fd, rq, &j->req->cancelled, &out.bytes, &err);
	pool_job_done(&j->job);         /* the answer below frees the cancel flag */
	if (r < 0) {
		log_warn("export failed: %s", err.msg);
		server_answer(j->req, err.code, err.msg, NULL, -1);
		return;
	}
	log_info("exported %zu image(s), %llu bytes", rq->n_images, (unsigned long long)out.bytes);
	server_answer(j->req, CRISP_STATUS_OK, NULL, &out.base, -1);
}

static void job_push(struct admin_job *j)
{
	const Crisp__ImagePush *rq = (const Crisp__ImagePush *)j->req->body;
	Crisp__ImagePushed out = CRISP__IMAGE_PUSHED__INIT;
	struct oci_error err = { 0 };
	char digest[DIGEST_STR_SIZE];
	int r = admin_push_run(&j->a, rq, &j->req->cancelled, digest, &err);
	pool_job_done(&j->job);         /* the answer below frees the cancel flag */
	if (r < 0) {
		log_warn("push failed: %s", err.msg);
		server_answer(j->req, err.code, err.msg, NULL, -1);
		return;
	}
	log_info("pushed %.200s as %.300s (%s)", rq->image, rq->destination && *rq->destination ?
		 rq->destination : rq->image, digest);
	out.digest = digest;
	server_answer(j->req, CRISP_STATUS_OK, NULL, &out.base, -1);
}

static void job_free(struct admin_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

static void job_run(struct pool_job *sj)
{
	struct admin_job *j = job_of(sj);
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);        /* this worker, from now on */
	switch (j->kind) {
	case JOB_IMPORT:
		job_import(j);
		break;
	case JOB_EXPORT:
		job_export(j);
		break;
	case JOB_PUSH:
		job_push(j);
		break;
	}
	job_free(j);
}

static void job_drop(struct pool_job *sj)
{
	struct admin_job *j = job_of(sj);
	server_answer(j->req, CRISP_STATUS_UNAVAILABLE, "imaged is stopping", NULL, -1);
	job_free(j);
}

static int job_submit(struct server_req *req, void *userdata, enum job_kind kind, bool needs_fd)
{
	struct daemon_ctx *d = userdata;
	struct svc *s = d ? d->data : NULL;
	if (!s || !s->pulls) {
		server_answer(req, CRISP_STATUS_UNAVAILABLE, "imaged is not ready", NULL, -1);
		return 0;
	}
	if (needs_fd && req->msg.fd < 0) {
		server_answer(req, CRISP_STATUS_INVALID_ARGUMENT,
			      "the request came without the archive's fd", NULL, -1);
		return 0;
	}
	struct admin_job *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	j->job = (struct pool_job){ .run = job_run, .drop = job_drop, .cancel = &req->cancelled };
	j->a = (struct admin_ctx){ .store = s->store, .registry = s->registry,
				   .unpacker = s->unpacker, .unpack_limits = &s->unpack_limits };
	j->req = req;
	j->kind = kind;
	j->fd = req->msg.fd;
	int r = pool_submit(s->pulls, &j->job);
	if (r < 0) {
		free(j);                /* the fd is still the request's */
		server_answer(req, r == -EAGAIN ? CRISP_STATUS_RESOURCE_EXHAUSTED :
			      CRISP_STATUS_UNAVAILABLE, r == -EAGAIN ?
			      "too many image requests waiting" : "imaged is stopping", NULL, -1);
		return 0;
	}
	req->msg.fd = -1;               /* the job's now */
	return 0;
}

int admin_import(struct server_req *req, void *userdata)
{
	return job_submit(req, userdata, JOB_IMPORT, true);
}

int admin_export(struct server_req *req, void *userdata)
{
	return job_submit(req, userdata, JOB_EXPORT, true);
}

int admin_push(struct server_req *req, void *userdata)
{
	return job_submit(req, userdata, JOB_PUSH, false);
}
