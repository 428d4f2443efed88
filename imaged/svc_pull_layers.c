/*
 * svc_pull_layers: the layers of one pull, [image] max_concurrent_downloads
 * at a time: the pull's own thread and up to that many - 1 helpers take
 * layers in order; each fetches and unpacks its layer on its own (a layer
 * unpacks without its parent), then waits for the layers below it to be
 * done before it commits (pull_wait_turn). Waits only ever point down the
 * stack (a layer waits for lower ones, or follows the same layer of
 * another pull), so they cannot form a cycle. The first failure stops the
 * others (their transfers, unpack children and waits).
 * Never logs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "common/status.h"
#include "imaged/svc_pull.h"

#define LAYER_THREADS_MAX 16

static void pull_fail_once(struct pull *p, const struct svc_error *e)
{
	pthread_mutex_lock(&p->lock);
	if (!p->failed) {
		p->failed = true;
		p->err = *e;
		atomic_store(&p->abort, true);
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void layer_loop(struct pull *p)
{
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t i = p->next;
		bool stop = p->failed || i >= p->m->n_layers;
		if (!stop)
			p->next++;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return;
		struct svc_error e = { 0 };
		if (pull_layer(p, i, &e) < 0) {
			pull_fail_once(p, &e);
			return;
		}
	}
}

static void *layer_thread(void *data)
{
	pthread_setname_np(pthread_self(), "imaged-layer");
	layer_loop(data);
	return NULL;
}

int pull_layers(struct pull *p)
{
	size_t n = p->m->n_layers;
	p->done = calloc(n ? n : 1, sizeof *p->done);
	if (!p->done) {
		p->err = (struct svc_error){ CRISP_STATUS_INTERNAL, "out of memory" };
		return -ENOMEM;
	}
	size_t want = p->s->downloads < n ? p->s->downloads : n;
	if (want > LAYER_THREADS_MAX)
		want = LAYER_THREADS_MAX;
	pthread_t t[LAYER_THREADS_MAX];
	size_t started = 0;
	while (started + 1 < want && pthread_create(&t[started], NULL, layer_thread, p) == 0)
		started++;              /* fewer helpers if threads run out */
	layer_loop(p);
	for (size_t k = 0; k < started; k++)
		pthread_join(t[k], NULL);
	if (p->failed)
		return p->err.code == CRISP_STATUS_DEADLINE_EXCEEDED ? -ETIMEDOUT :
		       p->err.code == CRISP_STATUS_CANCELLED ? -ECANCELED : -EIO;
	return 0;
}

int pull_wait_turn(struct pull *p, size_t i, struct svc_error *err)
{
	int r = 0;
	pthread_mutex_lock(&p->lock);
	while (p->committed < i && !p->failed && r == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += PULL_WAIT_SLICE_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		r = pull_check(p, err);
	}
	if (r == 0 && p->committed < i)
		r = svc_fail(err, CRISP_STATUS_ABORTED, -ECANCELED, "another layer failed");
	pthread_mutex_unlock(&p->lock);
	return r;
}

void pull_mark_done(struct pull *p, size_t i)
{
	pthread_mutex_lock(&p->lock);
	p->done[i] = true;
	while (p->committed < p->m->n_layers && p->done[p->committed])
		p->committed++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
