/*
 * images: the CRI ImageService in criserver. Checks each request (the fields
 * kubelet must set, and a cap on every string it sends on), then hands it to
 * imaged, which does the work (MSG_IMG_*), and relays imaged's answer.
 * Must never log an AuthConfig field, nor pass a request it has not checked.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "criserver/criserver.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"

#define IMAGE_REF_MAX     4096          /* a reference, id or digest */
#define ANNOTATIONS_MAX   256           /* annotations on one ImageSpec */
#define ANNOTATION_MAX    (64 * 1024)   /* one key or value */
#define AUTH_FIELD_MAX    (64 * 1024)   /* one AuthConfig field */

static struct backend *imaged(void *userdata)
{
	return ((struct criserver *)userdata)->backends[BACKEND_IMAGED];
}

static bool too_long(const char *s, size_t max)
{
	return s && strnlen(s, max + 1) > max;
}

/* An ImageSpec the caller must give: image set, everything within caps.
 * Finishes r with INVALID_ARGUMENT naming the field and returns false. */
static bool check_image_spec(struct rpc *r, const Runtime__V1__ImageSpec *spec,
			     const char *field)
{
	if (!spec || !spec->image || !spec->image[0]) {
		rpc_finish_status(r, GRPC_STATUS_INVALID_ARGUMENT, "%s.image: must not be empty",
				  field);
		return false;
	}
	if (too_long(spec->image, IMAGE_REF_MAX) ||
	    too_long(spec->user_specified_image, IMAGE_REF_MAX) ||
	    too_long(spec->runtime_handler, IMAGE_REF_MAX)) {
		rpc_finish_status(r, GRPC_STATUS_INVALID_ARGUMENT,
				  "%s: a name is longer than %d bytes", field, IMAGE_REF_MAX);
		return false;
	}
	if (spec->n_annotations > ANNOTATIONS_MAX) {
		rpc_finish_status(r, GRPC_STATUS_INVALID_ARGUMENT,
				  "%s.annotations: more than %d", field, ANNOTATIONS_MAX);
		return false;
	}
	for (size_t i = 0; i < spec->n_annotations; i++) {
		if (too_long(spec->annotations[i]->key, ANNOTATION_MAX) ||
		    too_long(spec->annotations[i]->value, ANNOTATION_MAX)) {
			rpc_finish_status(r, GRPC_STATUS_INVALID_ARGUMENT,
					  "%s.annotations: an entry is longer than %d bytes",
					  field, ANNOTATION_MAX);
			return false;
		}
	}
	return true;
}

static bool check_auth(struct rpc *r, const Runtime__V1__AuthConfig *a)
{
	if (!a)
		return true;
	const char *f[] = { a->username, a->password, a->auth, a->server_address,
			    a->identity_token, a->registry_token };
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		if (too_long(f[i], AUTH_FIELD_MAX)) {
			rpc_finish_status(r, GRPC_STATUS_INVALID_ARGUMENT,
					  "auth: a field is longer than %d bytes", AUTH_FIELD_MAX);
			return false;
		}
	}
	return true;
}

void cri_pull_image(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Runtime__V1__PullImageRequest *q = (const void *)req;
	if (!check_image_spec(r, q->image, "image") || !check_auth(r, q->auth))
		return;
	cri_forward(r, imaged(userdata), CRISP__MSG_TYPE__MSG_IMG_PULL, req,
		    &runtime__v1__pull_image_response__descriptor);
}

void cri_image_status(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Runtime__V1__ImageStatusRequest *q = (const void *)req;
	if (!check_image_spec(r, q->image, "image"))
		return;
	cri_forward(r, imaged(userdata), CRISP__MSG_TYPE__MSG_IMG_STATUS, req,
		    &runtime__v1__image_status_response__descriptor);
}

void cri_remove_image(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Runtime__V1__RemoveImageRequest *q = (const void *)req;
	if (!check_image_spec(r, q->image, "image"))
		return;
	cri_forward(r, imaged(userdata), CRISP__MSG_TYPE__MSG_IMG_REMOVE, req,
		    &runtime__v1__remove_image_response__descriptor);
}

/* A filter is optional; when it names an image, that name is capped. */
static bool check_filter(struct rpc *r, const Runtime__V1__ImageFilter *f)
{
	if (f && f->image && too_long(f->image->image, IMAGE_REF_MAX)) {
		rpc_finish_status(r, GRPC_STATUS_INVALID_ARGUMENT,
				  "filter.image.image: longer than %d bytes", IMAGE_REF_MAX);
		return false;
	}
	return true;
}

void cri_list_images(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Runtime__V1__ListImagesRequest *q = (const void *)req;
	if (!check_filter(r, q->filter))
		return;
	cri_forward(r, imaged(userdata), CRISP__MSG_TYPE__MSG_IMG_LIST, req,
		    &runtime__v1__list_images_response__descriptor);
}

void cri_stream_images(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Runtime__V1__StreamImagesRequest *q = (const void *)req;
	if (!check_filter(r, q->filter))
		return;
	cri_forward(r, imaged(userdata), CRISP__MSG_TYPE__MSG_IMG_STREAM, req,
		    &runtime__v1__stream_images_response__descriptor);
}

void cri_image_fs_info(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward(r, imaged(userdata), CRISP__MSG_TYPE__MSG_IMG_FSINFO, req,
		    &runtime__v1__image_fs_info_response__descriptor);
}
