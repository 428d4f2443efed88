/*
 * store_inflight: "one download per key" (singleflight). The first caller
 * for a key leads and does the work; callers that arrive while it runs
 * wait for its result instead of fetching the same blob again. A finished
 * flight leaves the table at once: a later caller leads a new one (and will
 * find the blob in the store). The leader must always call
 * store_inflight_done, on every path. The keys of blobs and layers are
 * built here, in one key space. Never logs; holds no store lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "imaged/store_int.h"

#define FLIGHT_KEY_MAX 4096u

struct store_flight {
	char *key;
	int result;
	bool done;
	unsigned waiters;
	struct store_flight *next;
};

static struct store_flight *flight_find(struct store *s, const char *key)
{
	for (struct store_flight *f = s->flights; f; f = f->next)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

static void flight_unlink(struct store *s, struct store_flight *f)
{
	for (struct store_flight **p = &s->flights; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			return;
		}
}

static void flight_free(struct store_flight *f)
{
	free(f->key);
	free(f);
}

static void deadline_after(int64_t ms, struct timespec *ret)
{
	clock_gettime(CLOCK_MONOTONIC, ret);
	ret->tv_sec += ms / 1000;
	ret->tv_nsec += (ms % 1000) * 1000000;
	if (ret->tv_nsec >= 1000000000) {
		ret->tv_sec++;
		ret->tv_nsec -= 1000000000;
	}
}

/* Wait (flight_lock held) for f to finish. */
static int flight_wait(struct store *s, struct store_flight *f, int64_t timeout_ms,
		       int *ret_result)
{
	struct timespec deadline;
	int r = 0;

	if (timeout_ms > 0)
		deadline_after(timeout_ms, &deadline);
	f->waiters++;
	while (!f->done && r == 0)
		r = timeout_ms > 0 ? pthread_cond_timedwait(&s->flight_cond, &s->flight_lock, &deadline)
				   : pthread_cond_wait(&s->flight_cond, &s->flight_lock);
	f->waiters--;
	if (f->done) {
		*ret_result = f->result;
		r = 0;
	}
	if (f->done && f->waiters == 0)
		flight_free(f);         /* the leader left it to the last waiter */
	return r == 0 ? 0 : r == ETIMEDOUT ? -ETIMEDOUT : -r;
}

int store_inflight_join(struct store *s, const char *key, int64_t timeout_ms,
			struct store_flight **ret_flight, int *ret_result)
{
	struct store_flight *f;
	int r;

	if (!key || !*key || strnlen(key, FLIGHT_KEY_MAX + 1) > FLIGHT_KEY_MAX)
		return -EINVAL;
	pthread_mutex_lock(&s->flight_lock);
	f = flight_find(s, key);
	if (f) {
		r = flight_wait(s, f, timeout_ms, ret_result);
		pthread_mutex_unlock(&s->flight_lock);
		return r;
	}
	f = calloc(1, sizeof *f);
	if (!f || !(f->key = strdup(key))) {
		free(f);
		pthread_mutex_unlock(&s->flight_lock);
		return -ENOMEM;
	}
	f->next = s->flights;
	s->flights = f;
	pthread_mutex_unlock(&s->flight_lock);
	*ret_flight = f;
	return 1;
}

void store_inflight_done(struct store *s, struct store_flight *f, int result)
{
	pthread_mutex_lock(&s->flight_lock);
	flight_unlink(s, f);
	f->result = result;
	f->done = true;
	if (f->waiters == 0)
		flight_free(f);
	else
		pthread_cond_broadcast(&s->flight_cond);
	pthread_mutex_unlock(&s->flight_lock);
}

void store_flight_key_blob(const char *digest, char ret_key[STORE_FLIGHT_KEY_SIZE])
{
	snprintf(ret_key, STORE_FLIGHT_KEY_SIZE, "blob:%s", digest);
}

void store_flight_key_layer(const char *chain_id, char ret_key[STORE_FLIGHT_KEY_SIZE])
{
	snprintf(ret_key, STORE_FLIGHT_KEY_SIZE, "layer:%s", chain_id);
}
