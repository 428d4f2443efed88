/*
 * admin: the dispatch-table side of imaged's admin requests (admin.h).
 * Each request runs on a thread of its own (import, export and push take
 * minutes and must never hold up the event loop; there are at most
 * ADMIN_JOBS_MAX), with SIGPIPE blocked there so that a reader who went
 * away is an EPIPE, not the end of imaged. The job takes the request's fd,
 * answers from its thread, and logs one line per request (this is the
 * daemon's boundary; credentials never reach a log line or an answer).
 *
 * One admin context per imaged: admin_init makes it the handlers' (a static
 * pointer, the only state here), admin_stop cancels and waits.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "common/status.h"
#include "imaged/admin_int.h"
#include "imaged/reference.h"

enum job_kind { JOB_IMPORT, JOB_EXPORT, JOB_PUSH };

struct admin_job {
	struct admin_ctx *a;
	struct server_req *req;
	enum job_kind kind;
	int fd;
	struct admin_job *next;
};

static struct admin_ctx *admin_active;

int admin_init(struct admin_ctx *a, struct store *store, struct registry_client *registry,
	       const char *unpack_exe, const struct unpack_limits *limits)
{
	*a = (struct admin_ctx){ .store = store, .registry = registry, .unpack_exe = unpack_exe,
				 .unpack_limits = limits };
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->idle, NULL);
	atomic_init(&a->seq, 0);
	admin_active = a;
	return 0;
}

void admin_stop(struct admin_ctx *a)
{
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	for (struct admin_job *j = a->jobs; j; j = j->next)
		atomic_store(&j->req->cancelled, true);
	while (a->running > 0)
		pthread_cond_wait(&a->idle, &a->lock);
	pthread_mutex_unlock(&a->lock);
	if (admin_active == a)
		admin_active = NULL;
}

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

int admin_ref_normalize(const char *ref, char *buf, size_t len)
{
	struct image_ref r;
	char name[REF_NAME_MAX + 1];
	if (!ref || image_ref_parse(ref, &r, NULL) < 0 || image_ref_name(&r, name, sizeof name) < 0)
		return -EINVAL;
	int n = r.digest[0] ? snprintf(buf, len, "%s@%s", name, r.digest) :
			      snprintf(buf, len, "%s:%s", name, r.tag);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int admin_image_find(struct admin_ctx *a, const char *ref, struct store_image **ret)
{
	char norm[REF_STRING_MAX];
	if (!ref || !*ref || strnlen(ref, REF_INPUT_MAX + 1) > REF_INPUT_MAX)
		return -EINVAL;
	if (!digest_valid(ref) && admin_ref_normalize(ref, norm, sizeof norm) == 0) {
		int r = store_image_find(a->store, norm, ret);
		if (r != -ENOENT)
			return r;
	}
	int r = store_image_find(a->store, ref, ret);     /* an id or id prefix */
	return r == -EINVAL ? -ENOENT : r;
}

int admin_lease_new(struct admin_ctx *a, const char *what, char ret[ADMIN_LEASE_MAX])
{
	unsigned long n = atomic_fetch_add(&a->seq, 1);
	int w = snprintf(ret, ADMIN_LEASE_MAX, ADMIN_LEASE_PREFIX "%s-%ld-%lu", what,
			 (long)getpid(), n);
	return w < 0 || w >= ADMIN_LEASE_MAX ? -ENAMETOOLONG : 0;
}

/* ---- jobs ----------------------------------------------------------------- */

static void job_end(struct admin_job *j)
{
	struct admin_ctx *a = j->a;
	pthread_mutex_lock(&a->lock);
	for (struct admin_job **p = &a->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	pthread_mutex_unlock(&a->lock);
}

/* Off the list (admin_stop no longer reaches the request), then answered. */
static void job_reply(struct admin_job *j, int32_t status, const char *error,
		      const ProtobufCMessage *msg)
{
	job_end(j);
	server_answer(j->req, status, error, msg, -1);
}

static void job_import(struct admin_job *j)
{
	const Crisp__ImageImport *rq = (const Crisp__ImageImport *)j->req->body;
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	int r = admin_import_run(j->a, j->fd, rq, &j->req->cancelled, &out, &err);
	if (r < 0) {
		log_warn("import failed: %s", err.msg);
		job_reply(j, err.code, err.msg, NULL);
		return;
	}
	for (size_t i = 0; i < out.n_image_ids; i++)
		log_info("imported image %s", out.image_ids[i]);
	job_reply(j, CRISP_STATUS_OK, NULL, &out.base);
	admin_imported_clear(&out);
}

static void job_export(struct admin_job *j)
{
	const Crisp__ImageExport *rq = (const Crisp__ImageExport *)j->req->body;
	Crisp__ImageExported out = CRISP__IMAGE_EXPORTED__INIT;
	struct oci_error err = { 0 };
	int r = admin_export_run(j->a, j->fd, rq, &j->req->cancelled, &out.bytes, &err);
	if (r < 0) {
		log_warn("export failed: %s", err.msg);
		job_reply(j, err.code, err.msg, NULL);
		return;
	}
	log_info("exported %zu image(s), %llu bytes", rq->n_images, (unsigned long long)out.bytes);
	job_reply(j, CRISP_STATUS_OK, NULL, &out.base);
}

static void job_push(struct admin_job *j)
{
	const Crisp__ImagePush *rq = (const Crisp__ImagePush *)j->req->body;
	Crisp__ImagePushed out = CRISP__IMAGE_PUSHED__INIT;
	struct oci_error err = { 0 };
	char digest[DIGEST_STR_SIZE];
	int r = admin_push_run(j->a, rq, &j->req->cancelled, digest, &err);
	if (r < 0) {
		log_warn("push failed: %s", err.msg);
		job_reply(j, err.code, err.msg, NULL);
		return;
	}
	log_info("pushed %.200s as %.300s (%s)", rq->image, rq->destination && *rq->destination ?
		 rq->destination : rq->image, digest);
	out.digest = digest;
	job_reply(j, CRISP_STATUS_OK, NULL, &out.base);
}

static void *job_main(void *arg)
{
	struct admin_job *j = arg;
	struct admin_ctx *a = j->a;
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
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
	if (j->fd >= 0)
		close(j->fd);
	free(j);
	pthread_mutex_lock(&a->lock);
	if (--a->running == 0)
		pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static int job_start(struct server_req *req, enum job_kind kind, bool needs_fd)
{
	struct admin_ctx *a = admin_active;
	const char *why = NULL;
	int code = CRISP_STATUS_UNAVAILABLE;
	if (needs_fd && req->msg.fd < 0) {
		why = "the request came without the archive's fd";
		code = CRISP_STATUS_INVALID_ARGUMENT;
	}
	struct admin_job *j = why ? NULL : calloc(1, sizeof *j);
	if (!why && !j)
		why = "out of memory";
	if (!why && !a)
		why = "imaged's admin service is not running";
	if (!why) {
		pthread_mutex_lock(&a->lock);
		if (a->stopping)
			why = "imaged is stopping";
		else if (a->running >= ADMIN_JOBS_MAX) {
			why = "too many admin requests at once";
			code = CRISP_STATUS_RESOURCE_EXHAUSTED;
		} else {
			*j = (struct admin_job){ .a = a, .req = req, .kind = kind, .fd = req->msg.fd,
						 .next = a->jobs };
			req->msg.fd = -1;       /* the job's now */
			pthread_t t;
			pthread_attr_t attr;
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			int e = pthread_create(&t, &attr, job_main, j);
			pthread_attr_destroy(&attr);
			if (e == 0) {
				a->jobs = j;
				a->running++;
			} else {
				req->msg.fd = j->fd;
				why = "no thread for the request";
			}
		}
		pthread_mutex_unlock(&a->lock);
	}
	if (!why)
		return 0;
	free(j);
	server_answer(req, code, why, NULL, -1);
	return 0;
}

int admin_import(struct server_req *req, void *userdata)
{
	return job_start(req, JOB_IMPORT, true);
}

int admin_export(struct server_req *req, void *userdata)
{
	return job_start(req, JOB_EXPORT, true);
}

int admin_push(struct server_req *req, void *userdata)
{
	return job_start(req, JOB_PUSH, false);
}
