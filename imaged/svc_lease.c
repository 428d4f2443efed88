/*
 * svc_lease: leases on image content for sandboxd and crispctl (admin
 * socket), mapped onto the store's leases: create, add an image (its layers
 * and blobs are then held until release, whatever happens to the image),
 * release (then GC), list. A lease id is the holder's choice; ids that
 * start with SVC_LEASE_PREFIX are imaged's own (its pulls' temporary
 * leases) and may not be made or released by a client.
 * The answer names what a request added: LeaseAdd's Lease lists the image
 * and its layers (chain ids, bottom first), the lowerdirs of an overlay.
 * The store keeps no list of a lease's images, so LeaseList and
 * LeaseRelease answer with id, holder and time only. Never logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/status.h"
#include "imaged/image_config.h"
#include "imaged/svc.h"

static bool lease_id_ours(const char *id)
{
	return strncmp(id, SVC_LEASE_PREFIX, strlen(SVC_LEASE_PREFIX)) == 0;
}

static int lease_id_check(const char *id, struct svc_error *err)
{
	if (!id || !*id)
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "no lease id");
	if (lease_id_ours(id))
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EPERM,
				"lease ids starting with \"" SVC_LEASE_PREFIX "\" are imaged's own");
	return 0;
}

/* A lease's row; -ENOENT if there is none. */
static int lease_get(struct svc *s, const char *id, Crisp__Lease *ret)
{
	struct store_lease_info *v = NULL;
	size_t n = 0;
	int r = store_lease_list(s->store, &v, &n);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n && r == -ENOENT; i++) {
		if (strcmp(v[i].id, id) != 0)
			continue;
		ret->id = strdup(v[i].id);
		ret->holder = strdup(v[i].holder);
		ret->created_at = v[i].created * INT64_C(1000000000);
		r = ret->id && ret->holder ? 0 : -ENOMEM;
	}
	store_lease_list_free(v, n);
	return r;
}

static int lease_answer(struct svc *s, const char *id, Crisp__Lease *ret, struct svc_error *err)
{
	int r = lease_get(s, id, ret);
	if (r == -ENOENT)
		return svc_fail(err, CRISP_STATUS_NOT_FOUND, r, "no lease %.300s", id);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "lease %.300s: %s", id, strerror(-r));
	return 0;
}

int svc_lease_create(struct svc *s, const Crisp__LeaseCreate *rq, Crisp__Lease *ret,
		     struct svc_error *err)
{
	crisp__lease__init(ret);
	int r = lease_id_check(rq->id, err);
	if (r < 0)
		return r;
	r = store_lease_create(s->store, rq->id, rq->holder ? rq->holder : "", 0);
	if (r == -EEXIST)
		return svc_fail(err, CRISP_STATUS_ALREADY_EXISTS, r, "lease %.300s exists", rq->id);
	if (r == -EINVAL)
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				"a lease id is printable ASCII without spaces, at most %d bytes; "
				"a holder at most %d bytes", STORE_LEASE_ID_MAX,
				STORE_LEASE_HOLDER_MAX);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "lease %.300s: %s", rq->id, strerror(-r));
	return lease_answer(s, rq->id, ret, err);
}

/* The image a lease request names: NOT_FOUND, or INVALID_ARGUMENT for an
 * ambiguous id prefix. */
static int lease_image_find(struct svc *s, const char *ref, struct store_image **ret,
			    struct svc_error *err)
{
	int r = ref && *ref ? svc_image_find(s, ref, ret) : -ENOENT;
	if (r == -ENOENT || r == -ENOTUNIQ)
		return svc_fail(err, r == -ENOENT ? CRISP_STATUS_NOT_FOUND :
				CRISP_STATUS_INVALID_ARGUMENT, r, "no image %.300s%s", ref ? ref : "",
				r == -ENOTUNIQ ? " (ambiguous)" : "");
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "image %.300s: %s", ref, strerror(-r));
	return 0;
}

static int layers_fill(const struct store_image *img, Crisp__Lease *ret)
{
	ret->images = calloc(1, sizeof *ret->images);
	ret->layers = calloc(img->n_layers ? img->n_layers : 1, sizeof *ret->layers);
	if (!ret->images || !ret->layers || !(ret->images[0] = strdup(img->id)))
		return -ENOMEM;
	ret->n_images = 1;
	for (size_t i = 0; i < img->n_layers; i++) {
		if (!(ret->layers[i] = strdup(img->layers[i].chain_id)))
			return -ENOMEM;
		ret->n_layers++;
	}
	return 0;
}

int svc_lease_add(struct svc *s, const Crisp__LeaseAdd *rq, Crisp__Lease *ret,
		  struct svc_error *err)
{
	crisp__lease__init(ret);
	int r = lease_id_check(rq->id, err);
	if (r < 0)
		return r;
	struct store_image *img = NULL;
	if ((r = lease_image_find(s, rq->image, &img, err)) < 0)
		return r;
	r = store_lease_add_image(s->store, rq->id, img->id);
	if (r == 0)
		r = lease_answer(s, rq->id, ret, err);
	else if (r == -ENOENT)  /* the image was there a moment ago: the lease is not */
		svc_fail(err, CRISP_STATUS_NOT_FOUND, r, "no lease %.300s (or image %s went "
			 "meanwhile)", rq->id, img->id);
	else
		svc_fail(err, svc_status_of(r), r, "lease %.300s: %s", rq->id, strerror(-r));
	if (r == 0 && (r = layers_fill(img, ret)) < 0)
		svc_fail(err, CRISP_STATUS_INTERNAL, r, "out of memory");
	store_image_free(img);
	if (r < 0)
		svc_lease_clear(ret);
	return r;
}

static int strv_dup(char **src, size_t n, char ***ret_v, size_t *ret_n)
{
	*ret_v = calloc(n ? n : 1, sizeof **ret_v);
	if (!*ret_v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!((*ret_v)[i] = strdup(src[i])))
			return -ENOMEM;
		(*ret_n)++;
	}
	return 0;
}

/* What a container built from img needs: names, layer dirs, runtime config. */
static int leased_fill(struct svc *s, const struct store_image *img, Crisp__LeasedImage *ret,
		       struct svc_error *err)
{
	int r = strv_dup(img->repo_tags, img->n_repo_tags, &ret->repo_tags, &ret->n_repo_tags);
	if (r == 0)
		r = strv_dup(img->repo_digests, img->n_repo_digests, &ret->repo_digests,
			     &ret->n_repo_digests);
	if (r == 0 && !(ret->image_id = strdup(img->id)))
		r = -ENOMEM;
	if (r == 0 && !(ret->layer_dirs = calloc(img->n_layers ? img->n_layers : 1,
						 sizeof *ret->layer_dirs)))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < img->n_layers; i++) {
		r = store_layer_diff_path_of(s->store, img->layers[i].chain_id,
					     &ret->layer_dirs[i]);
		if (r == 0)
			ret->n_layer_dirs++;
	}
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "image %s: its layers: %s", img->id,
				strerror(-r));
	char *buf = NULL;
	size_t len = 0;
	r = store_blob_read(s->store, img->id, s->max_manifest_size, &buf, &len);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "image %s: its config: %s", img->id,
				strerror(-r));
	Crisp__ImageRuntimeConfig *cfg = malloc(sizeof *cfg);
	r = cfg ? image_config_parse(buf, len, cfg, err) :
		  svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	free(buf);
	if (r < 0) {
		free(cfg);
		return r;
	}
	ret->config = cfg;
	return 0;
}

int svc_lease_image(struct svc *s, const Crisp__LeaseImage *rq, Crisp__LeasedImage *ret,
		    struct svc_error *err)
{
	crisp__leased_image__init(ret);
	int r = lease_id_check(rq->lease_id, err);
	if (r < 0)
		return r;
	struct store_image *img = NULL;
	if ((r = lease_image_find(s, rq->image, &img, err)) < 0)
		return r;
	/* an existing lease is extended: sandboxd asks again after a restart */
	r = store_lease_create(s->store, rq->lease_id, rq->holder ? rq->holder : "", 0);
	if (r == -EEXIST)
		r = 0;
	if (r == 0)
		r = store_lease_add_image(s->store, rq->lease_id, img->id);
	if (r < 0)
		svc_fail(err, r == -EINVAL ? CRISP_STATUS_INVALID_ARGUMENT : svc_status_of(r), r,
			 "lease %.300s on %s: %s", rq->lease_id, img->id, strerror(-r));
	else
		r = leased_fill(s, img, ret, err);
	if (r == 0 && !(ret->lease_id = strdup(rq->lease_id)))
		r = svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	store_image_free(img);
	if (r < 0)
		svc_leased_image_clear(ret);
	return r;
}

void svc_leased_image_clear(Crisp__LeasedImage *l)
{
	if (l->lease_id != protobuf_c_empty_string)
		free(l->lease_id);
	if (l->image_id != protobuf_c_empty_string)
		free(l->image_id);
	char **v[] = { l->repo_tags, l->repo_digests, l->layer_dirs };
	size_t n[] = { l->n_repo_tags, l->n_repo_digests, l->n_layer_dirs };
	for (size_t k = 0; k < 3; k++) {
		for (size_t i = 0; i < n[k]; i++)
			free(v[k][i]);
		free(v[k]);
	}
	if (l->config) {
		image_config_clear(l->config);
		free(l->config);
	}
	crisp__leased_image__init(l);
}

int svc_lease_release(struct svc *s, const Crisp__LeaseRelease *rq, Crisp__Lease *ret,
		      struct svc_error *err)
{
	crisp__lease__init(ret);
	int r = lease_id_check(rq->id, err);
	if (r == 0)
		r = lease_answer(s, rq->id, ret, err);
	if (r < 0)
		return r;
	r = store_lease_release(s->store, rq->id);
	if (r < 0 && r != -ENOENT) {    /* -ENOENT: released meanwhile, fine */
		svc_lease_clear(ret);
		return svc_fail(err, svc_status_of(r), r, "lease %.300s: %s", rq->id, strerror(-r));
	}
	r = store_gc(s->store, NULL);
	if (r < 0) {
		svc_lease_clear(ret);
		return svc_fail(err, svc_status_of(r), r, "collecting garbage: %s", strerror(-r));
	}
	return 0;
}

int svc_lease_list(struct svc *s, Crisp__LeaseList *ret, struct svc_error *err)
{
	crisp__lease_list__init(ret);
	struct store_lease_info *v = NULL;
	size_t n = 0;
	int r = store_lease_list(s->store, &v, &n);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "leases: %s", strerror(-r));
	ret->leases = calloc(n ? n : 1, sizeof *ret->leases);
	r = ret->leases ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		Crisp__Lease *l = calloc(1, sizeof *l);
		if (!l) {
			r = -ENOMEM;
			break;
		}
		crisp__lease__init(l);
		ret->leases[ret->n_leases++] = l;
		l->id = strdup(v[i].id);
		l->holder = strdup(v[i].holder);
		l->created_at = v[i].created * INT64_C(1000000000);
		if (!l->id || !l->holder)
			r = -ENOMEM;
	}
	store_lease_list_free(v, n);
	if (r < 0) {
		svc_lease_list_clear(ret);
		return svc_fail(err, CRISP_STATUS_INTERNAL, r, "out of memory");
	}
	return 0;
}

static void str_free(char *p)
{
	if (p != protobuf_c_empty_string)
		free(p);
}

void svc_lease_clear(Crisp__Lease *l)
{
	str_free(l->id);
	str_free(l->holder);
	for (size_t i = 0; i < l->n_images; i++)
		free(l->images[i]);
	free(l->images);
	for (size_t i = 0; i < l->n_layers; i++)
		free(l->layers[i]);
	free(l->layers);
	crisp__lease__init(l);
}

void svc_lease_list_clear(Crisp__LeaseList *l)
{
	for (size_t i = 0; i < l->n_leases; i++) {
		svc_lease_clear(l->leases[i]);
		free(l->leases[i]);
	}
	free(l->leases);
	crisp__lease_list__init(l);
}
