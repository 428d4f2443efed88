/*
 * registry_blob: blobs, streamed to the caller's sink (layers) or read into
 * memory under the manifest cap (configs). Every blob is exactly its
 * descriptor's size (never a byte more reaches the sink) and is hashed here
 * as it streams: a mismatch is DATA_LOSS and the caller drops what it got.
 * Bytes reach the sink once and in order, also across retries and
 * endpoints (registry_http.c resumes after what the sink has).
 * Never logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "imaged/registry_int.h"

struct hashing_sink {
	registry_sink_fn fn;
	void *ud;
	struct digest_ctx *h;
};

static int hashing_sink(void *ud, const void *buf, size_t len)
{
	struct hashing_sink *hs = ud;
	int r = digest_ctx_update(hs->h, buf, len);
	return r < 0 ? r : hs->fn(hs->ud, buf, len);
}

static int descriptor_check(const struct registry_descriptor *d, uint64_t cap, const char *kind,
			    struct registry_error *err)
{
	struct digest dd;
	if (digest_parse(d->digest, &dd) < 0 || d->size < 0)
		return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s descriptor: invalid digest or size", kind);
	if (cap && (uint64_t)d->size > cap)
		return reg_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
				"%s %s: %lld bytes is over the %llu byte cap", kind, d->digest,
				(long long)d->size, (unsigned long long)cap);
	return 0;
}

static int check_result(const struct registry_descriptor *d, uint64_t got, const struct digest *h,
			struct registry_error *err)
{
	char have[DIGEST_STR_SIZE];
	if (got != (uint64_t)d->size)
		return reg_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG,
				"blob %s: %llu bytes, the manifest says %lld", d->digest,
				(unsigned long long)got, (long long)d->size);
	digest_format(h, have);
	if (strcmp(have, d->digest) != 0)
		return reg_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG,
				"blob %s: the registry sent content with digest %s", d->digest, have);
	return 0;
}

int registry_pull_blob(struct registry_session *s, const struct registry_descriptor *d,
		       registry_sink_fn sink, void *userdata, struct registry_error *err)
{
	int r = descriptor_check(d, s->c->opt.max_blob_size, "blob", err);
	if (r < 0)
		return r;
	struct hashing_sink hs = { .fn = sink, .ud = userdata };
	if (digest_ctx_new(&hs.h) < 0)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	struct reg_http_req rq = { .max_body = (uint64_t)d->size, .sink = hashing_sink, .sink_ud = &hs };
	struct reg_http_resp rs = { .content_length = -1 };
	struct digest h;
	r = reg_request(s, "blobs", d->digest, &rq, &rs, err);
	if (r == 0 && digest_ctx_final(hs.h, &h) < 0)
		r = reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "hashing failed");
	if (r == 0)
		r = check_result(d, rq.delivered, &h, err);
	reg_http_resp_clear(&rs);
	digest_ctx_free(hs.h);
	return r;
}

int registry_pull_small_blob(struct registry_session *s, const struct registry_descriptor *d,
			     char **ret_buf, size_t *ret_len, struct registry_error *err)
{
	int r = descriptor_check(d, s->c->opt.max_manifest_size, "config", err);
	if (r < 0)
		return r;
	struct reg_http_req rq = { .max_body = (uint64_t)d->size };
	struct reg_http_resp rs = { .content_length = -1 };
	struct digest h;
	r = reg_request(s, "blobs", d->digest, &rq, &rs, err);
	if (r == 0 && !rs.body && !(rs.body = calloc(1, 1)))
		r = reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	if (r == 0 && digest_buf(rs.body, rs.body_len, &h) < 0)
		r = reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "hashing failed");
	if (r == 0)
		r = check_result(d, rs.body_len, &h, err);
	if (r == 0) {
		*ret_buf = rs.body;
		*ret_len = rs.body_len;
		rs.body = NULL;
	}
	reg_http_resp_clear(&rs);
	return r;
}
