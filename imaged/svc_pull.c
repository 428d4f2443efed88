/*
 * svc_pull: PullImage, step by step (svc_pull.h has the pieces):
 *   the reference, normalised as kubelet and crictl write it;
 *   a temporary lease, so that GC keeps what this pull has stored until
 *   the image row holds it (and drops it if imaged dies meanwhile);
 *   the manifest (from an index: this node's platform) and the index,
 *   then the config, into the store; the config's diff_ids and chain ids;
 *   the layers (svc_pull_layers.c);
 *   the image record: id = config digest, the tag (none when the
 *   reference has a digest) and repo digest as containerd reports them, the user, pinned, the request's annotations;
 *   the lease released (and on failure a GC, so a refused or broken pull
 *   leaves nothing behind).
 * The image appears only in the last step, in one transaction: a pull cut
 * anywhere (kill -9 too) leaves no half-visible image.
 * Never logs; never puts a secret in an error message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/status.h"
#include "imaged/svc_pull.h"

int pull_check(struct pull *p, struct svc_error *err)
{
	if (p->cancel && atomic_load(p->cancel))
		return svc_fail(err, CRISP_STATUS_CANCELLED, -ECANCELED, "the pull was cancelled");
	if (p->deadline_ms && svc_now_ms() >= p->deadline_ms)
		return svc_fail(err, CRISP_STATUS_DEADLINE_EXCEEDED, -ETIMEDOUT,
				"the pull ran past the caller's deadline");
	if (atomic_load(&p->abort))
		return svc_fail(err, CRISP_STATUS_ABORTED, -ECANCELED, "another layer failed");
	return 0;
}

int pull_registry_fail(struct svc_error *err, int r, const struct registry_error *rerr)
{
	int code = rerr->code ? rerr->code : svc_status_of(r);
	if (r == -ENOSPC || r == -EDQUOT)
		return svc_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, r,
				"the image store's filesystem is full: %s", strerror(-r));
	if (r == -EFBIG)
		code = CRISP_STATUS_RESOURCE_EXHAUSTED;
	return svc_fail(err, code, r, "%s", rerr->msg[0] ? rerr->msg : strerror(-r));
}

static int store_fail(struct svc_error *err, int r, const char *what, const char *digest)
{
	return svc_fail(err, svc_status_of(r), r, "%s %s: %s", what, digest,
			r == -EBADMSG ? "content does not match its digest" :
			r == -ENOSPC || r == -EDQUOT ? "the image store's filesystem is full" :
			strerror(-r));
}

static bool any(const char *s)
{
	return s && *s;
}

static int pull_begin(struct pull *p, const Runtime__V1__PullImageRequest *rq,
		      struct svc_error *err)
{
	const char *image = rq->image ? rq->image->image : NULL;
	const char *why = NULL;
	if (!any(image))
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "no image to pull");
	if (image_ref_parse(image, &p->ref, &why) < 0)
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"\"%.*s\" is not an image reference: %s", 300, image,
				why ? why : "invalid");
	image_ref_name(&p->ref, p->name, sizeof p->name);

	char holder[STORE_LEASE_HOLDER_MAX];
	snprintf(p->lease, sizeof p->lease, SVC_LEASE_PREFIX "pull-%ld-%llu", (long)getpid(),
		 (unsigned long long)atomic_fetch_add(&p->s->seq, 1));
	snprintf(holder, sizeof holder, "pull %.*s", 1000, image);
	int r = store_lease_create(p->s->store, p->lease, holder, STORE_LEASE_TEMPORARY);
	if (r < 0) {
		p->lease[0] = '\0';
		return svc_fail(err, svc_status_of(r), r, "lease for the pull: %s", strerror(-r));
	}

	const Runtime__V1__AuthConfig *a = rq->auth;
	struct registry_credentials creds = { 0 };
	bool have = a && (any(a->username) || any(a->password) || any(a->auth) ||
			  any(a->identity_token) || any(a->registry_token));
	if (have)
		creds = (struct registry_credentials){
			.username = a->username, .password = a->password, .auth = a->auth,
			.server_address = a->server_address, .identity_token = a->identity_token,
			.registry_token = a->registry_token,
		};
	struct registry_pull_options po = {
		.creds = have ? &creds : NULL, .cancel = p->cancel, .deadline_ms = p->deadline_ms,
	};
	struct registry_error rerr = { 0 };
	r = registry_session_open(p->s->registry, &p->ref, &po, &p->sess, &rerr);
	return r < 0 ? pull_registry_fail(err, r, &rerr) : 0;
}

/* The config blob from the registry into the store. */
static int config_fetch(struct pull *p, char **ret_buf, size_t *ret_len, struct svc_error *err)
{
	const struct registry_descriptor *d = &p->m->config;
	struct registry_error rerr = { 0 };
	int r = registry_pull_small_blob(p->sess, d, ret_buf, ret_len, &rerr);
	if (r < 0)
		return pull_registry_fail(err, r, &rerr);
	r = store_blob_put(p->s->store, d->digest, *ret_buf, *ret_len, p->lease);
	if (r < 0) {
		free(*ret_buf);
		return store_fail(err, r, "config", d->digest);
	}
	return 0;
}

/* The config blob: from the store if it is there (and now held), else from
 * the registry, once across concurrent pulls. *ret_buf is NUL-terminated. */
static int pull_config_blob(struct pull *p, char **ret_buf, size_t *ret_len,
			    struct svc_error *err)
{
	struct store *st = p->s->store;
	const char *digest = p->m->config.digest;
	char key[STORE_FLIGHT_KEY_SIZE];
	store_flight_key_blob(digest, key);
	for (int round = 0; round < PULL_FLIGHT_TRIES; round++) {
		if (store_blob_exists(st, digest) == 1 &&
		    store_lease_add_blob(st, p->lease, digest) == 0 &&
		    store_blob_read(st, digest, p->s->max_manifest_size, ret_buf, ret_len) == 0)
			return 0;
		struct store_flight *f = NULL;
		int r = pull_flight_join(p, key, &f, err);
		if (r < 0)
			return r;
		if (r == 0)
			continue;       /* another pull fetched it (or failed): look again */
		if (store_blob_exists(st, digest) == 1) {
			store_inflight_done(st, f, 0);
			continue;
		}
		r = config_fetch(p, ret_buf, ret_len, err);
		store_inflight_done(st, f, r);
		return r;
	}
	return svc_fail(err, CRISP_STATUS_UNAVAILABLE, -EAGAIN,
			"config %s: other pulls failed to fetch it, %d times", digest,
			PULL_FLIGHT_TRIES);
}

static int chain_ids_make(struct pull *p, struct svc_error *err)
{
	size_t n = p->cfg.n_diff_ids;
	struct digest *diff = calloc(n ? n : 1, sizeof *diff);
	struct digest *chain = calloc(n ? n : 1, sizeof *chain);
	p->chain = calloc(n ? n : 1, sizeof *p->chain);
	int r = diff && chain && p->chain ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = digest_parse(p->cfg.diff_ids[i], &diff[i]);
	if (r == 0)
		r = digest_chain_ids(diff, n, chain);
	for (size_t i = 0; r == 0 && i < n; i++)
		digest_format(&chain[i], p->chain[i]);
	free(diff);
	free(chain);
	return r < 0 ? svc_fail(err, CRISP_STATUS_INTERNAL, r, "chain ids: %s", strerror(-r)) : 0;
}

static int pull_manifest(struct pull *p, struct svc_error *err)
{
	struct store *st = p->s->store;
	struct registry_error rerr = { 0 };
	int r = registry_pull_manifest(p->sess, &p->m, &rerr);
	if (r < 0)
		return pull_registry_fail(err, r, &rerr);
	r = store_blob_put(st, p->m->digest, p->m->raw, p->m->raw_len, p->lease);
	if (r < 0)
		return store_fail(err, r, "manifest", p->m->digest);
	if (p->m->index_digest[0]) {
		r = store_blob_put(st, p->m->index_digest, p->m->index_raw, p->m->index_len,
				   p->lease);
		if (r < 0)
			return store_fail(err, r, "index", p->m->index_digest);
	}
	char *buf = NULL;
	size_t len = 0;
	r = pull_config_blob(p, &buf, &len, err);
	if (r < 0)
		return r;
	r = svc_config_parse(buf, len, &p->cfg, err);
	free(buf);
	if (r < 0)
		return r;
	if (p->cfg.n_diff_ids != p->m->n_layers)
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EPROTO,
				"the image config lists %zu diff_ids for the manifest's %zu layers",
				p->cfg.n_diff_ids, p->m->n_layers);
	return chain_ids_make(p, err);
}

/* The request's annotations, copied into img (the store checks the caps). */
static int annotations_copy(const Runtime__V1__PullImageRequest *rq, struct store_image *img)
{
	const Runtime__V1__ImageSpec *sp = rq->image;
	if (!sp || sp->n_annotations == 0)
		return 0;
	if (sp->n_annotations > STORE_ANNOTATIONS_MAX)
		return -E2BIG;
	img->annotations = calloc(sp->n_annotations, sizeof *img->annotations);
	if (!img->annotations)
		return -ENOMEM;
	for (size_t i = 0; i < sp->n_annotations; i++) {
		struct store_kv *kv = &img->annotations[img->n_annotations++];
		kv->key = strdup(sp->annotations[i]->key ? sp->annotations[i]->key : "");
		kv->value = strdup(sp->annotations[i]->value ? sp->annotations[i]->value : "");
		if (!kv->key || !kv->value)
			return -ENOMEM;
	}
	return 0;
}

/* Names, layers and blobs of the record (every blob once). */
static int record_fill(struct pull *p, struct store_image *img)
{
	const struct registry_manifest *m = p->m;
	size_t n = m->n_layers;
	img->layers = calloc(n ? n : 1, sizeof *img->layers);
	img->blobs = calloc(n + 1, sizeof *img->blobs);
	img->repo_tags = calloc(1, sizeof *img->repo_tags);
	img->repo_digests = calloc(1, sizeof *img->repo_digests);
	if (!img->layers || !img->blobs || !img->repo_tags || !img->repo_digests)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(img->layers[i].chain_id, p->chain[i], DIGEST_STR_SIZE);
		memcpy(img->layers[i].diff_id, p->cfg.diff_ids[i], DIGEST_STR_SIZE);
		size_t k = 0;
		while (k < img->n_blobs && strcmp(img->blobs[k], m->layers[i].digest) != 0)
			k++;
		if (k == img->n_blobs)
			memcpy(img->blobs[img->n_blobs++], m->layers[i].digest, DIGEST_STR_SIZE);
	}
	img->n_layers = n;
	if (m->index_digest[0])
		memcpy(img->blobs[img->n_blobs++], m->index_digest, DIGEST_STR_SIZE);
	/* a tag next to a digest is dropped, as containerd's ParseDockerRef
	 * drops it: the digest decides */
	if (p->ref.tag[0] && !p->ref.digest[0]) {
		if (asprintf(&img->repo_tags[0], "%s:%s", p->name, p->ref.tag) < 0)
			return -ENOMEM;
		img->n_repo_tags = 1;
	}
	/* containerd's repo digest: what the name resolved to (the index when
	 * there is one) */
	if (asprintf(&img->repo_digests[0], "%s@%s", p->name,
		     m->index_digest[0] ? m->index_digest : m->digest) < 0)
		return -ENOMEM;
	img->n_repo_digests = 1;
	return 0;
}

static int pull_record(struct pull *p, const Runtime__V1__PullImageRequest *rq,
		       struct svc_error *err)
{
	struct store_image *img = calloc(1, sizeof *img);
	if (!img)
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	memcpy(img->id, p->m->config.digest, DIGEST_STR_SIZE);
	memcpy(img->manifest_digest, p->m->digest, DIGEST_STR_SIZE);
	img->uid = STORE_UID_NONE;
	int r = (img->media_type = strdup(p->m->media_type)) ? 0 : -ENOMEM;
	/* a User crisp cannot split ("" before ':') is reported as none */
	if (r == 0 && store_image_set_user(img, p->cfg.user) == -ENOMEM)
		r = -ENOMEM;
	if (r == 0)
		r = record_fill(p, img);
	if (r == 0)
		r = annotations_copy(rq, img);
	if (r == 0) {
		img->pinned = svc_image_pinned(p->s, img);
		r = store_image_put(p->s->store, img);
	}
	store_image_free(img);
	if (r == -E2BIG)
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				"the image's names or annotations are over the store's caps");
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "recording the image: %s", strerror(-r));
	return 0;
}

static void pull_end(struct pull *p, int r)
{
	struct store *st = p->s->store;
	registry_session_close(p->sess);
	registry_manifest_free(p->m);
	svc_config_clear(&p->cfg);
	free(p->chain);
	free(p->done);
	if (p->lease[0])
		(void)store_lease_release(st, p->lease);
	if (r < 0)
		(void)store_gc(st, NULL);       /* what only this pull held */
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

int svc_pull(struct svc *s, const Runtime__V1__PullImageRequest *rq, const atomic_bool *cancel,
	     int64_t deadline_ms, char ret_id[DIGEST_STR_SIZE], struct svc_error *err)
{
	struct pull *p = calloc(1, sizeof *p);
	if (!p)
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	p->s = s;
	p->cancel = cancel;
	p->deadline_ms = deadline_ms;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&p->lock, NULL);
	atomic_init(&p->abort, false);

	int r = pull_begin(p, rq, err);
	if (r == 0)
		r = pull_manifest(p, err);
	if (r == 0 && (r = pull_layers(p)) < 0 && err)
		*err = p->err;
	if (r == 0)
		r = pull_record(p, rq, err);
	if (r == 0)
		memcpy(ret_id, p->m->config.digest, DIGEST_STR_SIZE);
	pull_end(p, r);
	free(p);
	return r;
}
