/*
 * svc_list: ListImages and the images of StreamImages: every image, or the
 * one that the filter's reference names (matched as ImageStatus matches:
 * tag, repo digest, id or id prefix, normalised). An ambiguous or unknown
 * filter lists nothing. Never logs; changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/status.h"
#include "imaged/svc.h"

int svc_list(struct svc *s, const Runtime__V1__ImageFilter *filter,
	     Runtime__V1__Image ***ret_v, size_t *ret_n, struct svc_error *err)
{
	const char *ref = filter && filter->image ? filter->image->image : NULL;
	struct store_image **imgs = NULL;
	size_t n = 0;
	int r;
	if (ref && *ref) {
		struct store_image *one = NULL;
		r = svc_image_find(s, ref, &one);
		if (r == 0) {
			if (!(imgs = calloc(1, sizeof *imgs))) {
				store_image_free(one);
				r = -ENOMEM;
			} else {
				imgs[0] = one;
				n = 1;
			}
		} else if (r == -ENOENT || r == -ENOTUNIQ) {
			r = 0;
		}
	} else {
		r = store_image_list(s->store, NULL, &imgs, &n);
	}
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "listing images: %s", strerror(-r));
	Runtime__V1__Image **v = calloc(n ? n : 1, sizeof *v);
	size_t k = 0;
	r = v ? 0 : -ENOMEM;
	for (; r == 0 && k < n; k++)
		r = svc_cri_image_new(s, imgs[k], &v[k]);
	store_image_list_free(imgs, n);
	if (r < 0) {
		svc_cri_images_free(v, k);      /* v[k - 1] failed: NULL */
		return svc_fail(err, CRISP_STATUS_INTERNAL, r, "listing images: %s", strerror(-r));
	}
	*ret_v = v;
	*ret_n = n;
	return 0;
}
