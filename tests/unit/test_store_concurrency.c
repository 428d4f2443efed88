/*
 * test_store_concurrency: pulls on several threads (each under its own
 * temporary lease, sharing some blobs and layers) while another thread runs
 * GC and usage walks in a loop and a third removes images: every image that
 * exists at the end has all its content, and nothing is left in tmp/.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include "imaged/store_int.h"
#include "tests/unit/test_store_util.h"
#include "tests/unit/unit.h"

#define PULLERS 3
#define PULLS 25

struct ctx {
	struct store *s;
	atomic_bool stop;
	atomic_int failures;
};

struct worker {
	struct ctx *c;
	int id;
};

static void fail(struct ctx *c, const char *what, int r)
{
	fprintf(stderr, "  %s: %s\n", what, strerror(-r));
	atomic_fetch_add(&c->failures, 1);
}

static void one_pull(struct ctx *c, int id, int i)
{
	struct store *s = c->s;
	struct store_image img = { .uid = STORE_UID_NONE, .media_type = "m" };
	struct store_layer_ref ref;
	char lease[32], text[64], blobs[1][DIGEST_STR_SIZE], tag[32], *tags[] = { tag };
	int r;

	snprintf(lease, sizeof lease, "pull-%d-%d", id, i);
	if ((r = store_lease_create(s, lease, "pull", STORE_LEASE_TEMPORARY)) < 0)
		return fail(c, "lease", r);
	snprintf(text, sizeof text, "config %d", i);    /* shared across pullers */
	ts_digest_of(text, img.id);
	if ((r = store_blob_put(s, img.id, text, strlen(text), lease)) < 0)
		return fail(c, "config", r);
	snprintf(text, sizeof text, "manifest %d", i);
	ts_digest_of(text, img.manifest_digest);
	if ((r = store_blob_put(s, img.manifest_digest, text, strlen(text), lease)) < 0)
		return fail(c, "manifest", r);
	snprintf(text, sizeof text, "layer blob %d", i % 4);
	ts_digest_of(text, blobs[0]);
	if (store_blob_exists(s, blobs[0]) == 1 && store_lease_add_blob(s, lease, blobs[0]) == 0)
		;       /* there already, and now held */
	else if ((r = store_blob_put(s, blobs[0], text, strlen(text), lease)) < 0)
		return fail(c, "layer blob", r);
	snprintf(text, sizeof text, "layer %d", i % 4);
	ts_digest_of(text, ref.diff_id);
	if (store_layer_exists(s, ref.diff_id) != 1 || store_lease_add_layer(s, lease, ref.diff_id) < 0)
		ts_layer(s, text, NULL, lease, ref.chain_id);
	snprintf(ref.chain_id, sizeof ref.chain_id, "%s", ref.diff_id);
	snprintf(tag, sizeof tag, "r/app:%d", i);
	img.blobs = blobs;
	img.n_blobs = 1;
	img.layers = &ref;
	img.n_layers = 1;
	img.repo_tags = tags;
	img.n_repo_tags = 1;
	if ((r = store_image_put(s, &img)) < 0)
		return fail(c, "image", r);
	if ((r = store_lease_release(s, lease)) < 0)
		return fail(c, "release", r);
}

static void *puller(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < PULLS; i++)
		one_pull(w->c, w->id, i);
	return NULL;
}

static void *collector(void *arg)
{
	struct ctx *c = arg;
	struct store_usage u;
	int r;

	while (!atomic_load(&c->stop)) {
		if ((r = store_gc(c->s, NULL)) < 0)
			fail(c, "gc", r);
		if ((r = store_usage(c->s, &u)) < 0)
			fail(c, "usage", r);
	}
	return NULL;
}

static void *remover(void *arg)
{
	struct ctx *c = arg;
	struct store_image *img;

	while (!atomic_load(&c->stop))
		for (int i = 0; i < PULLS; i += 3) {
			char tag[32];
			snprintf(tag, sizeof tag, "r/app:%d", i);
			if (store_image_find(c->s, tag, &img) == 0) {
				int r = store_image_remove(c->s, img->id);
				if (r < 0 && r != -ENOENT)
					fail(c, "remove", r);
				store_image_free(img);
			}
		}
	return NULL;
}

TEST(store_concurrent_pulls_gc_and_removals)
{
	struct ctx c = { .s = ts_open() };
	pthread_t p[PULLERS], g, rm;
	struct worker w[PULLERS];
	struct store_image **v;
	size_t n;

	atomic_init(&c.stop, false);
	atomic_init(&c.failures, 0);
	CHECK(pthread_create(&g, NULL, collector, &c) == 0);
	CHECK(pthread_create(&rm, NULL, remover, &c) == 0);
	for (int i = 0; i < PULLERS; i++) {
		w[i] = (struct worker){ &c, i };
		CHECK(pthread_create(&p[i], NULL, puller, &w[i]) == 0);
	}
	for (int i = 0; i < PULLERS; i++)
		pthread_join(p[i], NULL);
	atomic_store(&c.stop, true);
	pthread_join(g, NULL);
	pthread_join(rm, NULL);
	CHECK(atomic_load(&c.failures) == 0);

	CHECK_RC(store_gc(c.s, NULL));
	CHECK_RC(store_image_list(c.s, NULL, &v, &n));
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < v[i]->n_blobs; j++)
			CHECK(store_blob_exists(c.s, v[i]->blobs[j]) == 1);
		for (size_t j = 0; j < v[i]->n_layers; j++)
			CHECK(store_layer_exists(c.s, v[i]->layers[j].chain_id) == 1);
	}
	store_image_list_free(v, n);
	CHECK(ts_count("tmp") == 0);
	store_close(c.s);
}

/* GC paused between deleting the rows and unlinking the files (the hook
 * runs there, lock held) while the same blob and layer are committed again:
 * the commits must wait, so that GC cannot unlink what they just recorded. */
struct pause {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool paused, resume;
};

static void gc_pause(void *data)
{
	struct pause *p = data;

	pthread_mutex_lock(&p->lock);
	p->paused = true;
	pthread_cond_broadcast(&p->cond);
	while (!p->resume)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

struct recommit {
	struct store *s;
	atomic_bool done;
	char blob[DIGEST_STR_SIZE];
	char layer[DIGEST_STR_SIZE];
};

static void *recommit(void *arg)
{
	struct recommit *rc = arg;

	ts_blob(rc->s, "contested", NULL, rc->blob);
	ts_layer(rc->s, "contested layer", NULL, NULL, rc->layer);
	atomic_store(&rc->done, true);
	return NULL;
}

static void *run_gc(void *arg)
{
	CHECK_RC(store_gc(arg, NULL));
	return NULL;
}

TEST(store_commit_waits_for_gc)
{
	struct store *s = ts_open();
	struct pause p = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false };
	struct recommit rc = { .s = s };
	pthread_t g, c;

	atomic_init(&rc.done, false);
	ts_blob(s, "contested", NULL, rc.blob);                 /* unreferenced: GC takes them */
	ts_layer(s, "contested layer", NULL, NULL, rc.layer);
	s->gc_test_hook = gc_pause;
	s->gc_test_data = &p;
	CHECK(pthread_create(&g, NULL, run_gc, s) == 0);
	pthread_mutex_lock(&p.lock);
	while (!p.paused)
		pthread_cond_wait(&p.cond, &p.lock);
	pthread_mutex_unlock(&p.lock);

	CHECK(pthread_create(&c, NULL, recommit, &rc) == 0);
	usleep(300000);
	CHECK(!atomic_load(&rc.done));          /* blocked behind GC */
	pthread_mutex_lock(&p.lock);
	p.resume = true;
	pthread_cond_broadcast(&p.cond);
	pthread_mutex_unlock(&p.lock);
	pthread_join(g, NULL);
	pthread_join(c, NULL);
	s->gc_test_hook = NULL;

	CHECK(store_blob_exists(s, rc.blob) == 1);      /* row and file */
	CHECK(store_layer_exists(s, rc.layer) == 1);
	CHECK(ts_count("blobs/sha256") == 1 && ts_count("layers/sha256") == 1);
	store_close(s);
}
