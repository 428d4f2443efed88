/*
 * admin_import: crispctl's `image import`. The archive (an OCI image layout
 * as a tar stream, on the request's fd) is read into the store under a
 * temporary lease (oci_layout_read: blobs checked against their digests,
 * nothing but blobs written), then each index.json entry becomes an image:
 * an image manifest directly, an image index / manifest list through the
 * entry for this node's platform. Entries naming the same manifest are one
 * image with all their names. A name comes from io.containerd.image.name or
 * else org.opencontainers.image.ref.name, normalised as a reference
 * ("busybox:1" is docker.io/library/busybox:1); the request's tags are added
 * when the archive holds one image. A failure releases the lease and
 * collects what only it held. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/status.h"
#include "imaged/admin_int.h"
#include "imaged/svc.h"
#include "imaged/reference.h"

struct import {
	struct admin_ctx *a;
	const atomic_bool *cancel;
	char lease[ADMIN_LEASE_MAX];
	struct oci_layout_in layout;
	struct oci_index idx;
	struct admin_image_in *imgs;    /* one per distinct manifest */
	size_t n_imgs;
};

static int name_add(struct admin_image_in *in, const char *name)
{
	for (size_t i = 0; i < in->n_names; i++)
		if (!strcmp(in->names[i], name))
			return 0;
	if (in->n_names >= STORE_IMAGE_LIST_MAX)
		return -E2BIG;
	char **v = realloc(in->names, (in->n_names + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	in->names = v;
	if (!(v[in->n_names] = strdup(name)))
		return -ENOMEM;
	in->n_names++;
	return 0;
}

/* The image for manifest d (found or added). */
static struct admin_image_in *image_slot(struct import *im, const struct registry_descriptor *d,
					 const char *index_digest)
{
	for (size_t i = 0; i < im->n_imgs; i++)
		if (!strcmp(im->imgs[i].manifest_digest, d->digest))
			return &im->imgs[i];
	struct admin_image_in *v = realloc(im->imgs, (im->n_imgs + 1) * sizeof *v);
	if (!v)
		return NULL;
	im->imgs = v;
	struct admin_image_in *in = &v[im->n_imgs++];
	*in = (struct admin_image_in){ .manifest_size = d->size, .lease = im->lease };
	snprintf(in->manifest_digest, sizeof in->manifest_digest, "%s", d->digest);
	snprintf(in->media_type, sizeof in->media_type, "%s",
		 d->media_type[0] ? d->media_type : REGISTRY_MT_OCI_MANIFEST);
	snprintf(in->index_digest, sizeof in->index_digest, "%s", index_digest);
	return in;
}

/* An index entry that is an index itself: this platform's manifest in it. */
static int nested_pick(struct import *im, const struct oci_index_entry *e,
		       struct registry_descriptor *ret, struct oci_error *err)
{
	struct registry_platform host;
	struct oci_index nested = { 0 };
	char *buf = NULL;
	size_t len;
	int r = store_blob_read(im->a->store, e->d.digest, OCI_JSON_MAX, &buf, &len);
	if (r < 0)
		return oci_fail(err, r == -ENOENT ? CRISP_STATUS_NOT_FOUND : admin_status_of(r), r,
				"image index %s: %s", e->d.digest,
				r == -ENOENT ? "not in the archive" : strerror(-r));
	if (e->d.size >= 0 && len != (size_t)e->d.size)
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EBADMSG,
			     "image index %s is %zu bytes, index.json says %lld", e->d.digest, len,
			     (long long)e->d.size);
	if (r == 0)
		r = oci_index_parse(buf, len, &nested, err);
	free(buf);
	if (r < 0)
		return r;
	registry_platform_host(&host);
	const struct oci_index_entry *pick = oci_index_pick(&nested, &host);
	if (pick)
		*ret = pick->d;
	else
		r = oci_fail(err, CRISP_STATUS_NOT_FOUND, -ENOENT,
			     "image index %s has no manifest for %s/%s%s%s", e->d.digest, host.os,
			     host.architecture, host.variant[0] ? "/" : "", host.variant);
	oci_index_clear(&nested);
	if (r == 0)
		r = store_lease_add_blob(im->a->store, im->lease, e->d.digest) < 0 ?
		    oci_fail(err, CRISP_STATUS_INTERNAL, -EIO, "holding index %s", e->d.digest) : 0;
	return r;
}

static int entry_resolve(struct import *im, const struct oci_index_entry *e, struct oci_error *err)
{
	struct registry_descriptor md = e->d;
	const char *index_digest = "";
	int r = 0;
	if (oci_is_index_type(e->d.media_type)) {
		r = nested_pick(im, e, &md, err);
		index_digest = e->d.digest;
	} else if (e->d.media_type[0] && !oci_is_manifest_type(e->d.media_type)) {
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
			     "%s entry %s: media type \"%s\" is not an image", OCI_INDEX_FILE,
			     e->d.digest, e->d.media_type);
	}
	if (r < 0)
		return r;
	struct admin_image_in *in = image_slot(im, &md, index_digest);
	if (!in)
		return oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	const char *name = e->image_name ? e->image_name : e->ref_name;
	char norm[REF_STRING_MAX];
	if (!name)
		return 0;
	if (svc_ref_normalize(name, norm, sizeof norm) < 0)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s entry %s: the name \"%.200s\" is not an image reference",
				OCI_INDEX_FILE, e->d.digest, name);
	if (strchr(norm, '@'))
		return 0;       /* a digest names content, not a tag: nothing to record */
	r = name_add(in, norm);
	return r < 0 ? oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, r, "too many names") : 0;
}

static int extra_tags(struct import *im, const Crisp__ImageImport *rq, struct oci_error *err)
{
	if (rq->n_tags == 0)
		return 0;
	if (im->n_imgs != 1)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"the archive holds %zu images: extra tags need exactly one",
				im->n_imgs);
	for (size_t i = 0; i < rq->n_tags; i++) {
		char norm[REF_STRING_MAX];
		if (svc_ref_normalize(rq->tags[i], norm, sizeof norm) < 0 || strchr(norm, '@'))
			return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
					"tag \"%.200s\" is not a name:tag reference", rq->tags[i]);
		if (name_add(&im->imgs[0], norm) < 0)
			return oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -E2BIG, "too many names");
	}
	return 0;
}

static int answer_add(Crisp__ImageImported *ret, const char *id, const struct admin_image_in *in)
{
	char **ids = realloc(ret->image_ids, (ret->n_image_ids + 1) * sizeof *ids);
	if (!ids)
		return -ENOMEM;
	ret->image_ids = ids;
	if (!(ids[ret->n_image_ids] = strdup(id)))
		return -ENOMEM;
	ret->n_image_ids++;
	for (size_t i = 0; i < in->n_names; i++) {
		char **t = realloc(ret->repo_tags, (ret->n_repo_tags + 1) * sizeof *t);
		if (!t)
			return -ENOMEM;
		ret->repo_tags = t;
		if (!(t[ret->n_repo_tags] = strdup(in->names[i])))
			return -ENOMEM;
		ret->n_repo_tags++;
	}
	return 0;
}

static int import_all(struct import *im, int fd, const Crisp__ImageImport *rq,
		      Crisp__ImageImported *ret, struct oci_error *err)
{
	struct oci_read_options ro = { .lease = im->lease, .cancel = im->cancel };
	int r = oci_layout_read(im->a->store, fd, &ro, &im->layout, err);
	if (r == 0)
		r = oci_index_parse(im->layout.index, im->layout.index_len, &im->idx, err);
	if (r == 0 && im->idx.n == 0)
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "%s names no image",
			     OCI_INDEX_FILE);
	for (size_t i = 0; r == 0 && i < im->idx.n; i++)
		r = entry_resolve(im, &im->idx.v[i], err);
	if (r == 0)
		r = extra_tags(im, rq, err);
	for (size_t i = 0; r == 0 && i < im->n_imgs; i++) {
		char id[DIGEST_STR_SIZE];
		r = admin_commit(im->a, &im->imgs[i], im->cancel, id, err);
		if (r == 0 && answer_add(ret, id, &im->imgs[i]) < 0)
			r = oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	}
	return r;
}

int admin_import_run(struct admin_ctx *a, int fd, const Crisp__ImageImport *rq,
		     const atomic_bool *cancel, Crisp__ImageImported *ret, struct oci_error *err)
{
	struct import im = { .a = a, .cancel = cancel };
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	int r = admin_lease_new(a, "import", im.lease);
	if (r == 0)
		r = store_lease_create(a->store, im.lease, "crispctl image import",
				       STORE_LEASE_TEMPORARY);
	if (r < 0)
		return oci_fail(err, admin_status_of(r), r, "creating a lease: %s", strerror(-r));
	r = import_all(&im, fd, rq, &out, err);
	store_lease_release(a->store, im.lease);
	if (r < 0) {
		store_gc(a->store, NULL);       /* what only the import held */
		admin_imported_clear(&out);
	} else {
		*ret = out;
	}
	for (size_t i = 0; i < im.n_imgs; i++) {
		for (size_t j = 0; j < im.imgs[i].n_names; j++)
			free(im.imgs[i].names[j]);
		free(im.imgs[i].names);
	}
	free(im.imgs);
	oci_index_clear(&im.idx);
	oci_layout_in_clear(&im.layout);
	return r;
}

void admin_imported_clear(Crisp__ImageImported *r)
{
	for (size_t i = 0; i < r->n_image_ids; i++)
		free(r->image_ids[i]);
	for (size_t i = 0; i < r->n_repo_tags; i++)
		free(r->repo_tags[i]);
	free(r->image_ids);
	free(r->repo_tags);
	*r = (Crisp__ImageImported)CRISP__IMAGE_IMPORTED__INIT;
}
