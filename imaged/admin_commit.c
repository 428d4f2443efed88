/*
 * admin_commit: an image whose manifest, config and layer blobs are in the
 * store (an import put them there) becomes an image, with the same end
 * state as a pull: every layer unpacked by the confined unpack child into a
 * store layer (its diff_id checked against the config, its chain id
 * computed here), one layer at a time bottom up, each once across
 * concurrent imports and pulls (store_inflight, keyed as a pull keys it:
 * store_flight_key_layer); then the image record with its names.
 * Everything is held by the caller's lease until the record holds it. Sizes
 * the manifest names are checked against the blobs the store has. Never
 * logs; never opens a path but the store's.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/status.h"
#include "imaged/admin_int.h"
#include "imaged/unpack_server.h"
#include "imaged/reference.h"
#include "imaged/unpack.h"

struct commit {
	struct admin_ctx *a;
	const struct admin_image_in *in;
	const atomic_bool *cancel;
	struct oci_manifest m;
	struct oci_config cfg;
	struct digest *chain;           /* chain ids, bottom first */
};

static bool cancelled(const struct commit *c)
{
	return c->cancel && atomic_load(c->cancel);
}

/* Blob d is in the store, has the size d names, and the lease holds it. */
static int blob_held(struct commit *c, const struct registry_descriptor *d, const char *what,
		     struct oci_error *err)
{
	uint64_t size;
	int r = store_blob_size(c->a->store, d->digest, &size);
	if (r == -ENOENT)
		return oci_fail(err, CRISP_STATUS_NOT_FOUND, r,
				"%s %s is neither in the archive nor in the store", what, d->digest);
	if (r < 0)
		return oci_fail(err, admin_status_of(r), r, "%s %s: %s", what, d->digest, strerror(-r));
	if (d->size >= 0 && size != (uint64_t)d->size)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EBADMSG,
				"%s %s is %llu bytes, its descriptor says %lld", what, d->digest,
				(unsigned long long)size, (long long)d->size);
	r = store_lease_add_blob(c->a->store, c->in->lease, d->digest);
	if (r < 0)
		return oci_fail(err, admin_status_of(r), r, "%s %s: holding it: %s", what, d->digest,
				strerror(-r));
	return 0;
}

static int read_json_blob(struct commit *c, const char *digest, const char *what, char **buf,
			  size_t *len, struct oci_error *err)
{
	int r = store_blob_read(c->a->store, digest, OCI_JSON_MAX, buf, len);
	if (r == -EFBIG)
		return oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, r, "%s %s: over the cap of %u",
				what, digest, OCI_JSON_MAX);
	if (r < 0)
		return oci_fail(err, admin_status_of(r), r, "%s %s: %s", what, digest, strerror(-r));
	return 0;
}

/* The manifest and config, checked against each other. */
static int read_docs(struct commit *c, struct oci_error *err)
{
	const struct admin_image_in *in = c->in;
	struct registry_descriptor md = { .size = in->manifest_size };
	char *buf = NULL;
	size_t len;
	snprintf(md.digest, sizeof md.digest, "%s", in->manifest_digest);
	int r = blob_held(c, &md, "manifest", err);
	if (r == 0)
		r = read_json_blob(c, in->manifest_digest, "manifest", &buf, &len, err);
	if (r == 0)
		r = oci_manifest_parse(buf, len, &c->m, err);
	free(buf);
	buf = NULL;
	if (r == 0)
		r = blob_held(c, &c->m.config, "config", err);
	for (size_t i = 0; r == 0 && i < c->m.n_layers; i++)
		r = blob_held(c, &c->m.layers[i], "layer", err);
	if (r == 0)
		r = read_json_blob(c, c->m.config.digest, "config", &buf, &len, err);
	if (r == 0)
		r = oci_config_parse(buf, len, &c->cfg, err);
	free(buf);
	if (r == 0 && c->cfg.n_diff_ids != c->m.n_layers)
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
			     "manifest %s has %zu layers, its config %zu diff_ids",
			     in->manifest_digest, c->m.n_layers, c->cfg.n_diff_ids);
	if (r == 0 && !(c->chain = calloc(c->m.n_layers ? c->m.n_layers : 1, sizeof *c->chain)))
		r = oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	if (r == 0 && digest_chain_ids(c->cfg.diff_ids, c->m.n_layers, c->chain) < 0)
		r = oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "computing chain ids");
	return r;
}

static int unpack_status(const struct unpack_error *ue)
{
	switch (ue->code) {
	case UNPACK_ERR_INVALID:
		return CRISP_STATUS_INVALID_ARGUMENT;
	case UNPACK_ERR_LIMIT:
		return CRISP_STATUS_RESOURCE_EXHAUSTED;
	default:
		return CRISP_STATUS_INTERNAL;
	}
}

static bool import_stopped(void *ctx)
{
	return cancelled(ctx);
}

/* Runs the confined child on blob_fd into dir, watching cancel. */
static int unpack_run(struct commit *c, const char *dir, int blob_fd,
		      enum unpack_compression comp, struct unpack_result *res,
		      struct unpack_error *ue)
{
	struct unpack_spawn sp = { .layer_dir = dir, .blob_fd = blob_fd, .comp = comp,
				   .limits = c->a->unpack_limits };
	int r = unpack_client_run(c->a->unpacker, &sp, 0, import_stopped, c, res, ue);
	return cancelled(c) ? -ECANCELED : r;
}

/* Layer i from its blob into a new store layer. */
static int layer_unpack(struct commit *c, size_t i, const char *chain, const char *diff,
			const char *parent, struct oci_error *err)
{
	const struct registry_descriptor *d = &c->m.layers[i];
	enum unpack_compression comp;
	struct store_layer_writer *w = NULL;
	struct unpack_result res;
	struct unpack_error ue = { 0 };
	int fd = -1;
	int r = unpack_compression_from_media_type(d->media_type, &comp);
	if (r < 0)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				"layer %s: media type \"%s\" is not a layer crisp can unpack",
				d->digest, d->media_type);
	if ((r = store_blob_open(c->a->store, d->digest, &fd)) < 0 ||
	    (r = store_layer_begin(c->a->store, &w)) < 0) {
		r = oci_fail(err, admin_status_of(r), r, "layer %s: %s", d->digest, strerror(-r));
		goto out;
	}
	r = unpack_run(c, store_layer_diff_path(w), fd, comp, &res, &ue);
	if (r == -ECANCELED) {
		r = oci_fail(err, CRISP_STATUS_CANCELLED, r, "import cancelled");
		goto out;
	}
	if (r < 0) {
		r = oci_fail(err, unpack_status(&ue), r, "layer %s: %s", d->digest, ue.msg);
		goto out;
	}
	if (strcmp(res.diff_id, diff) != 0) {
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EBADMSG,
			     "layer %s unpacks to diff_id %s, the config says %s", d->digest,
			     res.diff_id, diff);
		goto out;
	}
	r = store_layer_commit(w, chain, diff, parent, res.tar_size, c->in->lease);
	w = NULL;
	if (r < 0)
		r = oci_fail(err, admin_status_of(r), r, "layer %s: committing: %s", d->digest,
			     strerror(-r));
out:
	store_layer_abort(w);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Layer i is in the store and held: there already, or unpacked here (or by
 * whoever else was unpacking it). */
static int layer_get(struct commit *c, size_t i, struct oci_error *err)
{
	char chain[DIGEST_STR_SIZE], diff[DIGEST_STR_SIZE], parent[DIGEST_STR_SIZE] = "";
	char key[STORE_FLIGHT_KEY_SIZE];
	struct store *s = c->a->store;
	digest_format(&c->chain[i], chain);
	store_flight_key_layer(chain, key);
	digest_format(&c->cfg.diff_ids[i], diff);
	if (i > 0)
		digest_format(&c->chain[i - 1], parent);
	for (int tries = 0; tries < 4; tries++) {
		if (cancelled(c))
			return oci_fail(err, CRISP_STATUS_CANCELLED, -ECANCELED, "import cancelled");
		if (store_layer_exists(s, chain) == 1 && store_lease_add_layer(s, c->in->lease, chain) == 0)
			return 0;
		struct store_flight *f = NULL;
		int result = 0;
		int r = store_inflight_join(s, key, 0, &f, &result);
		if (r < 0)
			return oci_fail(err, admin_status_of(r), r, "layer %s: %s", chain, strerror(-r));
		if (r == 0)
			continue;       /* someone else did it: look again */
		r = layer_unpack(c, i, chain, diff, i > 0 ? parent : NULL, err);
		store_inflight_done(s, f, r);
		return r;
	}
	return oci_fail(err, CRISP_STATUS_ABORTED, -EAGAIN,
			"layer %s: it keeps disappearing (garbage collection?)", chain);
}

static int record(struct commit *c, char ret_id[DIGEST_STR_SIZE], struct oci_error *err)
{
	const struct admin_image_in *in = c->in;
	struct store_image img = { .uid = STORE_UID_NONE };
	struct store_image *old = NULL;
	char **digests = calloc(in->n_names + 1, sizeof *digests);
	size_t n_digests = 0;
	int r = digests && (img.layers = calloc(c->m.n_layers + 1, sizeof *img.layers)) &&
		(img.blobs = calloc(c->m.n_layers + 2, sizeof *img.blobs)) ? 0 : -ENOMEM;
	snprintf(img.id, sizeof img.id, "%s", c->m.config.digest);
	snprintf(img.manifest_digest, sizeof img.manifest_digest, "%s", in->manifest_digest);
	img.media_type = (char *)in->media_type;
	img.repo_tags = in->names;
	img.n_repo_tags = in->n_names;
	img.n_layers = r == 0 ? c->m.n_layers : 0;
	for (size_t i = 0; r == 0 && i < c->m.n_layers; i++) {
		digest_format(&c->chain[i], img.layers[i].chain_id);
		digest_format(&c->cfg.diff_ids[i], img.layers[i].diff_id);
		snprintf(img.blobs[img.n_blobs++], DIGEST_STR_SIZE, "%s", c->m.layers[i].digest);
	}
	if (r == 0 && in->index_digest[0])
		snprintf(img.blobs[img.n_blobs++], DIGEST_STR_SIZE, "%s", in->index_digest);
	/* name@digest of what the names pointed at, as a pull records it */
	for (size_t i = 0; r == 0 && i < in->n_names; i++) {
		struct image_ref ref;
		char name[REF_NAME_MAX + 1], buf[REF_STRING_MAX];
		if (image_ref_parse(in->names[i], &ref, NULL) < 0 || image_ref_name(&ref, name, sizeof name) < 0)
			continue;
		snprintf(buf, sizeof buf, "%s@%s", name, in->index_digest[0] ? in->index_digest :
			 in->manifest_digest);
		if (!(digests[n_digests] = strdup(buf)))
			r = -ENOMEM;
		else
			n_digests++;
	}
	img.repo_digests = digests;
	img.n_repo_digests = n_digests;
	if (r == 0)
		r = store_image_set_user(&img, c->cfg.user);
	if (r == 0 && store_image_get(c->a->store, img.id, &old) == 0)
		img.pinned = old->pinned;
	store_image_free(old);
	if (r == 0)
		r = store_image_put(c->a->store, &img);
	if (r == 0)
		snprintf(ret_id, DIGEST_STR_SIZE, "%s", img.id);
	else
		r = oci_fail(err, admin_status_of(r), r, "recording image %s: %s", img.id, strerror(-r));
	for (size_t i = 0; i < n_digests; i++)
		free(digests[i]);
	free(digests);
	free(img.layers);
	free(img.blobs);
	free(img.username);
	return r;
}

int admin_commit(struct admin_ctx *a, const struct admin_image_in *in, const atomic_bool *cancel,
		 char ret_id[DIGEST_STR_SIZE], struct oci_error *err)
{
	struct commit c = { .a = a, .in = in, .cancel = cancel };
	int r = read_docs(&c, err);
	for (size_t i = 0; r == 0 && i < c.m.n_layers; i++)
		r = layer_get(&c, i, err);
	if (r == 0)
		r = record(&c, ret_id, err);
	oci_manifest_clear(&c.m);
	oci_config_clear(&c.cfg);
	free(c.chain);
	return r;
}
