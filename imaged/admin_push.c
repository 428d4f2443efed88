/*
 * admin_push: crispctl's `image push`. The image (found as the CRI finds
 * it) is held by a temporary lease while its config and layer blobs, then
 * its manifest, go to the destination reference (default: the image's own
 * name, which must then be one of its tags) through registry_push. The
 * request's AuthConfig is used for the destination's registry only and is
 * never written anywhere. Never logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/status.h"
#include "imaged/admin_int.h"
#include "imaged/svc.h"
#include "imaged/reference.h"

struct push {
	struct admin_ctx *a;
	const Crisp__ImagePush *rq;
	const atomic_bool *cancel;
	struct store_image *img;
	struct image_ref dest;
	char *raw;                      /* the manifest */
	size_t raw_len;
	struct oci_manifest m;
};

static int registry_fail(struct oci_error *err, int r, const struct registry_error *re)
{
	return oci_fail(err, re->code ? re->code : CRISP_STATUS_INTERNAL, r, "%s", re->msg);
}

/* The destination: the request's, else the image's own name (one of its tags). */
static int dest_parse(struct push *p, struct oci_error *err)
{
	const char *d = p->rq->destination && *p->rq->destination ? p->rq->destination : NULL;
	const char *why = NULL;
	char norm[REF_STRING_MAX];
	if (!d) {
		bool tagged = false;
		if (svc_ref_normalize(p->rq->image, norm, sizeof norm) == 0)
			for (size_t i = 0; i < p->img->n_repo_tags && !tagged; i++)
				tagged = !strcmp(p->img->repo_tags[i], norm);
		if (!tagged)
			return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
					"\"%.300s\" is not one of the image's names: give a "
					"destination", p->rq->image);
		d = norm;
	}
	if (image_ref_parse(d, &p->dest, &why) < 0)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"destination \"%.300s\": %s", d, why ? why : "not a reference");
	return 0;
}

static int blobs_push(struct push *p, struct registry_session *s, struct oci_error *err)
{
	for (size_t i = 0; i <= p->m.n_layers; i++) {
		const struct registry_descriptor *d = i == 0 ? &p->m.config : &p->m.layers[i - 1];
		struct registry_error re = { 0 };
		int fd = -1;
		if (p->cancel && atomic_load(p->cancel))
			return oci_fail(err, CRISP_STATUS_CANCELLED, -ECANCELED, "push cancelled");
		int r = store_blob_open(p->a->store, d->digest, &fd);
		if (r < 0)
			return oci_fail(err, admin_status_of(r), r, "blob %s: %s", d->digest,
					strerror(-r));
		r = registry_push_blob(s, d, fd, p->a->push_chunk_size, NULL, &re);
		close(fd);
		if (r < 0)
			return registry_fail(err, r, &re);
	}
	return 0;
}

static int push_run(struct push *p, const char *lease, char ret_digest[DIGEST_STR_SIZE],
		    struct oci_error *err)
{
	const Runtime__V1__AuthConfig *au = p->rq->auth;
	struct registry_credentials cr = { 0 };
	if (au) {
		cr = (struct registry_credentials){ .username = au->username, .password = au->password,
						    .auth = au->auth, .server_address = au->server_address,
						    .identity_token = au->identity_token,
						    .registry_token = au->registry_token };
	}
	struct registry_pull_options po = { .creds = au ? &cr : NULL, .cancel = p->cancel };
	struct registry_session *s = NULL;
	struct registry_error re = { 0 };
	int r = store_lease_add_image(p->a->store, lease, p->img->id);
	if (r < 0)
		return oci_fail(err, admin_status_of(r), r, "holding the image: %s", strerror(-r));
	r = store_blob_read(p->a->store, p->img->manifest_digest, OCI_JSON_MAX, &p->raw, &p->raw_len);
	if (r < 0)
		return oci_fail(err, admin_status_of(r), r, "manifest %s: %s",
				p->img->manifest_digest, strerror(-r));
	if ((r = oci_manifest_parse(p->raw, p->raw_len, &p->m, err)) < 0)
		return r;
	if (!p->a->registry)
		return oci_fail(err, CRISP_STATUS_UNAVAILABLE, -ENOTCONN, "no registry client");
	r = registry_push_open(p->a->registry, &p->dest, &po, &s, &re);
	if (r == 0)
		r = blobs_push(p, s, err);
	else
		r = registry_fail(err, r, &re);
	if (r == 0) {
		const char *mt = p->img->media_type && *p->img->media_type ? p->img->media_type :
				 REGISTRY_MT_OCI_MANIFEST;
		r = registry_push_manifest(s, mt, p->raw, p->raw_len, ret_digest, &re);
		if (r < 0)
			r = registry_fail(err, r, &re);
	}
	registry_session_close(s);
	return r;
}

int admin_push_run(struct admin_ctx *a, const Crisp__ImagePush *rq, const atomic_bool *cancel,
		   char ret_digest[DIGEST_STR_SIZE], struct oci_error *err)
{
	struct push p = { .a = a, .rq = rq, .cancel = cancel };
	char lease[ADMIN_LEASE_MAX];
	int r = svc_image_find_in(a->store, rq->image, &p.img);
	if (r == -ENOENT)
		return oci_fail(err, CRISP_STATUS_NOT_FOUND, r, "image \"%.300s\" not found",
				rq->image ? rq->image : "");
	if (r < 0)
		return oci_fail(err, admin_status_of(r), r, "image \"%.300s\": %s",
				rq->image ? rq->image : "", strerror(-r));
	r = dest_parse(&p, err);
	if (r == 0 && (r = admin_lease_new(a, "push", lease)) == 0 &&
	    (r = store_lease_create(a->store, lease, "crispctl image push",
				    STORE_LEASE_TEMPORARY)) < 0)
		r = oci_fail(err, admin_status_of(r), r, "creating a lease: %s", strerror(-r));
	if (r == 0) {
		r = push_run(&p, lease, ret_digest, err);
		store_lease_release(a->store, lease);
	}
	oci_manifest_clear(&p.m);
	free(p.raw);
	store_image_free(p.img);
	return r;
}
