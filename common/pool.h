/*
 * pool: a fixed set of worker threads and a bounded queue of jobs, for the
 * daemons' requests (an event loop must never wait for a registry, runc, a
 * CNI plugin, a sqlite transaction or a directory walk). A job is a struct
 * the submitter embeds in its own: run() is called on a worker, or drop() if the pool
 * stops before it ran; either must free it. Stopping sets the cancel flag
 * of every job that is running and waits for them. Never logs.
 */
#pragma once
#include <stdatomic.h>

struct pool;

struct pool_job {
	void (*run)(struct pool_job *j);
	void (*drop)(struct pool_job *j);        /* never ran: answer and free it */
	/* set when the pool stops while the job runs, until pool_job_done; may
	 * be NULL. A request's flag (&req->cancelled) is freed when the request
	 * is answered: call pool_job_done before answering. */
	atomic_bool *cancel;
	/* the pool's */
	struct pool_job *next;
	struct pool *pool;
	unsigned slot;
};

/* Starts n threads named name (at most 15 chars). */
int pool_new(const char *name, unsigned n, unsigned queue_max, struct pool **ret);
/* Queues j. -EAGAIN when queue_max jobs wait, -ESHUTDOWN when stopping:
 * j is then still the caller's. */
int pool_submit(struct pool *p, struct pool_job *j);
/* A running job is past the point where stopping could cancel it: the
 * pool no longer touches j->cancel. Call it before answering. */
void pool_job_done(struct pool_job *j);
/* Refuses new jobs, drops the queued ones, cancels the running ones, waits
 * for every thread and frees p. NULL ok. */
void pool_free(struct pool *p);
