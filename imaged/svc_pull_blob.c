/*
 * svc_pull_blob: one blob, or one layer, of a pull into the store, held by
 * the pull's lease. What is in the store already is only held; what is not
 * is fetched (blobs: streamed from the registry into a store blob writer,
 * whose digest and size are checked as it streams) or unpacked (layers: its
 * blob, by the confined unpack child, into a fresh temp dir; the diff_id it
 * reports must be the config's; committed on top of its parent). Concurrent
 * pulls of the same blob or layer share one download or unpack
 * (store_inflight); a follower whose leader failed looks again, and may lead.
 * Never logs; never commits a layer before its parent is done.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/status.h"
#include "imaged/svc_pull.h"
#include "imaged/unpack_server.h"

int pull_flight_join(struct pull *p, const char *key, struct store_flight **ret_f,
		     struct svc_error *err)
{
	for (;;) {
		int r = pull_check(p, err);
		if (r < 0)
			return r;
		int result = 0;
		r = store_inflight_join(p->s->store, key, PULL_WAIT_SLICE_MS, ret_f, &result);
		if (r == 1 || r == 0)
			return r;       /* a follower looks at the store again, whatever the result */
		if (r != -ETIMEDOUT)
			return svc_fail(err, CRISP_STATUS_INTERNAL, r, "waiting for %s: %s", key,
					strerror(-r));
	}
}

struct blob_sink {
	struct pull *p;
	struct store_blob_writer *w;
};

static int blob_sink(void *ud, const void *buf, size_t len)
{
	struct blob_sink *b = ud;
	if (atomic_load(&b->p->abort))
		return -ECANCELED;
	return store_blob_write(b->w, buf, len);
}

static int blob_fetch(struct pull *p, const struct registry_descriptor *d, uint64_t cap,
		      struct svc_error *err)
{
	struct store_blob_writer *w;
	int r = store_blob_begin(p->s->store, d->digest, d->size, cap, p->lease, &w);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "blob %s: %s", d->digest, strerror(-r));
	struct blob_sink bs = { p, w };
	struct registry_error rerr = { 0 };
	r = registry_pull_blob(p->sess, d, blob_sink, &bs, &rerr);
	if (r < 0) {
		store_blob_abort(w);
		if (r == -ECANCELED && pull_check(p, err) < 0)
			return -ECANCELED;
		return pull_registry_fail(err, r, &rerr);
	}
	r = store_blob_commit(w);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "blob %s: %s", d->digest,
				r == -EBADMSG ? "content does not match its digest" :
				r == -ENOSPC || r == -EDQUOT ? "the image store's filesystem is full" :
				strerror(-r));
	return 0;
}

int pull_blob(struct pull *p, const struct registry_descriptor *d, uint64_t cap,
	      struct svc_error *err)
{
	struct store *st = p->s->store;
	char key[STORE_FLIGHT_KEY_SIZE];
	store_flight_key_blob(d->digest, key);
	for (int round = 0; round < PULL_FLIGHT_TRIES; round++) {
		int r = store_blob_exists(st, d->digest);
		if (r == 1) {
			r = store_lease_add_blob(st, p->lease, d->digest);
			if (r == 0)
				return 0;
			if (r == -ENOENT)
				continue;       /* GC took it in between: fetch it */
		}
		if (r < 0)
			return svc_fail(err, svc_status_of(r), r, "blob %s: %s", d->digest,
					strerror(-r));
		struct store_flight *f = NULL;
		r = pull_flight_join(p, key, &f, err);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		if (store_blob_exists(st, d->digest) == 1) {
			store_inflight_done(st, f, 0);  /* a flight that ended as we joined */
			continue;
		}
		r = blob_fetch(p, d, cap, err);
		store_inflight_done(st, f, r);
		return r;
	}
	return svc_fail(err, CRISP_STATUS_UNAVAILABLE, -EAGAIN,
			"blob %s: other pulls failed to fetch it, %d times", d->digest,
			PULL_FLIGHT_TRIES);
}

static int unpack_fail(struct svc_error *err, const char *digest, int r,
		       const struct unpack_error *u)
{
	int code = u->code == UNPACK_ERR_INVALID ? CRISP_STATUS_INVALID_ARGUMENT :
		   u->code == UNPACK_ERR_LIMIT ? CRISP_STATUS_RESOURCE_EXHAUSTED :
		   CRISP_STATUS_INTERNAL;
	if (u->err == -ENOSPC || u->err == -EDQUOT || r == -ENOSPC || r == -EDQUOT)
		code = CRISP_STATUS_RESOURCE_EXHAUSTED;
	return svc_fail(err, code, r, "layer %s: %s", digest, u->msg[0] ? u->msg : strerror(-r));
}

/* For the unpack spawner: has the pull stopped (cancel, deadline, abort)? */
static bool pull_stopped(void *ctx)
{
	struct svc_error ignored = { 0 };
	return pull_check(ctx, &ignored) < 0;
}

/* The unpack child on blob_fd into w's diff dir; killed if the pull stops. */
static int layer_unpack(struct pull *p, struct store_layer_writer *w, int blob_fd,
			size_t i, struct unpack_result *res, struct svc_error *err)
{
	const struct registry_descriptor *d = &p->m->layers[i];
	enum unpack_compression comp;
	int r = unpack_compression_from_media_type(d->media_type, &comp);
	if (r < 0)
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				"layer %s: media type %.200s is not a layer crisp unpacks",
				d->digest, d->media_type);
	struct unpack_spawn sp = {
		.layer_dir = store_layer_diff_path(w), .blob_fd = blob_fd, .comp = comp,
		.limits = &p->s->unpack_limits,
	};
	struct unpack_error uerr = { 0 };
	r = unpack_client_run(p->s->unpacker, &sp, 0, pull_stopped, p, res, &uerr);
	int stop = pull_check(p, err);
	if (stop < 0)
		return stop;
	return r < 0 ? unpack_fail(err, d->digest, r, &uerr) : 0;
}

static int layer_make(struct pull *p, size_t i, struct svc_error *err)
{
	struct store *st = p->s->store;
	const struct registry_descriptor *d = &p->m->layers[i];
	struct store_layer_writer *w;
	struct unpack_result res = { 0 };
	int fd = -1;
	int r = store_layer_begin(st, &w);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "layer %s: %s", d->digest, strerror(-r));
	r = store_blob_open(st, d->digest, &fd);
	if (r < 0)
		svc_fail(err, svc_status_of(r), r, "layer %s: %s", d->digest, strerror(-r));
	else
		r = layer_unpack(p, w, fd, i, &res, err);
	if (fd >= 0)
		close(fd);
	if (r == 0 && strcmp(res.diff_id, p->cfg.diff_ids[i]) != 0)
		r = svc_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG,
			     "layer %s: its content has diff_id %s, the image config says %s",
			     d->digest, res.diff_id, p->cfg.diff_ids[i]);
	if (r == 0)
		r = pull_wait_turn(p, i, err);
	if (r < 0) {
		store_layer_abort(w);
		return r;
	}
	r = store_layer_commit(w, p->chain[i], p->cfg.diff_ids[i], i ? p->chain[i - 1] : NULL,
			       res.tar_size, p->lease);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "layer %s: committing: %s", d->digest,
				r == -ENOSPC || r == -EDQUOT ? "the image store's filesystem is full" :
				strerror(-r));
	return 0;
}

int pull_layer(struct pull *p, size_t i, struct svc_error *err)
{
	struct store *st = p->s->store;
	const char *chain = p->chain[i];
	char key[STORE_FLIGHT_KEY_SIZE];
	int r = pull_blob(p, &p->m->layers[i], 0, err);
	if (r < 0)
		return r;
	store_flight_key_layer(chain, key);
	for (int round = 0; round < PULL_FLIGHT_TRIES; round++) {
		r = store_layer_exists(st, chain);
		if (r == 1) {
			r = store_lease_add_layer(st, p->lease, chain);
			if (r == 0) {
				pull_mark_done(p, i);
				return 0;
			}
			if (r == -ENOENT)
				continue;
		}
		if (r < 0)
			return svc_fail(err, svc_status_of(r), r, "layer %s: %s", chain, strerror(-r));
		struct store_flight *f = NULL;
		r = pull_flight_join(p, key, &f, err);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		if (store_layer_exists(st, chain) == 1) {
			store_inflight_done(st, f, 0);
			continue;
		}
		r = layer_make(p, i, err);
		store_inflight_done(st, f, r);
		if (r == 0)
			pull_mark_done(p, i);
		return r;
	}
	return svc_fail(err, CRISP_STATUS_UNAVAILABLE, -EAGAIN,
			"layer %s: other pulls failed to unpack it, %d times", chain,
			PULL_FLIGHT_TRIES);
}
