/*
 * svc_image: images as the CRI names and shows them. Owns how a CRI
 * reference finds a store record (svc_image_find: normalised as kubelet and
 * crictl write it, then as an id or id prefix; the admin requests use the
 * same lookup), which images are pinned
 * ([image] pinned_images), and the runtime.v1.Image built from a record
 * (every string copied, freed by svc_cri_image_free).
 * Never changes an image but for its pinned flag.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/status.h"
#include "imaged/reference.h"
#include "imaged/svc.h"

int svc_ref_normalize(const char *ref, char *buf, size_t len)
{
	struct image_ref r;
	char name[REF_NAME_MAX + 1];
	if (!ref || image_ref_parse(ref, &r, NULL) < 0)
		return -EINVAL;
	int n = image_ref_name(&r, name, sizeof name);
	if (n < 0)
		return n;
	n = r.digest[0] ? snprintf(buf, len, "%s@%s", name, r.digest) :
			  snprintf(buf, len, "%s:%s", name, r.tag);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int svc_image_find_in(struct store *st, const char *ref, struct store_image **ret)
{
	char norm[REF_STRING_MAX];
	if (!ref || !*ref || strnlen(ref, REF_INPUT_MAX + 1) > REF_INPUT_MAX)
		return -EINVAL;
	if (!digest_valid(ref) && svc_ref_normalize(ref, norm, sizeof norm) == 0) {
		int r = store_image_find(st, norm, ret);
		if (r != -ENOENT)
			return r;
	}
	/* an id, or an id prefix ("3f57d9401f8d" parses as a name too) */
	int r = store_image_find(st, ref, ret);
	return r == -EINVAL ? -ENOENT : r;
}

int svc_image_find(struct svc *s, const char *ref, struct store_image **ret)
{
	return svc_image_find_in(s->store, ref, ret);
}

int svc_image_lookup(struct svc *s, const char *ref, struct store_image **ret,
		     struct svc_error *err)
{
	if (!ref || !*ref)
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "no image named");
	int r = svc_image_find(s, ref, ret);
	if (r == -ENOENT)
		return 0;
	if (r == -ENOTUNIQ)
		return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				"\"%.300s\" is the start of several image ids", ref);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "looking up %.300s: %s", ref,
				strerror(-r));
	return 1;
}

static bool pinned_name(const struct svc *s, const char *name)
{
	for (size_t i = 0; i < s->n_pinned; i++)
		if (strcmp(s->pinned[i], name) == 0)
			return true;
	return false;
}

bool svc_image_pinned(const struct svc *s, const struct store_image *img)
{
	if (pinned_name(s, img->id))
		return true;
	for (size_t i = 0; i < img->n_repo_tags; i++)
		if (pinned_name(s, img->repo_tags[i]))
			return true;
	for (size_t i = 0; i < img->n_repo_digests; i++)
		if (pinned_name(s, img->repo_digests[i]))
			return true;
	return false;
}

int svc_pinned_sync(struct svc *s)
{
	struct store_image **v = NULL;
	size_t n = 0;
	int r = store_image_list(s->store, NULL, &v, &n);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		bool want = svc_image_pinned(s, v[i]);
		if (want != v[i]->pinned)
			r = store_image_set_pinned(s->store, v[i]->id, want);
	}
	store_image_list_free(v, n);
	return r < 0 ? r : 0;
}

static void str_free(char *p)
{
	if (p && p != protobuf_c_empty_string)
		free(p);
}

static char **strv_dup(char *const *v, size_t n)
{
	char **out = calloc(n ? n : 1, sizeof *out);
	for (size_t i = 0; out && i < n; i++)
		if (!(out[i] = strdup(v[i]))) {
			while (i-- > 0)
				free(out[i]);
			free(out);
			return NULL;
		}
	return out;
}

static int spec_new(const struct store_image *img, Runtime__V1__ImageSpec **ret)
{
	Runtime__V1__ImageSpec *sp = calloc(1, sizeof *sp);
	if (!sp)
		return -ENOMEM;
	runtime__v1__image_spec__init(sp);
	*ret = sp;      /* freed by the caller's svc_cri_image_free on failure */
	if (!(sp->image = strdup(img->id)))
		return -ENOMEM;
	if (img->n_annotations == 0)
		return 0;
	sp->annotations = calloc(img->n_annotations, sizeof *sp->annotations);
	if (!sp->annotations)
		return -ENOMEM;
	for (size_t i = 0; i < img->n_annotations; i++) {
		Runtime__V1__ImageSpec__AnnotationsEntry *e = calloc(1, sizeof *e);
		if (!e)
			return -ENOMEM;
		runtime__v1__image_spec__annotations_entry__init(e);
		sp->annotations[sp->n_annotations++] = e;
		if (!(e->key = strdup(img->annotations[i].key)) ||
		    !(e->value = strdup(img->annotations[i].value)))
			return -ENOMEM;
	}
	return 0;
}

int svc_cri_image_new(const struct svc *s, const struct store_image *img,
		      Runtime__V1__Image **ret)
{
	Runtime__V1__Image *im = calloc(1, sizeof *im);
	if (!im)
		return -ENOMEM;
	runtime__v1__image__init(im);
	int r = -ENOMEM;
	if (!(im->id = strdup(img->id)))
		goto fail;
	if (!(im->repo_tags = strv_dup(img->repo_tags, img->n_repo_tags)))
		goto fail;
	im->n_repo_tags = img->n_repo_tags;
	if (!(im->repo_digests = strv_dup(img->repo_digests, img->n_repo_digests)))
		goto fail;
	im->n_repo_digests = img->n_repo_digests;
	im->size = img->size;
	im->pinned = img->pinned || (s && svc_image_pinned(s, img));
	if (img->uid != STORE_UID_NONE) {
		if (!(im->uid = calloc(1, sizeof *im->uid)))
			goto fail;
		runtime__v1__int64_value__init(im->uid);
		im->uid->value = img->uid;
	} else if (img->username && !(im->username = strdup(img->username))) {
		goto fail;
	}
	r = spec_new(img, &im->spec);
	if (r < 0)
		goto fail;
	*ret = im;
	return 0;
fail:
	svc_cri_image_free(im);
	return r;
}

void svc_cri_image_free(Runtime__V1__Image *im)
{
	if (!im)
		return;
	str_free(im->id);
	for (size_t i = 0; i < im->n_repo_tags; i++)
		free(im->repo_tags[i]);
	free(im->repo_tags);
	for (size_t i = 0; i < im->n_repo_digests; i++)
		free(im->repo_digests[i]);
	free(im->repo_digests);
	free(im->uid);
	str_free(im->username);
	if (im->spec) {
		str_free(im->spec->image);
		for (size_t i = 0; i < im->spec->n_annotations; i++) {
			str_free(im->spec->annotations[i]->key);
			str_free(im->spec->annotations[i]->value);
			free(im->spec->annotations[i]);
		}
		free(im->spec->annotations);
		free(im->spec);
	}
	free(im);
}

void svc_cri_images_free(Runtime__V1__Image **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		svc_cri_image_free(v[i]);
	free(v);
}
