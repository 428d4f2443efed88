/*
 * test_svc_lib: helpers for the image service's unit tests (test_svc_*.c):
 * an image service on a store in the test's tmp dir, images built in
 * memory (layers tarred with libarchive, gzipped or not, the config and
 * OCI manifest by the spec) and served by the scripted registry
 * (registry_fake.h), and looks at the store. Test code only.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "imaged/svc.h"
#include "tests/unit/registry_fake.h"
#include "tests/unit/test_unpack_lib.h"

#define TI_LAYERS_MAX 8
#define TI_RULES_MAX 32

struct ti_layer {
	char *blob;                     /* what the registry serves */
	size_t blob_len;
	char digest[DIGEST_STR_SIZE];
	char diff_id[DIGEST_STR_SIZE];  /* of the tar */
	const char *media_type;
};

struct ti_image {
	struct ti_layer layers[TI_LAYERS_MAX];
	size_t n_layers;
	char *config;
	char config_digest[DIGEST_STR_SIZE];
	char *manifest;
	char digest[DIGEST_STR_SIZE];
	char paths[3 + TI_LAYERS_MAX][160];     /* rule paths (kept alive) */
	char hdr[256];
};

/* A layer from tar entries; gzip'ed when gz. */
void ti_layer_tar(struct ti_layer *l, const struct tl_entry *entries, size_t n, bool gz);
/* Any bytes as a layer blob (diff_id then made up: set it yourself). */
void ti_layer_raw(struct ti_layer *l, const void *blob, size_t len, const char *media_type);
/* Config and manifest over the layers. user may be NULL; diff_ids NULL:
 * the layers' own. extra: more JSON members for the config ("" or
 * ",\"x\":1"). */
void ti_image_finish(struct ti_image *img, const char *user, char (*diff_ids)[DIGEST_STR_SIZE],
		     size_t n_diff_ids, const char *extra);
/* Rules that serve img as test/<repo>:<tag> (and by digest); returns how
 * many were added at rules[*n]. */
void ti_rules(struct ti_image *img, const char *repo, const char *tag, struct fake_rule *rules,
	      size_t *n);

/* An image service on ROOT = <tmp>/root, with the registry settings for
 * tests (short backoff). cfg_edit may change the config first (NULL ok). */
struct svc *ti_open(struct crisp_config *cfg, void (*cfg_edit)(struct crisp_config *c));
void ti_close(struct svc *s, struct crisp_config *cfg);

/* A PullImageRequest for ref (annotations: NULL or "k=v" strings, NULL
 * terminated); returns svc_pull's result. */
int ti_pull(struct svc *s, const char *ref, const char *const *annotations,
	    const atomic_bool *cancel, int64_t deadline_ms, char ret_id[DIGEST_STR_SIZE],
	    struct svc_error *err);
/* "<host>/test/<repo>:<tag>" */
void ti_ref(const struct fake_server *f, const char *repo_tag, char *buf, size_t len);

/* Entries in ROOT/images/<sub>, -1 if absent. */
int ti_count(const char *sub);
/* Leases in the store. */
size_t ti_leases(struct svc *s);
