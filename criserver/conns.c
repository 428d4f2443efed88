/*
 * conns: the connection table and its eviction policy (see conns.h). An
 * array of max entries, searched linearly under one mutex: max is
 * api.max_connections (128 by default), and each search is a few hundred
 * nanoseconds at that size.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "criserver/conns.h"

struct conns {
	pthread_mutex_t lock;
	struct conn *v;
	unsigned n, max;
	uint64_t next_id;
};

int conns_new(unsigned max, struct conns **ret)
{
	struct conns *t;

	if (max == 0)
		return -EINVAL;
	t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->v = calloc(max, sizeof *t->v);
	if (!t->v) {
		free(t);
		return -ENOMEM;
	}
	t->max = max;
	pthread_mutex_init(&t->lock, NULL);
	*ret = t;
	return 0;
}

void conns_free(struct conns *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->v);
	free(t);
}

unsigned conns_count(struct conns *t)
{
	pthread_mutex_lock(&t->lock);
	unsigned n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

unsigned conns_count_handshake(struct conns *t)
{
	unsigned n = 0;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->n; i++)
		n += t->v[i].state == CONN_HANDSHAKE;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* t->lock held */
static struct conn *by_id(struct conns *t, uint64_t id)
{
	for (unsigned i = 0; id && i < t->n; i++)
		if (t->v[i].id == id)
			return &t->v[i];
	return NULL;
}

static struct conn *by_grpc_fd(struct conns *t, int fd)
{
	for (unsigned i = 0; fd >= 0 && i < t->n; i++)
		if (t->v[i].state == CONN_GRPC && t->v[i].fd == fd)
			return &t->v[i];
	return NULL;
}

/* t->lock held; c points into t->v */
static void take(struct conns *t, struct conn *c, struct conn *ret)
{
	if (ret)
		*ret = *c;
	*c = t->v[--t->n];
}

int conns_add(struct conns *t, const struct conn *c, uint64_t *ret_id)
{
	int r = 0;

	pthread_mutex_lock(&t->lock);
	if (t->n >= t->max) {
		r = -ENOSPC;
	} else {
		struct conn *e = &t->v[t->n++];
		*e = *c;
		e->id = ++t->next_id;
		e->calls = 0;
		if (ret_id)
			*ret_id = e->id;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int conns_get(struct conns *t, uint64_t id, struct conn *ret)
{
	pthread_mutex_lock(&t->lock);
	struct conn *c = by_id(t, id);
	if (c)
		*ret = *c;
	pthread_mutex_unlock(&t->lock);
	return c ? 0 : -ENOENT;
}

int conns_to_grpc(struct conns *t, uint64_t id, int keep_fd, int64_t now_ms)
{
	pthread_mutex_lock(&t->lock);
	struct conn *c = by_id(t, id);
	if (c) {
		c->state = CONN_GRPC;
		c->keep_fd = keep_fd;
		c->active_ms = now_ms;
	}
	pthread_mutex_unlock(&t->lock);
	return c ? 0 : -ENOENT;
}

int conns_remove(struct conns *t, uint64_t id, struct conn *ret)
{
	pthread_mutex_lock(&t->lock);
	struct conn *c = by_id(t, id);
	if (c)
		take(t, c, ret);
	pthread_mutex_unlock(&t->lock);
	return c ? 0 : -ENOENT;
}

int conns_take_fd(struct conns *t, int fd, struct conn *ret)
{
	pthread_mutex_lock(&t->lock);
	struct conn *c = by_grpc_fd(t, fd);
	if (c)
		take(t, c, ret);
	pthread_mutex_unlock(&t->lock);
	return c ? 0 : -ENOENT;
}

uint64_t conns_call_start(struct conns *t, int fd, int64_t now_ms)
{
	uint64_t id = 0;

	pthread_mutex_lock(&t->lock);
	struct conn *c = by_grpc_fd(t, fd);
	if (c) {
		c->calls++;
		c->active_ms = now_ms;
		id = c->id;
	}
	pthread_mutex_unlock(&t->lock);
	return id;
}

void conns_call_end(struct conns *t, uint64_t id, int64_t now_ms)
{
	pthread_mutex_lock(&t->lock);
	struct conn *c = by_id(t, id);
	if (c && c->calls > 0) {
		c->calls--;
		c->active_ms = now_ms;
	}
	pthread_mutex_unlock(&t->lock);
}

/* t->lock held: the idle GRPC connection with the oldest active_ms at or
 * before until_ms, or NULL. */
static struct conn *idle_longest(struct conns *t, int64_t until_ms)
{
	struct conn *best = NULL;
	for (unsigned i = 0; i < t->n; i++) {
		struct conn *c = &t->v[i];
		if (c->state != CONN_GRPC || c->calls > 0 || c->active_ms > until_ms)
			continue;
		if (!best || c->active_ms < best->active_ms)
			best = c;
	}
	return best;
}

static struct conn *oldest_handshake(struct conns *t, int64_t until_ms)
{
	struct conn *best = NULL;
	for (unsigned i = 0; i < t->n; i++) {
		struct conn *c = &t->v[i];
		if (c->state != CONN_HANDSHAKE || c->since_ms > until_ms)
			continue;
		if (!best || c->since_ms < best->since_ms)
			best = c;
	}
	return best;
}

int conns_victim(struct conns *t, int64_t now_ms, int64_t grace_ms, struct conn *ret)
{
	pthread_mutex_lock(&t->lock);
	struct conn *c = idle_longest(t, now_ms - grace_ms);
	if (!c)
		c = oldest_handshake(t, INT64_MAX);
	if (!c)
		c = idle_longest(t, INT64_MAX);
	if (c)
		*ret = *c;
	pthread_mutex_unlock(&t->lock);
	return c ? 0 : -EBUSY;
}

int conns_handshake_expired(struct conns *t, int64_t now_ms, int64_t limit_ms,
			    struct conn *ret)
{
	pthread_mutex_lock(&t->lock);
	struct conn *c = oldest_handshake(t, now_ms - limit_ms);
	if (c)
		*ret = *c;
	pthread_mutex_unlock(&t->lock);
	return c ? 0 : -ENOENT;
}

size_t conns_list_grpc(struct conns *t, struct conn *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->n && n < max; i++)
		if (t->v[i].state == CONN_GRPC)
			out[n++] = t->v[i];
	pthread_mutex_unlock(&t->lock);
	return n;
}
