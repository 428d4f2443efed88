/*
 * image_config: the part of an image config (the OCI/Docker config JSON's
 * "config" object) that a container is built from: User, Env, Entrypoint,
 * Cmd, WorkingDir, StopSignal, Volumes and Labels, parsed and checked here
 * so that sandboxd receives typed values (crisp.ImageRuntimeConfig) and
 * never the registry's bytes. Caps on every list and string; a string with
 * a NUL byte (JSON "\u0000") is refused. Never logs, never does I/O.
 */
#pragma once
#include <stddef.h>
#include "imaged/svc.h"
#include "crisp.pb-c.h"

#define IMAGE_CONFIG_LIST_MAX   4096u           /* Env, Entrypoint, Cmd entries */
#define IMAGE_CONFIG_VOLUMES_MAX 256u
#define IMAGE_CONFIG_LABELS_MAX 1024u
#define IMAGE_CONFIG_STRING_MAX (64u * 1024u)   /* one entry */
#define IMAGE_CONFIG_TOTAL_MAX  (1024u * 1024u) /* all strings together */

/* Parse the config blob buf (len bytes) into ret (crisp__image_runtime_config__init'ed
 * here; free with image_config_clear). An absent "config" object is an empty
 * runtime config. */
int image_config_parse(const char *buf, size_t len, Crisp__ImageRuntimeConfig *ret,
		       struct svc_error *err);
void image_config_clear(Crisp__ImageRuntimeConfig *c);
