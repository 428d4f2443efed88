/*
 * check_int: the pieces the request checks are made of (check_util.c),
 * shared by check_pod.c and check_ctr.c. Internal to criserver/check*.c.
 * Every helper returns 0, or -EINVAL after writing "<field>: <why>" to the
 * context's err; a NULL or empty optional value always passes.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "criserver/check.h"
#include "cri.pb-c.h"

#define CHK_FIELD_MAX 192

struct chk {
	char *err;
	size_t len;
};

int chk_fail(struct chk *c, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "parent.<fmt>" (or "<fmt>" when parent is empty) into buf; returns buf. */
const char *chk_field(char buf[CHK_FIELD_MAX], const char *parent, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int chk_str(struct chk *c, const char *field, const char *s, size_t max);
int chk_required(struct chk *c, const char *field, const char *s, size_t max);
int chk_id(struct chk *c, const char *field, const char *s, bool required);
int chk_name(struct chk *c, const char *field, const char *s);
int chk_abs_path(struct chk *c, const char *field, const char *s, bool required);
int chk_rel_path(struct chk *c, const char *field, const char *s);
int chk_str_list(struct chk *c, const char *field, char *const *v, size_t n, size_t max_n,
		 size_t item_max);
int chk_enum(struct chk *c, const char *field, const ProtobufCEnumDescriptor *d, int v);
int chk_idmaps(struct chk *c, const char *field, Runtime__V1__IDMapping *const *v, size_t n);

/* A map<string, string> of generated entries whose key and value are at
 * offsets koff and voff; *bytes grows by its keys and values. */
int chk_map(struct chk *c, const char *field, void *const *entries, size_t n, size_t koff,
	    size_t voff, size_t max_n, size_t key_max, size_t value_max, size_t *bytes);
#define CHK_MAP(T, arr, n) (void *const *)(arr), (n), offsetof(T, key), offsetof(T, value)
/* Labels and annotations of one object: counts, key sizes, and both maps
 * together under CHECK_META_BYTES_MAX (values are capped by that sum). */
int chk_meta_bytes(struct chk *c, const char *field, size_t bytes);

int chk_image_spec(struct chk *c, const char *field, const Runtime__V1__ImageSpec *s,
		   bool required);
int chk_resources(struct chk *c, const char *field, const Runtime__V1__LinuxContainerResources *r);
int chk_ns_options(struct chk *c, const char *field, const Runtime__V1__NamespaceOption *o);
int chk_selinux(struct chk *c, const char *field, const Runtime__V1__SELinuxOption *o);
int chk_profile(struct chk *c, const char *field, const Runtime__V1__SecurityProfile *p);
int chk_groups(struct chk *c, const char *field, size_t n);

/* check_pod.c: a PodSandboxConfig; required: metadata and its name,
 * namespace and uid must be set (RunPodSandbox), else only caps and forms
 * (the copy CreateContainer carries). */
int chk_pod_config(struct chk *c, const char *field, const Runtime__V1__PodSandboxConfig *p,
		   bool required);
