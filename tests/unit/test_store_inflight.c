/*
 * test_store_inflight: one download per digest: among threads that ask for
 * the same key at once exactly one leads and the others get its result;
 * a finished key can be led again; a waiter's timeout; keys are separate.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include "tests/unit/test_store_util.h"
#include "tests/unit/unit.h"

#define N_THREADS 8

struct puller {
	struct store *s;
	const char *key;
	atomic_int *leaders;
	atomic_int *downloads_running;
	int result;
	int rc;
	struct store_flight *f;
};

static void *pull(void *arg)
{
	struct puller *p = arg;
	struct store_flight *f = NULL;

	p->rc = store_inflight_join(p->s, p->key, 0, &f, &p->result);
	if (p->rc == 1) {
		atomic_fetch_add(p->leaders, 1);
		/* the "download": long enough that every other thread joins */
		if (atomic_fetch_add(p->downloads_running, 1) != 0)
			p->rc = -EALREADY;      /* two downloads of one key at once */
		usleep(200000);
		atomic_fetch_sub(p->downloads_running, 1);
		p->result = 42;
		store_inflight_done(p->s, f, 42);
	}
	return NULL;
}

TEST(store_inflight_one_leader)
{
	struct store *s = ts_open();
	atomic_int leaders = 0, running = 0;
	struct puller p[N_THREADS];
	pthread_t t[N_THREADS];

	for (int i = 0; i < N_THREADS; i++) {
		p[i] = (struct puller){ s, "sha256:aaaa", &leaders, &running, -1, -1, NULL };
		CHECK(pthread_create(&t[i], NULL, pull, &p[i]) == 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&leaders) == 1);
	for (int i = 0; i < N_THREADS; i++) {
		CHECK(p[i].rc == 0 || p[i].rc == 1);
		CHECK(p[i].result == 42);
	}

	/* done: the next caller leads a new flight */
	struct store_flight *f;
	int result = 0;
	CHECK(store_inflight_join(s, "sha256:aaaa", 0, &f, &result) == 1);
	store_inflight_done(s, f, -EIO);
	store_close(s);
}

static void *wait_short(void *arg)
{
	struct puller *p = arg;

	p->rc = store_inflight_join(p->s, p->key, 50, &p->f, &p->result);
	return NULL;
}

TEST(store_inflight_timeout_and_keys)
{
	struct store *s = ts_open();
	struct store_flight *fa, *fb;
	struct puller w = { .s = s, .key = "a", .result = -1 };
	pthread_t t;
	int result = 0;

	CHECK(store_inflight_join(s, "a", 0, &fa, &result) == 1);
	CHECK(store_inflight_join(s, "b", 0, &fb, &result) == 1);      /* another key */
	CHECK(pthread_create(&t, NULL, wait_short, &w) == 0);
	pthread_join(t, NULL);
	CHECK(w.rc == -ETIMEDOUT && w.result == -1);
	store_inflight_done(s, fa, 7);

	/* a waiter that arrives in time gets the leader's error, too */
	CHECK(store_inflight_join(s, "a", 0, &fa, &result) == 1);
	w.rc = -1;
	CHECK(pthread_create(&t, NULL, wait_short, &w) == 0);
	usleep(10000);
	store_inflight_done(s, fa, -ENOENT);
	pthread_join(t, NULL);
	CHECK((w.rc == 0 && w.result == -ENOENT) || w.rc == 1);
	if (w.rc == 1)          /* it came after done and led: finish its flight */
		store_inflight_done(s, w.f, 0);
	store_inflight_done(s, fb, 0);
	CHECK(store_inflight_join(s, "", 0, &fa, &result) == -EINVAL);
	store_close(s);
}
