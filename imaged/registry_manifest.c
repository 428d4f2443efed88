/*
 * registry_manifest: fetching what a reference names and reading it.
 * Accepts OCI image manifests and indexes and Docker schema2 manifests
 * and manifest lists (schema1 is refused with a clear message). The bytes
 * are checked before they are read: sha256 equal to the reference's digest
 * (pull by digest), to the index entry's digest and size (a platform's
 * manifest), and to Docker-Content-Digest when the registry sends one;
 * at most max_manifest_size bytes. From an index, the entry for the
 * session's platform (registry_platform.c) is fetched; nested indexes are
 * not followed. Descriptors are checked field by field: digests become
 * file names in the store. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "imaged/registry_int.h"

static const char ACCEPT[] =
	REGISTRY_MT_OCI_INDEX ", " REGISTRY_MT_OCI_MANIFEST ", "
	REGISTRY_MT_DOCKER_LIST ", " REGISTRY_MT_DOCKER_MANIFEST;

enum kind { KIND_MANIFEST, KIND_INDEX };

/* One fetched manifest or index. */
struct raw {
	char *body;
	size_t len;
	char digest[DIGEST_STR_SIZE];
	char media_type[REGISTRY_MEDIA_TYPE_MAX];
	enum kind kind;
	json_object *json;
};

static void raw_clear(struct raw *r)
{
	free(r->body);
	json_object_put(r->json);
	*r = (struct raw){ 0 };
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static bool is_index_type(const char *mt)
{
	return strcmp(mt, REGISTRY_MT_OCI_INDEX) == 0 || strcmp(mt, REGISTRY_MT_DOCKER_LIST) == 0;
}

static bool is_manifest_type(const char *mt)
{
	return strcmp(mt, REGISTRY_MT_OCI_MANIFEST) == 0 || strcmp(mt, REGISTRY_MT_DOCKER_MANIFEST) == 0;
}

/* What the bytes are: their mediaType, else Content-Type, else the shape
 * (OCI lets mediaType out). */
static int raw_classify(struct raw *raw, const char *content_type, const char *what,
			struct registry_error *err)
{
	json_object *v;
	const char *mt = json_str(raw->json, "mediaType");
	char ct[REGISTRY_MEDIA_TYPE_MAX];
	snprintf(ct, sizeof ct, "%.*s", (int)strcspn(content_type, "; "), content_type);
	if (json_object_object_get_ex(raw->json, "schemaVersion", &v) &&
	    json_object_is_type(v, json_type_int) && json_object_get_int(v) == 1)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: Docker schema1 manifests are not supported", what);
	if (!mt && (is_index_type(ct) || is_manifest_type(ct)))
		mt = ct;
	if (!mt && json_object_object_get_ex(raw->json, "manifests", &v))
		mt = REGISTRY_MT_OCI_INDEX;
	if (!mt && json_object_object_get_ex(raw->json, "config", &v))
		mt = REGISTRY_MT_OCI_MANIFEST;
	if (!mt || !(is_index_type(mt) || is_manifest_type(mt)))
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: unsupported manifest media type \"%.100s\"", what,
				mt ? mt : ct[0] ? ct : "(none)");
	snprintf(raw->media_type, sizeof raw->media_type, "%s", mt);
	raw->kind = is_index_type(mt) ? KIND_INDEX : KIND_MANIFEST;
	return 0;
}

/* The bytes against every digest we know they must have. */
static int raw_verify(struct raw *raw, const char *want_digest, int64_t want_size,
		      const char *header_digest, const char *what, struct registry_error *err)
{
	struct digest d;
	if (digest_buf(raw->body, raw->len, &d) < 0)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "hashing failed");
	digest_format(&d, raw->digest);
	if (want_digest && strcmp(want_digest, raw->digest) != 0)
		return reg_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG,
				"%s: the registry sent content with digest %s", what, raw->digest);
	if (want_size >= 0 && (uint64_t)want_size != raw->len)
		return reg_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG,
				"%s: %zu bytes, the index says %lld", what, raw->len, (long long)want_size);
	if (header_digest[0] && strncmp(header_digest, DIGEST_PREFIX, strlen(DIGEST_PREFIX)) == 0 &&
	    strcmp(header_digest, raw->digest) != 0)
		return reg_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG,
				"%s: Docker-Content-Digest says %.80s, the content is %s", what,
				header_digest, raw->digest);
	return 0;
}

/* GET /v2/NAME/manifests/OBJECT. want_digest/want_size: NULL/-1 when not known. */
static int raw_fetch(struct registry_session *s, const char *object, const char *want_digest,
		     int64_t want_size, struct raw *ret, struct registry_error *err)
{
	char what[REF_STRING_MAX + 32], name[REF_STRING_MAX];
	image_ref_name(&s->ref, name, sizeof name);
	snprintf(what, sizeof what, "manifest %s%s%s", name, strchr(object, ':') ? "@" : ":", object);
	uint64_t cap = s->c->opt.max_manifest_size;
	if (want_size > (int64_t)cap)
		return reg_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
				"%s: %lld bytes is over the %llu byte manifest cap", what,
				(long long)want_size, (unsigned long long)cap);
	struct reg_http_req rq = { .accept = ACCEPT, .max_body = want_size >= 0 ? (uint64_t)want_size : cap };
	struct reg_http_resp rs = { .content_length = -1 };
	struct raw raw = { 0 };
	int r = reg_request(s, "manifests", object, &rq, &rs, err);
	if (r < 0)
		goto out;
	raw.body = rs.body ? rs.body : strdup("");
	raw.len = rs.body_len;
	rs.body = NULL;
	r = raw.body ? raw_verify(&raw, want_digest, want_size, rs.docker_digest, what, err) :
		reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	if (r < 0)
		goto out;
	raw.json = json_tokener_parse(raw.body);
	if (!raw.json || !json_object_is_type(raw.json, json_type_object)) {
		r = reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
			     "%s: not a JSON object", what);
		goto out;
	}
	r = raw_classify(&raw, rs.content_type, what, err);
	if (r == 0) {
		*ret = raw;
		raw = (struct raw){ 0 };
	}
out:
	raw_clear(&raw);
	reg_http_resp_clear(&rs);
	return r;
}

/* {"mediaType", "digest", "size"} checked into d. */
static int descriptor_parse(json_object *o, struct registry_descriptor *d, const char *what,
			    struct registry_error *err)
{
	json_object *sz;
	const char *mt = json_str(o, "mediaType"), *dg = json_str(o, "digest");
	struct digest dd;
	if (!json_object_is_type(o, json_type_object) || !mt || !dg ||
	    !json_object_object_get_ex(o, "size", &sz) || !json_object_is_type(sz, json_type_int) ||
	    json_object_get_int64(sz) < 0 || strlen(mt) >= sizeof d->media_type)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: a descriptor without a valid mediaType, digest and size", what);
	int r = digest_parse(dg, &dd);
	if (r == -EOPNOTSUPP)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: digest \"%.80s\": crisp supports sha256 only", what, dg);
	if (r < 0)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: invalid digest \"%.80s\"", what, dg);
	snprintf(d->media_type, sizeof d->media_type, "%s", mt);
	digest_format(&dd, d->digest);
	d->size = json_object_get_int64(sz);
	return 0;
}

static int manifest_read(const struct raw *raw, struct registry_manifest *m, const char *what,
			 struct registry_error *err)
{
	json_object *cfg, *layers;
	if (!json_object_object_get_ex(raw->json, "config", &cfg) ||
	    !json_object_object_get_ex(raw->json, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array))
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: an image manifest needs config and layers", what);
	int r = descriptor_parse(cfg, &m->config, what, err);
	if (r < 0)
		return r;
	if (strcmp(m->config.media_type, "application/vnd.oci.image.config.v1+json") != 0 &&
	    strcmp(m->config.media_type, "application/vnd.docker.container.image.v1+json") != 0)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: not a container image (config media type \"%.100s\")", what,
				m->config.media_type);
	size_t n = json_object_array_length(layers);
	if (n > REGISTRY_LAYERS_MAX)
		return reg_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
				"%s: %zu layers, more than %d", what, n, REGISTRY_LAYERS_MAX);
	m->layers = calloc(n ? n : 1, sizeof *m->layers);
	if (!m->layers)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		r = descriptor_parse(json_object_array_get_idx(layers, i), &m->layers[i], what, err);
		if (r < 0)
			return r;
		m->n_layers = i + 1;
	}
	return 0;
}

static void platform_append(char *buf, size_t len, const char *os, const char *arch,
			    const char *variant)
{
	size_t l = strlen(buf);
	if (l + 1 >= len)
		return;
	snprintf(buf + l, len - l, "%s%.31s/%.31s%s%.31s", l ? ", " : "", os ? os : "?",
		 arch ? arch : "?", variant && *variant ? "/" : "", variant ? variant : "");
}

/* The index entry that fits the session's platform best (the first of
 * equals). */
static int index_pick(const struct registry_session *s, const struct raw *idx,
		      struct registry_descriptor *ret, struct registry_platform *ret_platform,
		      const char *what, struct registry_error *err)
{
	json_object *list, *best_entry = NULL, *best_plat = NULL;
	int best = -1;
	char seen[300] = "";
	if (!json_object_object_get_ex(idx->json, "manifests", &list) ||
	    !json_object_is_type(list, json_type_array))
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: an index without a manifests list", what);
	size_t n = json_object_array_length(list);
	if (n > REGISTRY_LAYERS_MAX)
		return reg_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
				"%s: %zu entries, more than %d", what, n, REGISTRY_LAYERS_MAX);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i), *p;
		const char *mt = json_str(e, "mediaType");
		if (!json_object_is_type(e, json_type_object) || (mt && !is_manifest_type(mt)) ||
		    !json_object_object_get_ex(e, "platform", &p))
			continue;
		const char *os = json_str(p, "os"), *arch = json_str(p, "architecture"),
			   *variant = json_str(p, "variant");
		platform_append(seen, sizeof seen, os, arch, variant);
		int score = reg_platform_score(&s->platform, os, arch, variant);
		if (score > best) {
			best = score;
			best_entry = e;
			best_plat = p;
		}
	}
	const struct registry_platform *w = &s->platform;
	if (!best_entry)
		return reg_fail(err, CRISP_STATUS_NOT_FOUND, -ENOENT,
				"%s: no image for %s/%s%s%s in the index (it has: %s)", what, w->os,
				w->architecture, w->variant[0] ? "/" : "", w->variant,
				seen[0] ? seen : "nothing");
	int r = descriptor_parse(best_entry, ret, what, err);
	if (r < 0)
		return r;
	const char *f[3] = { json_str(best_plat, "os"), json_str(best_plat, "architecture"),
			     json_str(best_plat, "variant") };
	*ret_platform = (struct registry_platform){ 0 };
	snprintf(ret_platform->os, sizeof ret_platform->os, "%s", f[0] ? f[0] : "");
	snprintf(ret_platform->architecture, sizeof ret_platform->architecture, "%s", f[1] ? f[1] : "");
	snprintf(ret_platform->variant, sizeof ret_platform->variant, "%s", f[2] ? f[2] : "");
	return 0;
}

void registry_manifest_free(struct registry_manifest *m)
{
	if (!m)
		return;
	free(m->raw);
	free(m->index_raw);
	free(m->layers);
	free(m);
}

/* Moves an index's bytes into m and fetches the entry for our platform. */
static int resolve_index(struct registry_session *s, struct raw *top, struct raw *ret,
			 struct registry_manifest *m, const char *what, struct registry_error *err)
{
	struct registry_descriptor d;
	m->index_raw = top->body;
	m->index_len = top->len;
	top->body = NULL;
	snprintf(m->index_digest, sizeof m->index_digest, "%s", top->digest);
	snprintf(m->index_media_type, sizeof m->index_media_type, "%s", top->media_type);
	int r = index_pick(s, top, &d, &m->platform, what, err);
	if (r < 0)
		return r;
	r = raw_fetch(s, d.digest, d.digest, d.size, ret, err);
	if (r < 0)
		return r;
	if (ret->kind != KIND_MANIFEST)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: the index entry %s is not an image manifest", what, d.digest);
	return 0;
}

int registry_pull_manifest(struct registry_session *s, struct registry_manifest **ret,
			   struct registry_error *err)
{
	char ref[REF_STRING_MAX], what[REF_STRING_MAX + 16];
	image_ref_string(&s->ref, ref, sizeof ref);
	snprintf(what, sizeof what, "manifest %s", ref);
	struct raw top = { 0 }, child = { 0 }, *img = &top;
	struct registry_manifest *m = calloc(1, sizeof *m);
	if (!m)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	int r = raw_fetch(s, image_ref_object(&s->ref), s->ref.digest[0] ? s->ref.digest : NULL,
			  -1, &top, err);
	if (r == 0 && top.kind == KIND_INDEX) {
		r = resolve_index(s, &top, &child, m, what, err);
		img = &child;
	}
	if (r == 0)
		r = manifest_read(img, m, what, err);
	if (r == 0) {
		m->raw = img->body;
		m->raw_len = img->len;
		img->body = NULL;
		snprintf(m->digest, sizeof m->digest, "%s", img->digest);
		snprintf(m->media_type, sizeof m->media_type, "%s", img->media_type);
		*ret = m;
		m = NULL;
	}
	raw_clear(&top);
	raw_clear(&child);
	registry_manifest_free(m);
	return r;
}
