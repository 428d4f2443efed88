/*
 * admin_int: what the admin_*.c files share, and nothing else may use:
 *   admin.c          the handlers: jobs on the image service's pull pool, answers
 *   admin_import.c   an OCI layout tar -> blobs, then each index entry -> an image
 *   admin_commit.c   an image whose blobs are in the store -> its layers
 *                    unpacked (confined), the image record (the end state of
 *                    a pull)
 *   admin_export.c   images -> an OCI layout tar
 *   admin_push.c     an image -> a registry (registry_push.c)
 */
#pragma once
#include <stdatomic.h>
#include "imaged/admin.h"
#include "imaged/oci_layout.h"
#include "imaged/store.h"

#define ADMIN_LEASE_PREFIX "crisp-admin-"
#define ADMIN_LEASE_MAX 64

/* An image to record whose manifest (and index, if any) is in the store. */
struct admin_image_in {
	char manifest_digest[DIGEST_STR_SIZE];
	char media_type[REGISTRY_MEDIA_TYPE_MAX];
	int64_t manifest_size;          /* from the descriptor that named it */
	char index_digest[DIGEST_STR_SIZE];     /* "" when not reached through an index */
	char **names;                   /* normalised "name:tag" references */
	size_t n_names;
	const char *lease;              /* holds everything until the image does */
};

/* Unpacks the layers (those not in the store yet) and puts the image;
 * ret_id gets its id. */
int admin_commit(struct admin_ctx *a, const struct admin_image_in *in, const atomic_bool *cancel,
		 char ret_id[DIGEST_STR_SIZE], struct oci_error *err);

/* A fresh temporary lease "crisp-admin-<what>-<pid>-<n>" in ret. */
int admin_lease_new(struct admin_ctx *a, const char *what, char ret[ADMIN_LEASE_MAX]);
/* The gRPC status for an errno from the store or the system. */
int admin_status_of(int r);
