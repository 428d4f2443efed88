/*
 * svc_config: what imaged reads from an image's config blob (the OCI image
 * config, application/vnd.oci.image.config.v1+json, or Docker's): the
 * rootfs diff_ids that the unpacked layers must match, and the user the
 * image runs as. The blob is capped by the caller ([image]
 * max_manifest_size) before it gets here. Never logs.
 */
#pragma once
#include <stddef.h>
#include "imaged/digest.h"
#include "imaged/svc.h"

#define SVC_CONFIG_DEPTH 64     /* JSON nesting accepted */

struct svc_image_config {
	char (*diff_ids)[DIGEST_STR_SIZE];      /* bottom first */
	size_t n_diff_ids;
	char *user;                             /* config.User, or NULL */
};

/* -EPROTO (INVALID_ARGUMENT in err) when it is not an image config. */
int svc_config_parse(const char *buf, size_t len, struct svc_image_config *ret,
		     struct svc_error *err);
void svc_config_clear(struct svc_image_config *c);
