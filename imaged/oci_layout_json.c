/*
 * oci_layout_json: the JSON documents of an OCI image layout, read into
 * checked structs and written: index.json and image indexes (OCI index,
 * Docker manifest list), image manifests (OCI, Docker schema2), image
 * configs (rootfs.diff_ids and User) and the oci-layout file. Every
 * descriptor is checked field by field (media type printable and short,
 * digest exactly sha256:<hex>, size >= 0); counts are capped. Never logs,
 * never does I/O.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/status.h"
#include "imaged/oci_layout.h"

int oci_fail(struct oci_error *err, int code, int errnum, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return errnum;
}

bool oci_is_index_type(const char *mt)
{
	return !strcmp(mt, REGISTRY_MT_OCI_INDEX) || !strcmp(mt, REGISTRY_MT_DOCKER_LIST);
}

bool oci_is_manifest_type(const char *mt)
{
	return !strcmp(mt, REGISTRY_MT_OCI_MANIFEST) || !strcmp(mt, REGISTRY_MT_DOCKER_MANIFEST);
}

/* The whole buffer as one JSON object (no trailing bytes, no NULs). */
static int json_parse_object(const char *buf, size_t len, const char *what, json_object **ret,
			     struct oci_error *err)
{
	if (len > OCI_JSON_MAX)
		return oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
				"%s: %zu bytes, over the cap of %u", what, len, OCI_JSON_MAX);
	if (memchr(buf, '\0', len))
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: not JSON (a NUL byte)", what);
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	bool whole = json_tokener_get_error(tok) == json_tokener_success &&
		     json_tokener_get_parse_end(tok) == len;
	json_tokener_free(tok);
	if (!o || !whole || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: not a JSON object", what);
	}
	*ret = o;
	return 0;
}

/* The string at key, or NULL when absent; -EINVAL (in *bad) when not a
 * string of printable ASCII shorter than max. */
static const char *json_text(json_object *o, const char *key, size_t max, bool *bad)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) >= max) {
		*bad = true;
		return NULL;
	}
	const char *s = json_object_get_string(v);
	for (const char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e) {
			*bad = true;
			return NULL;
		}
	return s;
}

static int descriptor_parse(json_object *o, struct registry_descriptor *d, const char *what,
			    struct oci_error *err)
{
	bool bad = false;
	json_object *size;
	if (!json_object_is_type(o, json_type_object))
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: a descriptor is not an object", what);
	const char *mt = json_text(o, "mediaType", sizeof d->media_type, &bad);
	const char *dg = json_text(o, "digest", DIGEST_STR_SIZE + 64, &bad);
	if (bad || !dg)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: a descriptor without a usable mediaType/digest", what);
	struct digest dd;
	int r = digest_parse(dg, &dd);
	if (r == -EOPNOTSUPP)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: digest %.80s: only sha256 is supported", what, dg);
	if (r < 0)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: malformed digest \"%.80s\"", what, dg);
	if (!json_object_object_get_ex(o, "size", &size) || !json_object_is_type(size, json_type_int) ||
	    json_object_get_int64(size) < 0)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: descriptor %s has no valid size", what, dg);
	snprintf(d->media_type, sizeof d->media_type, "%s", mt ? mt : "");
	digest_format(&dd, d->digest);
	d->size = json_object_get_int64(size);
	return 0;
}

static int schema_check(json_object *o, const char *what, struct oci_error *err)
{
	json_object *v;
	if (!json_object_object_get_ex(o, "schemaVersion", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int(v) != 2)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: schemaVersion is not 2", what);
	return 0;
}

/* An array at key with at most max entries (absent: empty). */
static int json_array(json_object *o, const char *key, size_t max, const char *what,
		      json_object **ret, size_t *ret_n, struct oci_error *err)
{
	json_object *a;
	*ret = NULL;
	*ret_n = 0;
	if (!json_object_object_get_ex(o, key, &a) || json_object_is_type(a, json_type_null))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "%s: %s is not an array",
				what, key);
	size_t n = json_object_array_length(a);
	if (n > max)
		return oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
				"%s: %zu entries in %s, over the cap of %zu", what, n, key, max);
	*ret = a;
	*ret_n = n;
	return 0;
}

static char *dup_or_null(const char *s, int *r)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*r = -ENOMEM;
	return d;
}

static int index_entry_parse(json_object *o, struct oci_index_entry *e, struct oci_error *err)
{
	int r = descriptor_parse(o, &e->d, OCI_INDEX_FILE, err);
	if (r < 0)
		return r;
	json_object *ann, *plat;
	bool bad = false;
	if (json_object_object_get_ex(o, "annotations", &ann) &&
	    json_object_is_type(ann, json_type_object)) {
		e->ref_name = dup_or_null(json_text(ann, OCI_ANN_REF_NAME, REF_INPUT_MAX, &bad), &r);
		e->image_name = dup_or_null(json_text(ann, OCI_ANN_CTRD_NAME, REF_INPUT_MAX, &bad), &r);
	}
	if (json_object_object_get_ex(o, "platform", &plat) &&
	    json_object_is_type(plat, json_type_object)) {
		struct registry_platform *p = &e->platform;
		const char *os = json_text(plat, "os", sizeof p->os, &bad);
		const char *arch = json_text(plat, "architecture", sizeof p->architecture, &bad);
		const char *var = json_text(plat, "variant", sizeof p->variant, &bad);
		snprintf(p->os, sizeof p->os, "%s", os ? os : "");
		snprintf(p->architecture, sizeof p->architecture, "%s", arch ? arch : "");
		snprintf(p->variant, sizeof p->variant, "%s", var ? var : "");
		e->has_platform = true;
	}
	if (r < 0)
		return oci_fail(err, CRISP_STATUS_INTERNAL, r, "out of memory");
	if (bad)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: entry %s has a malformed annotation or platform",
				OCI_INDEX_FILE, e->d.digest);
	return 0;
}

int oci_index_parse(const char *buf, size_t len, struct oci_index *ret, struct oci_error *err)
{
	json_object *root, *arr;
	size_t n;
	struct oci_index idx = { 0 };
	int r = json_parse_object(buf, len, "image index", &root, err);
	if (r < 0)
		return r;
	bool bad = false;
	const char *mt = json_text(root, "mediaType", sizeof idx.media_type, &bad);
	snprintf(idx.media_type, sizeof idx.media_type, "%s", mt ? mt : REGISTRY_MT_OCI_INDEX);
	if (bad || !oci_is_index_type(idx.media_type)) {
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
			     "image index: media type \"%.100s\" is not an index", mt ? mt : "?");
		goto out;
	}
	if ((r = schema_check(root, "image index", err)) < 0 ||
	    (r = json_array(root, "manifests", OCI_INDEX_ENTRIES_MAX, "image index", &arr, &n,
			    err)) < 0)
		goto out;
	idx.v = calloc(n ? n : 1, sizeof *idx.v);
	if (!idx.v) {
		r = oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		idx.n = i + 1;
		r = index_entry_parse(json_object_array_get_idx(arr, i), &idx.v[i], err);
		if (r < 0)
			goto out;
	}
	*ret = idx;
	idx = (struct oci_index){ 0 };
out:
	oci_index_clear(&idx);
	json_object_put(root);
	return r;
}

void oci_index_clear(struct oci_index *idx)
{
	for (size_t i = 0; idx->v && i < idx->n; i++) {
		free(idx->v[i].ref_name);
		free(idx->v[i].image_name);
	}
	free(idx->v);
	*idx = (struct oci_index){ 0 };
}

const struct oci_index_entry *oci_index_pick(const struct oci_index *idx,
					     const struct registry_platform *p)
{
	const struct oci_index_entry *loose = NULL;
	for (size_t i = 0; i < idx->n; i++) {
		const struct oci_index_entry *e = &idx->v[i];
		if (!e->has_platform || !oci_is_manifest_type(e->d.media_type) ||
		    strcmp(e->platform.os, p->os) || strcmp(e->platform.architecture, p->architecture))
			continue;
		if (!strcmp(e->platform.variant, p->variant))
			return e;
		if (!e->platform.variant[0] || !p->variant[0])
			loose = loose ? loose : e;
	}
	return loose;
}

int oci_manifest_parse(const char *buf, size_t len, struct oci_manifest *ret,
		       struct oci_error *err)
{
	json_object *root, *cfg, *arr;
	size_t n;
	struct oci_manifest m = { 0 };
	bool bad = false;
	int r = json_parse_object(buf, len, "manifest", &root, err);
	if (r < 0)
		return r;
	const char *mt = json_text(root, "mediaType", REGISTRY_MEDIA_TYPE_MAX, &bad);
	if ((r = schema_check(root, "manifest", err)) < 0)
		goto out;
	if (bad || (mt && !oci_is_manifest_type(mt))) {
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
			     "manifest: media type \"%.100s\" is not an image manifest",
			     mt ? mt : "?");
		goto out;
	}
	if (!json_object_object_get_ex(root, "config", &cfg)) {
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "manifest: no config");
		goto out;
	}
	if ((r = descriptor_parse(cfg, &m.config, "manifest config", err)) < 0 ||
	    (r = json_array(root, "layers", REGISTRY_LAYERS_MAX, "manifest", &arr, &n, err)) < 0)
		goto out;
	m.layers = calloc(n ? n : 1, sizeof *m.layers);
	if (!m.layers) {
		r = oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		r = descriptor_parse(json_object_array_get_idx(arr, i), &m.layers[i],
				     "manifest layer", err);
		m.n_layers = i + 1;
	}
	if (r == 0) {
		*ret = m;
		m = (struct oci_manifest){ 0 };
	}
out:
	oci_manifest_clear(&m);
	json_object_put(root);
	return r;
}

void oci_manifest_clear(struct oci_manifest *m)
{
	free(m->layers);
	*m = (struct oci_manifest){ 0 };
}

static int diff_ids_parse(json_object *arr, size_t n, struct oci_config *c, struct oci_error *err)
{
	c->diff_ids = calloc(n ? n : 1, sizeof *c->diff_ids);
	if (!c->diff_ids)
		return oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string) ||
		    digest_parse(json_object_get_string(v), &c->diff_ids[i]) < 0)
			return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
					"config: diff_id %zu is not a sha256 digest", i);
		c->n_diff_ids = i + 1;
	}
	return 0;
}

int oci_config_parse(const char *buf, size_t len, struct oci_config *ret, struct oci_error *err)
{
	json_object *root, *rootfs, *arr, *cfg;
	size_t n;
	struct oci_config c = { 0 };
	bool bad = false;
	int r = json_parse_object(buf, len, "config", &root, err);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(root, "rootfs", &rootfs) ||
	    !json_object_is_type(rootfs, json_type_object)) {
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "config: no rootfs");
		goto out;
	}
	r = json_array(rootfs, "diff_ids", REGISTRY_LAYERS_MAX, "config", &arr, &n, err);
	if (r == 0)
		r = diff_ids_parse(arr, n, &c, err);
	if (r == 0 && json_object_object_get_ex(root, "config", &cfg) &&
	    json_object_is_type(cfg, json_type_object)) {
		const char *user = json_text(cfg, "User", 4096, &bad);
		if (bad)
			r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				     "config: User is not a short printable string");
		else if (user && *user && !(c.user = strdup(user)))
			r = oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	}
	if (r == 0) {
		*ret = c;
		c = (struct oci_config){ 0 };
	}
out:
	oci_config_clear(&c);
	json_object_put(root);
	return r;
}

void oci_config_clear(struct oci_config *c)
{
	free(c->diff_ids);
	free(c->user);
	*c = (struct oci_config){ 0 };
}

int oci_layout_file_check(const char *buf, size_t len, struct oci_error *err)
{
	json_object *root;
	bool bad = false;
	int r = json_parse_object(buf, len, OCI_LAYOUT_FILE, &root, err);
	if (r < 0)
		return r;
	const char *v = json_text(root, "imageLayoutVersion", 64, &bad);
	if (bad || !v || strncmp(v, "1.", 2) != 0)
		r = oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
			     "%s: imageLayoutVersion \"%s\" is not 1.x", OCI_LAYOUT_FILE,
			     v && !bad ? v : "?");
	json_object_put(root);
	return r;
}

static json_object *descriptor_json(const struct oci_index_entry *e)
{
	json_object *o = json_object_new_object(), *ann;
	json_object_object_add(o, "mediaType", json_object_new_string(e->d.media_type));
	json_object_object_add(o, "digest", json_object_new_string(e->d.digest));
	json_object_object_add(o, "size", json_object_new_int64(e->d.size));
	if (e->ref_name || e->image_name) {
		ann = json_object_new_object();
		if (e->image_name)
			json_object_object_add(ann, OCI_ANN_CTRD_NAME,
					       json_object_new_string(e->image_name));
		if (e->ref_name)
			json_object_object_add(ann, OCI_ANN_REF_NAME,
					       json_object_new_string(e->ref_name));
		json_object_object_add(o, "annotations", ann);
	}
	return o;
}

int oci_index_build(const struct oci_index_entry *v, size_t n, char **ret_buf, size_t *ret_len)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	if (!root || !arr) {
		json_object_put(root);
		json_object_put(arr);
		return -ENOMEM;
	}
	json_object_object_add(root, "schemaVersion", json_object_new_int(2));
	json_object_object_add(root, "mediaType", json_object_new_string(REGISTRY_MT_OCI_INDEX));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, descriptor_json(&v[i]));
	json_object_object_add(root, "manifests", arr);
	size_t len;
	const char *s = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	char *buf = s ? strndup(s, len) : NULL;
	json_object_put(root);
	if (!buf)
		return -ENOMEM;
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}
