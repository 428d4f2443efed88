/*
 * check_util: the building blocks of criserver's request checks (see
 * check_int.h): strings, ids, names, paths, lists, maps, enums, and the
 * sub-messages pods and containers share (image spec, Linux resources,
 * namespaces, SELinux, security profiles).
 * Must never quote a value in a message: only field names and caps.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "criserver/check_int.h"

int chk_fail(struct chk *c, const char *field, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->len, "%s: ", field);

	if (n >= 0 && (size_t)n < c->len) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

const char *chk_field(char buf[CHK_FIELD_MAX], const char *parent, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (parent && parent[0])
		n = snprintf(buf, CHK_FIELD_MAX, "%s.", parent);
	if (n < 0 || n >= CHK_FIELD_MAX)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(buf + n, CHK_FIELD_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return buf;
}

static bool too_long(const char *s, size_t max)
{
	return s && strnlen(s, max + 1) > max;
}

int chk_str(struct chk *c, const char *field, const char *s, size_t max)
{
	if (too_long(s, max))
		return chk_fail(c, field, "longer than %zu bytes", max);
	return 0;
}

int chk_required(struct chk *c, const char *field, const char *s, size_t max)
{
	if (!s || !s[0])
		return chk_fail(c, field, "must not be empty");
	return chk_str(c, field, s, max);
}

static bool id_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       ch == '_' || ch == '.' || ch == '-';
}

int chk_id(struct chk *c, const char *field, const char *s, bool required)
{
	if (!s || !s[0])
		return required ? chk_fail(c, field, "must not be empty") : 0;
	if (too_long(s, CHECK_ID_MAX))
		return chk_fail(c, field, "longer than %d bytes", CHECK_ID_MAX);
	if (s[0] == '.' || s[0] == '-')
		return chk_fail(c, field, "an id does not start with '.' or '-'");
	for (const char *p = s; *p; p++)
		if (!id_char(*p))
			return chk_fail(c, field, "an id is made of [0-9A-Za-z_.-] only");
	return 0;
}

int chk_name(struct chk *c, const char *field, const char *s)
{
	int r = chk_required(c, field, s, CHECK_NAME_MAX);
	if (r < 0)
		return r;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '/')
			return chk_fail(c, field, "must not contain '/'");
		if (*p < 0x20 || *p == 0x7f)
			return chk_fail(c, field, "must not contain control characters");
	}
	return 0;
}

int chk_abs_path(struct chk *c, const char *field, const char *s, bool required)
{
	if (!s || !s[0])
		return required ? chk_fail(c, field, "must not be empty") : 0;
	if (s[0] != '/')
		return chk_fail(c, field, "must be an absolute path");
	return chk_str(c, field, s, CHECK_PATH_MAX);
}

/* Relative, and no component is "..". */
int chk_rel_path(struct chk *c, const char *field, const char *s)
{
	if (!s || !s[0])
		return 0;
	if (s[0] == '/')
		return chk_fail(c, field, "must be a relative path");
	if (too_long(s, CHECK_PATH_MAX))
		return chk_fail(c, field, "longer than %d bytes", CHECK_PATH_MAX);
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return chk_fail(c, field, "must not contain \"..\"");
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

int chk_str_list(struct chk *c, const char *field, char *const *v, size_t n, size_t max_n,
		 size_t item_max)
{
	char f[CHK_FIELD_MAX];

	if (n > max_n)
		return chk_fail(c, field, "more than %zu entries", max_n);
	for (size_t i = 0; i < n; i++)
		if (too_long(v[i], item_max))
			return chk_fail(c, chk_field(f, "", "%s[%zu]", field, i),
					"longer than %zu bytes", item_max);
	return 0;
}

int chk_enum(struct chk *c, const char *field, const ProtobufCEnumDescriptor *d, int v)
{
	if (!protobuf_c_enum_descriptor_get_value(d, v))
		return chk_fail(c, field, "%d is not a %s", v, d->name);
	return 0;
}

int chk_idmaps(struct chk *c, const char *field, Runtime__V1__IDMapping *const *v, size_t n)
{
	char f[CHK_FIELD_MAX];

	if (n > CHECK_IDMAPS_MAX)
		return chk_fail(c, field, "more than %d entries", CHECK_IDMAPS_MAX);
	for (size_t i = 0; i < n; i++) {
		uint64_t end = (uint64_t)v[i]->container_id + v[i]->length;
		uint64_t hend = (uint64_t)v[i]->host_id + v[i]->length;
		if (v[i]->length == 0 || end > UINT32_MAX + 1ull || hend > UINT32_MAX + 1ull)
			return chk_fail(c, chk_field(f, "", "%s[%zu]", field, i),
					"length must be at least 1 and the range within 32 bits");
	}
	return 0;
}

int chk_map(struct chk *c, const char *field, void *const *entries, size_t n, size_t koff,
	    size_t voff, size_t max_n, size_t key_max, size_t value_max, size_t *bytes)
{
	if (n > max_n)
		return chk_fail(c, field, "more than %zu entries", max_n);
	for (size_t i = 0; i < n; i++) {
		const char *k = *(char *const *)((const char *)entries[i] + koff);
		const char *v = *(char *const *)((const char *)entries[i] + voff);
		if (too_long(k, key_max))
			return chk_fail(c, field, "a key is longer than %zu bytes", key_max);
		if (too_long(v, value_max))
			return chk_fail(c, field, "a value is longer than %zu bytes", value_max);
		if (bytes)
			*bytes += (k ? strlen(k) : 0) + (v ? strlen(v) : 0);
	}
	return 0;
}

int chk_meta_bytes(struct chk *c, const char *field, size_t bytes)
{
	if (bytes > CHECK_META_BYTES_MAX)
		return chk_fail(c, field, "labels and annotations are more than %u bytes together",
				CHECK_META_BYTES_MAX);
	return 0;
}

int chk_image_spec(struct chk *c, const char *field, const Runtime__V1__ImageSpec *s,
		   bool required)
{
	char f[CHK_FIELD_MAX];
	size_t bytes = 0;
	int r;

	if (!s)
		return required ? chk_fail(c, chk_field(f, field, "image"), "must not be empty") : 0;
	r = required ? chk_required(c, chk_field(f, field, "image"), s->image, CHECK_IMAGE_MAX) :
		       chk_str(c, chk_field(f, field, "image"), s->image, CHECK_IMAGE_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "user_specified_image"), s->user_specified_image,
			    CHECK_IMAGE_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "runtime_handler"), s->runtime_handler,
			    CHECK_SHORT_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "image_ref"), s->image_ref, CHECK_IMAGE_MAX);
	if (r == 0)
		r = chk_map(c, chk_field(f, field, "annotations"),
			    CHK_MAP(Runtime__V1__ImageSpec__AnnotationsEntry, s->annotations,
				    s->n_annotations),
			    CHECK_MAP_ENTRIES_MAX, CHECK_MAP_KEY_MAX, CHECK_META_BYTES_MAX, &bytes);
	if (r == 0)
		r = chk_meta_bytes(c, field, bytes);
	return r;
}

int chk_resources(struct chk *c, const char *field, const Runtime__V1__LinuxContainerResources *res)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!res)
		return 0;
	r = chk_str(c, chk_field(f, field, "cpuset_cpus"), res->cpuset_cpus, CHECK_SHORT_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "cpuset_mems"), res->cpuset_mems, CHECK_SHORT_MAX);
	if (r == 0 && res->n_hugepage_limits > CHECK_HUGEPAGES_MAX)
		r = chk_fail(c, chk_field(f, field, "hugepage_limits"), "more than %d entries",
			     CHECK_HUGEPAGES_MAX);
	for (size_t i = 0; r == 0 && i < res->n_hugepage_limits; i++)
		r = chk_str(c, chk_field(f, field, "hugepage_limits[%zu].page_size", i),
			    res->hugepage_limits[i]->page_size, CHECK_SHORT_MAX);
	if (r == 0)
		r = chk_map(c, chk_field(f, field, "unified"),
			    CHK_MAP(Runtime__V1__LinuxContainerResources__UnifiedEntry, res->unified,
				    res->n_unified),
			    CHECK_SYSCTLS_MAX, CHECK_SYSCTL_KEY_MAX, CHECK_SYSCTL_VALUE_MAX, NULL);
	return r;
}

int chk_ns_options(struct chk *c, const char *field, const Runtime__V1__NamespaceOption *o)
{
	const ProtobufCEnumDescriptor *d = &runtime__v1__namespace_mode__descriptor;
	char f[CHK_FIELD_MAX];
	int r;

	if (!o)
		return 0;
	r = chk_enum(c, chk_field(f, field, "network"), d, o->network);
	if (r == 0)
		r = chk_enum(c, chk_field(f, field, "pid"), d, o->pid);
	if (r == 0)
		r = chk_enum(c, chk_field(f, field, "ipc"), d, o->ipc);
	if (r == 0)
		r = chk_id(c, chk_field(f, field, "target_id"), o->target_id, false);
	if (r == 0 && o->userns_options) {
		const Runtime__V1__UserNamespace *u = o->userns_options;
		r = chk_enum(c, chk_field(f, field, "userns_options.mode"), d, u->mode);
		if (r == 0)
			r = chk_idmaps(c, chk_field(f, field, "userns_options.uids"), u->uids,
				       u->n_uids);
		if (r == 0)
			r = chk_idmaps(c, chk_field(f, field, "userns_options.gids"), u->gids,
				       u->n_gids);
	}
	return r;
}

int chk_selinux(struct chk *c, const char *field, const Runtime__V1__SELinuxOption *o)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!o)
		return 0;
	r = chk_str(c, chk_field(f, field, "user"), o->user, CHECK_SHORT_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "role"), o->role, CHECK_SHORT_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "type"), o->type, CHECK_SHORT_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "level"), o->level, CHECK_SHORT_MAX);
	return r;
}

int chk_profile(struct chk *c, const char *field, const Runtime__V1__SecurityProfile *p)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!p)
		return 0;
	r = chk_enum(c, chk_field(f, field, "profile_type"),
		     &runtime__v1__security_profile__profile_type__descriptor, p->profile_type);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "localhost_ref"), p->localhost_ref,
			    CHECK_PATH_MAX);
	return r;
}

int chk_groups(struct chk *c, const char *field, size_t n)
{
	if (n > CHECK_GROUPS_MAX)
		return chk_fail(c, field, "more than %d entries", CHECK_GROUPS_MAX);
	return 0;
}
