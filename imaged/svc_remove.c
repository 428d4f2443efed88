/*
 * svc_remove: RemoveImage. The image that the reference names goes, with
 * every tag and repo digest it has (the CRI removes an image, not a name);
 * an image that is not there is success (idempotent, as containerd). An
 * image named in [image] pinned_images is kept: FAILED_PRECONDITION (the
 * node's must-keep list; take it off the list to remove it). Then GC takes
 * the content that no image and no lease holds (a container's lease keeps
 * its layers). Never logs.
 */
#include <errno.h>
#include <string.h>
#include "common/status.h"
#include "imaged/svc.h"

int svc_remove(struct svc *s, const char *ref, struct svc_error *err)
{
	struct store_image *img = NULL;
	int r = svc_image_lookup(s, ref, &img, err);
	if (r <= 0)
		return r;
	if (img->pinned || svc_image_pinned(s, img)) {
		r = svc_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPERM,
			     "image %s is pinned ([image] pinned_images): it is not removed",
			     img->id);
		store_image_free(img);
		return r;
	}
	r = store_image_remove(s->store, img->id);
	if (r < 0 && r != -ENOENT)      /* -ENOENT: removed by someone else meanwhile */
		svc_fail(err, svc_status_of(r), r, "removing %s: %s", img->id, strerror(-r));
	store_image_free(img);
	if (r < 0 && r != -ENOENT)
		return r;
	r = store_gc(s->store, NULL);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "collecting garbage: %s", strerror(-r));
	return 0;
}
