/*
 * pool: worker threads for the daemons' requests (see pool.h). Owns
 * the queue, its lock and the threads; knows nothing about what a job does.
 * Must never run a job after pool_free began, nor drop one that runs,
 * nor touch a job's cancel flag once the job said pool_job_done (its
 * request, which holds the flag, may be gone then).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/pool.h"

#define POOL_THREADS_MAX 64

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pool_job *head, *tail;
	unsigned queued, queue_max;
	bool stopping;
	struct pool_job *running[POOL_THREADS_MAX];     /* per thread, for cancel */
	pthread_t threads[POOL_THREADS_MAX];
	unsigned n_threads;
	char name[16];
};

struct worker_arg {
	struct pool *p;
	unsigned idx;
};

static struct pool_job *take(struct pool *p)
{
	struct pool_job *j = p->head;
	p->head = j->next;
	if (!p->head)
		p->tail = NULL;
	p->queued--;
	j->next = NULL;
	return j;
}

static void *worker(void *data)
{
	struct worker_arg a = *(struct worker_arg *)data;
	struct pool *p = a.p;
	free(data);
	pthread_setname_np(pthread_self(), p->name);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping)
			break;
		struct pool_job *j = take(p);
		j->pool = p;
		j->slot = a.idx;
		p->running[a.idx] = j;
		pthread_mutex_unlock(&p->lock);
		j->run(j);      /* frees j (pool_job_done first, if it has a cancel flag) */
		pthread_mutex_lock(&p->lock);
		p->running[a.idx] = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int pool_new(const char *name, unsigned n, unsigned queue_max, struct pool **ret)
{
	if (n == 0 || n > POOL_THREADS_MAX)
		return -EINVAL;
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->queue_max = queue_max;
	snprintf(p->name, sizeof p->name, "%s", name);
	int r = 0;
	for (unsigned i = 0; i < n; i++) {
		struct worker_arg *a = malloc(sizeof *a);
		if (!a) {
			r = -ENOMEM;
			break;
		}
		*a = (struct worker_arg){ p, i };
		r = -pthread_create(&p->threads[i], NULL, worker, a);
		if (r < 0) {
			free(a);
			break;
		}
		p->n_threads++;
	}
	if (r < 0) {
		pool_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void pool_job_done(struct pool_job *j)
{
	struct pool *p = j->pool;
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->running[j->slot] == j)
		p->running[j->slot] = NULL;
	pthread_mutex_unlock(&p->lock);
}

int pool_submit(struct pool *p, struct pool_job *j)
{
	int r = 0;
	pthread_mutex_lock(&p->lock);
	if (p->stopping)
		r = -ESHUTDOWN;
	else if (p->queued >= p->queue_max)
		r = -EAGAIN;
	if (r == 0) {
		j->next = NULL;
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->queued++;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	struct pool_job *queued = p->head;
	p->head = p->tail = NULL;
	p->queued = 0;
	for (unsigned i = 0; i < p->n_threads; i++)
		if (p->running[i] && p->running[i]->cancel)
			atomic_store(p->running[i]->cancel, true);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	while (queued) {
		struct pool_job *next = queued->next;
		queued->drop(queued);
		queued = next;
	}
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
