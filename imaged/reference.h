/*
 * reference: image references, parsed and normalised the way kubelet and
 * crictl do (the docker/distribution reference grammar):
 *
 *   busybox                  -> docker.io/library/busybox:latest
 *   foo/bar:1                -> docker.io/foo/bar:1
 *   index.docker.io/busybox  -> docker.io/library/busybox:latest
 *   localhost:5000/a/b@sha256:<hex>         (digest only: no tag is added)
 *   quay.io/a/b:1@sha256:<hex>              (tag and digest: both kept)
 *
 * The first '/'-separated component is a registry host when it has a '.'
 * or a ':', is "localhost", or has an upper-case letter; otherwise the
 * reference is on docker.io. Repository paths are lower case; tags are
 * [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; digests are "sha256:<64 lower-case
 * hex>" (imaged/digest.h: the only algorithm crisp accepts; another
 * well-formed algorithm is refused as unsupported). The whole name is at
 * most 255 bytes.
 *
 * Owns the grammar, the normalisation and the formatting. Never does I/O,
 * never allocates, never logs. Errors are -EINVAL with a static reason.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "imaged/digest.h"

#define REF_NAME_MAX   255      /* domain "/" path, as distribution */
#define REF_TAG_MAX    128
#define REF_INPUT_MAX  1024     /* longer input is refused before parsing */
#define REF_STRING_MAX (REF_NAME_MAX + 1 + REF_TAG_MAX + 1 + DIGEST_STR_SIZE)

#define REF_DOCKER_DOMAIN   "docker.io"
#define REF_DOCKER_API_HOST "registry-1.docker.io"

struct image_ref {
	char domain[REF_NAME_MAX + 1];  /* "docker.io", "localhost:5000", "[::1]:5000" */
	char path[REF_NAME_MAX + 1];    /* "library/busybox" */
	char tag[REF_TAG_MAX + 1];      /* "" when the reference names only a digest */
	char digest[DIGEST_STR_SIZE];   /* "" or "sha256:<64 hex>" */
};

/* Parses and normalises s. On -EINVAL, *ret_why (if not NULL) is a static
 * English reason ("repository name must be lowercase"). */
int image_ref_parse(const char *s, struct image_ref *ret, const char **ret_why);

/* "docker.io/library/busybox" */
int image_ref_name(const struct image_ref *r, char *buf, size_t len);
/* The normalised reference: name[:tag][@digest]. */
int image_ref_string(const struct image_ref *r, char *buf, size_t len);
/* What to ask the registry for: the digest if there is one, else the tag. */
const char *image_ref_object(const struct image_ref *r);

/* The host that serves the registry API for a reference domain:
 * registry-1.docker.io for docker.io, the domain itself otherwise. */
const char *image_ref_api_host(const char *domain);

