/*
 * svc_status: ImageStatus. The image a reference names (svc_image_find), or
 * an empty answer when there is none: kubelet reads "not present" from an
 * unset image, never from an error. verbose adds info["info"], a JSON
 * object as containerd gives it: the top layer's chainID and the image
 * config as imageSpec, with the manifest digest and media type.
 * Never logs; changes nothing.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include "common/status.h"
#include "imaged/svc.h"

#define INFO_KEY "info"

static json_object *image_spec_json(struct svc *s, const struct store_image *img)
{
	char *buf = NULL;
	size_t len = 0;
	if (store_blob_read(s->store, img->id, s->max_manifest_size, &buf, &len) < 0)
		return NULL;
	json_tokener *tok = json_tokener_new();
	json_object *o = tok && len <= INT32_MAX ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
	if (tok)
		json_tokener_free(tok);
	free(buf);
	return o;
}

static int add_str(json_object *o, const char *key, const char *v)
{
	json_object *s = json_object_new_string(v);
	return s ? json_object_object_add(o, key, s) : -1;
}

/* The verbose JSON, malloc'ed. */
static char *info_json(struct svc *s, const struct store_image *img)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object *spec = image_spec_json(s, img);
	int r = add_str(o, "chainID", img->n_layers ? img->layers[img->n_layers - 1].chain_id : "");
	if (r == 0)
		r = json_object_object_add(o, "imageSpec", spec ? spec : json_object_new_object());
	if (r == 0)
		r = add_str(o, "manifestDigest", img->manifest_digest);
	if (r == 0)
		r = add_str(o, "mediaType", img->media_type ? img->media_type : "");
	char *out = r == 0 ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) :
		    NULL;
	json_object_put(o);
	return out;
}

static int info_add(Runtime__V1__ImageStatusResponse *ret, char *json)
{
	Runtime__V1__ImageStatusResponse__InfoEntry *e = calloc(1, sizeof *e);
	ret->info = calloc(1, sizeof *ret->info);
	if (!e || !ret->info) {
		free(e);
		free(json);
		return -ENOMEM;
	}
	runtime__v1__image_status_response__info_entry__init(e);
	e->value = json;
	ret->info[0] = e;
	ret->n_info = 1;
	e->key = strdup(INFO_KEY);
	return e->key ? 0 : -ENOMEM;
}

int svc_status(struct svc *s, const Runtime__V1__ImageStatusRequest *rq,
	       Runtime__V1__ImageStatusResponse *ret, struct svc_error *err)
{
	runtime__v1__image_status_response__init(ret);
	const char *ref = rq->image ? rq->image->image : NULL;
	struct store_image *img = NULL;
	int r = svc_image_lookup(s, ref, &img, err);
	if (r <= 0)
		return r;
	r = svc_cri_image_new(s, img, &ret->image);
	if (r == 0 && rq->verbose) {
		char *json = info_json(s, img);
		r = json ? info_add(ret, json) : -ENOMEM;
	}
	store_image_free(img);
	if (r < 0) {
		svc_status_clear(ret);
		return svc_fail(err, CRISP_STATUS_INTERNAL, r, "image status: %s", strerror(-r));
	}
	return 0;
}

void svc_status_clear(Runtime__V1__ImageStatusResponse *r)
{
	svc_cri_image_free(r->image);
	for (size_t i = 0; i < r->n_info; i++) {
		if (r->info[i]->key != protobuf_c_empty_string)
			free(r->info[i]->key);
		if (r->info[i]->value != protobuf_c_empty_string)
			free(r->info[i]->value);
		free(r->info[i]);
	}
	free(r->info);
	runtime__v1__image_status_response__init(r);
}
