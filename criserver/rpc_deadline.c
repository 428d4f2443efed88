/*
 * rpc_deadline: the deadline criserver gives a call that came without one
 * (see rpc.h). grpc core has no way to set a server call's deadline, so one
 * thread keeps the list of such calls (s->dl_head, under s->lock), sleeps
 * until the earliest deadline, and ends each call whose deadline passed with
 * grpc_call_cancel_with_status(DEADLINE_EXCEEDED): the client gets that
 * status, and the call's RECV_CLOSE_ON_SERVER completes as cancelled, so
 * its cancel hook tells the daemon working on it (as for a client's own
 * deadline). The handler still finishes the call; that answer is dropped.
 *
 * Lock order: s->lock, then a call's r->lock. A call is unlinked by the
 * thread when it expires it, or by rpc_free (first thing, under s->lock), so
 * the thread never touches a freed call; it skips one whose last reference
 * is already gone (refs == 0: rpc_free is waiting for s->lock).
 * Must never cancel a call while holding s->lock (grpc may run callbacks).
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <grpc/grpc.h>

#include "common/log.h"
#include "criserver/rpc_int.h"

int64_t rpc_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rpc_deadline_link(struct rpc_server *s, struct rpc *r)
{
	if (r->dl_linked)
		return;
	r->dl_prev = NULL;
	r->dl_next = s->dl_head;
	if (s->dl_head)
		s->dl_head->dl_prev = r;
	s->dl_head = r;
	r->dl_linked = true;
	pthread_cond_signal(&s->dl_cond);
}

void rpc_deadline_unlink(struct rpc_server *s, struct rpc *r)
{
	if (!r->dl_linked)
		return;
	if (r->dl_prev)
		r->dl_prev->dl_next = r->dl_next;
	else
		s->dl_head = r->dl_next;
	if (r->dl_next)
		r->dl_next->dl_prev = r->dl_prev;
	r->dl_prev = r->dl_next = NULL;
	r->dl_linked = false;
}

/* s->lock held */
static struct rpc *earliest(struct rpc_server *s)
{
	struct rpc *best = NULL;
	for (struct rpc *r = s->dl_head; r; r = r->dl_next)
		if (!best || r->default_deadline_ms < best->default_deadline_ms)
			best = r;
	return best;
}

static void expire(struct rpc *r, int64_t given_ms)
{
	char text[160];

	snprintf(text, sizeof text,
		 "the call came without a deadline and ran for %lld ms, criserver's limit "
		 "(api.max_call_timeout)", (long long)given_ms);
	log_debug("%s: %s", r->name, text);
	grpc_call_cancel_with_status(r->call, GRPC_STATUS_DEADLINE_EXCEEDED, text, NULL);
}

static void wait_until(struct rpc_server *s, int64_t at_ms)
{
	struct timespec ts = { .tv_sec = at_ms / 1000, .tv_nsec = (at_ms % 1000) * 1000000L };
	pthread_cond_timedwait(&s->dl_cond, &s->lock, &ts);
}

static void *deadline_main(void *arg)
{
	struct rpc_server *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->dl_stop) {
		struct rpc *r = earliest(s);
		if (!r) {
			pthread_cond_wait(&s->dl_cond, &s->lock);
			continue;
		}
		if (r->default_deadline_ms > rpc_mono_ms()) {
			wait_until(s, r->default_deadline_ms);
			continue;
		}
		rpc_deadline_unlink(s, r);
		pthread_mutex_lock(&r->lock);
		bool alive = r->refs > 0;
		if (alive)
			r->refs++;
		pthread_mutex_unlock(&r->lock);
		if (!alive)
			continue;
		int64_t given = r->default_deadline_ms - r->start_ms;
		pthread_mutex_unlock(&s->lock);
		expire(r, given);
		rpc_unref(r);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int rpc_deadline_start(struct rpc_server *s)
{
	int r = pthread_create(&s->dl_thread, NULL, deadline_main, s);
	if (r != 0)
		return -r;
	s->dl_started = true;
	return 0;
}

void rpc_deadline_stop(struct rpc_server *s)
{
	if (!s->dl_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->dl_stop = true;
	pthread_cond_broadcast(&s->dl_cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->dl_thread, NULL);
	s->dl_started = false;
}
