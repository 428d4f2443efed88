/*
 * admin_export: crispctl's `image export`. The images the request names
 * (ids, tags or repo digests, as the CRI finds them) are held by a
 * temporary lease while their blobs stream out as one OCI image layout tar
 * (oci_layout_write) to the request's fd, so that a removal and GC in the
 * meantime cannot pull content from under the export. Never logs; reads
 * the store only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/status.h"
#include "imaged/admin_int.h"
#include "imaged/svc.h"

#define EXPORT_IMAGES_MAX 256

static int images_find(struct admin_ctx *a, const Crisp__ImageExport *rq, const char *lease,
		       struct store_image **v, size_t *n, struct oci_error *err)
{
	for (size_t i = 0; i < rq->n_images; i++) {
		struct store_image *img = NULL;
		int r = svc_image_find_in(a->store, rq->images[i], &img);
		if (r == -ENOENT)
			return oci_fail(err, CRISP_STATUS_NOT_FOUND, r, "image \"%.300s\" not found",
					rq->images[i]);
		if (r == -ENOTUNIQ)
			return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
					"\"%.300s\" matches more than one image", rq->images[i]);
		if (r < 0)
			return oci_fail(err, admin_status_of(r), r, "image \"%.300s\": %s",
					rq->images[i], strerror(-r));
		bool dup = false;
		for (size_t k = 0; k < *n && !dup; k++)
			dup = !strcmp(v[k]->id, img->id);
		if (dup) {
			store_image_free(img);
			continue;
		}
		v[(*n)++] = img;
		r = store_lease_add_image(a->store, lease, img->id);
		if (r < 0)
			return oci_fail(err, admin_status_of(r), r, "image %s: holding it: %s", img->id,
					strerror(-r));
	}
	return 0;
}

int admin_export_run(struct admin_ctx *a, int fd, const Crisp__ImageExport *rq,
		     const atomic_bool *cancel, uint64_t *ret_bytes, struct oci_error *err)
{
	char lease[ADMIN_LEASE_MAX];
	struct store_image *v[EXPORT_IMAGES_MAX];
	size_t n = 0;
	if (rq->n_images == 0)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "no image to export");
	if (rq->n_images > EXPORT_IMAGES_MAX)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -E2BIG,
				"more than %d images in one export", EXPORT_IMAGES_MAX);
	int r = admin_lease_new(a, "export", lease);
	if (r == 0)
		r = store_lease_create(a->store, lease, "crispctl image export", STORE_LEASE_TEMPORARY);
	if (r < 0)
		return oci_fail(err, admin_status_of(r), r, "creating a lease: %s", strerror(-r));
	r = images_find(a, rq, lease, v, &n, err);
	if (r == 0) {
		struct oci_write_options wo = { .cancel = cancel };
		r = oci_layout_write(a->store, fd, v, n, &wo, ret_bytes, err);
	}
	store_lease_release(a->store, lease);
	for (size_t i = 0; i < n; i++)
		store_image_free(v[i]);
	return r;
}
