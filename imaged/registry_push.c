/*
 * registry_push: sending an image to a registry (the OCI distribution
 * spec's push): blob existence checks (HEAD), uploads (POST to start one,
 * then a monolithic PUT ?digest= or PATCH chunks with Content-Range and a
 * closing PUT), and the manifest PUT. A push session is a pull session
 * (registry_client.c) without the mirrors, with the push scope; requests go
 * through the same auth (registry_auth.c) and transport (registry_http.c).
 * An upload Location on another origin than the registry's gets no
 * Authorization and no https -> http downgrade. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "imaged/registry_int.h"

#define PUSH_BODY_MAX (64u * 1024u)     /* an answer's body we keep */
#define PUSH_OCTETS "application/octet-stream"

int registry_push_open(struct registry_client *c, const struct image_ref *ref,
		       const struct registry_pull_options *o, struct registry_session **ret,
		       struct registry_error *err)
{
	struct registry_session *s;
	int r = registry_session_open(c, ref, o, &s, err);
	if (r < 0)
		return r;
	snprintf(s->scope, sizeof s->scope, "repository:%s:pull,push", ref->path);
	size_t n = 0;
	for (size_t i = 0; i < s->n_ep; i++) {
		if (s->ep[i].mirror) {
			reg_creds_clear(&s->ep[i].creds);
			reg_free_secret(s->ep[i].authz);
			continue;
		}
		if (n != i)
			s->ep[n] = s->ep[i];
		n++;
	}
	for (size_t i = n; i < s->n_ep; i++)
		s->ep[i] = (struct reg_endpoint){ 0 };
	s->n_ep = n;
	s->ep_first = 0;
	*ret = s;
	return 0;
}

static bool creds_given(const struct reg_creds *cr)
{
	return cr->username || cr->identity_token || cr->registry_token;
}

/* An answer that is not what we wanted, as an error. */
static int status_error(struct registry_session *s, size_t i, const struct reg_http_resp *rs,
			const char *what, struct registry_error *err)
{
	if (rs->status == 401 && creds_given(&s->ep[i].creds))
		return reg_fail(err, CRISP_STATUS_UNAUTHENTICATED, -EACCES,
				"%s: the registry refused the credentials (401)", what);
	return reg_http_status_error(rs, what, err);
}

/* rq at <base>/v2/<path>/<tail> on the registry's endpoints: the one that
 * served the last request first; the http fallback only after its https
 * could not be reached. Any HTTP answer is returned (the caller judges). */
static int push_request(struct registry_session *s, const char *tail, struct reg_http_req *rq,
			struct reg_http_resp *rs, size_t *ret_ep, struct registry_error *err)
{
	char url[REGISTRY_URL_MAX];
	bool unreachable[REG_ENDPOINTS_MAX] = { false };
	pthread_mutex_lock(&s->lock);
	size_t first = s->ep_first < s->n_ep ? s->ep_first : 0;
	pthread_mutex_unlock(&s->lock);
	int r = reg_fail(err, CRISP_STATUS_UNAVAILABLE, -EHOSTUNREACH, "no registry endpoint");
	for (size_t k = 0; k < s->n_ep; k++) {
		size_t i = (first + k) % s->n_ep;
		struct reg_endpoint *ep = &s->ep[i];
		if (ep->fallback && i != first && (i == 0 || !unreachable[i - 1]))
			continue;
		int n = snprintf(url, sizeof url, "%s/v2/%s/%s", ep->base, s->ref.path, tail);
		if (n < 0 || (size_t)n >= sizeof url)
			return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "URL too long");
		rq->url = url;
		rq->tls_verify = ep->tls_verify;
		rq->ca_file = ep->ca_file;
		reg_http_resp_clear(rs);
		r = reg_auth_request(s, i, rq, rs, err);
		rq->url = NULL;
		if (r == 0) {
			pthread_mutex_lock(&s->lock);
			s->ep_first = i;
			pthread_mutex_unlock(&s->lock);
			*ret_ep = i;
			return 0;
		}
		unreachable[i] = r == -EHOSTUNREACH;
		if (!unreachable[i])
			break;
	}
	return r;
}

/* loc (absolute or relative to endpoint i's base) with "digest=" added
 * when digest is not NULL. */
static int location_resolve(const struct reg_endpoint *ep, const char *loc, const char *digest,
			    char *out, size_t len)
{
	CURLU *u = curl_url();
	char *s = NULL, q[DIGEST_STR_SIZE + 16];
	int r = -EPROTO;
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, ep->base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, loc, 0) == CURLUE_OK) {
		snprintf(q, sizeof q, "digest=%s", digest ? digest : "");
		if (!digest || curl_url_set(u, CURLUPART_QUERY, q,
					    CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK)
			if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK && strlen(s) < len) {
				snprintf(out, len, "%s", s);
				r = 0;
			}
	}
	curl_free(s);
	curl_url_cleanup(u);
	return r;
}

/* rq at an upload Location (absolute). Credentials only go to the
 * registry's own origin. */
static int upload_request(struct registry_session *s, size_t i, const char *url,
			  struct reg_http_req *rq, struct reg_http_resp *rs, struct registry_error *err)
{
	const struct reg_endpoint *ep = &s->ep[i];
	struct reg_origin eo, lo;
	char u[REGISTRY_URL_MAX];
	reg_url_redact(url, u, sizeof u);
	if (reg_url_origin(url, &lo) < 0 || reg_url_origin(ep->base, &eo) < 0)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"the upload location %s is not an http(s) URL", u);
	rq->url = url;
	reg_http_resp_clear(rs);
	if (!strcmp(lo.scheme, eo.scheme) && !strcmp(lo.host, eo.host) && !strcmp(lo.port, eo.port)) {
		rq->tls_verify = ep->tls_verify;
		rq->ca_file = ep->ca_file;
		return reg_auth_request(s, i, rq, rs, err);
	}
	if (!strcmp(eo.scheme, "https") && !strcmp(lo.scheme, "http") &&
	    !reg_authority_is_loopback(lo.host))
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"refusing an upload location on plain http: %s", u);
	rq->tls_verify = !reg_authority_is_loopback(lo.host);
	rq->ca_file = NULL;
	rq->authz = NULL;
	return reg_http_do(s, rq, rs, err);
}

int registry_blob_exists(struct registry_session *s, const struct registry_descriptor *d,
			 struct registry_error *err)
{
	char tail[DIGEST_STR_SIZE + 8], what[DIGEST_STR_SIZE + REF_NAME_MAX + 32], name[REF_NAME_MAX + 1];
	struct reg_http_req rq = { .method = "HEAD", .max_body = UINT64_MAX };
	struct reg_http_resp rs = { .content_length = -1 };
	size_t i = 0;
	if (!digest_valid(d->digest))
		return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "bad blob digest");
	image_ref_name(&s->ref, name, sizeof name);
	snprintf(what, sizeof what, "blob %s in %s", d->digest, name);
	snprintf(tail, sizeof tail, "blobs/%s", d->digest);
	int r = push_request(s, tail, &rq, &rs, &i, err);
	if (r == 0 && rs.status >= 200 && rs.status < 300)
		r = 1;
	else if (r == 0 && rs.status != 404)
		r = status_error(s, i, &rs, what, err);
	reg_http_resp_clear(&rs);
	return r;
}

/* PUT/PATCH part of the blob to loc; loc gets the next Location. */
static int upload_part(struct registry_session *s, size_t i, char *loc, size_t loc_len,
		       const struct reg_http_body *body, const char *method, const char *digest,
		       const char *what, struct registry_error *err)
{
	char url[REGISTRY_URL_MAX], range[64];
	struct reg_http_req rq = { .method = method, .body = body, .content_type = PUSH_OCTETS,
				   .max_body = PUSH_BODY_MAX };
	struct reg_http_resp rs = { .content_length = -1 };
	bool put = !strcmp(method, "PUT");
	if (!put && body->len) {
		snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)body->offset,
			 (unsigned long long)(body->offset + body->len - 1));
		rq.content_range = range;
	}
	int r = location_resolve(&s->ep[i], loc, put ? digest : NULL, url, sizeof url);
	if (r < 0)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: the registry gave no usable upload location", what);
	r = upload_request(s, i, url, &rq, &rs, err);
	if (r == 0 && rs.status != (put ? 201 : 202))
		r = status_error(s, i, &rs, what, err);
	if (r == 0 && put && rs.docker_digest[0] && strcmp(rs.docker_digest, digest) != 0)
		r = reg_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG,
			     "%s: the registry stored it as %.80s", what, rs.docker_digest);
	if (r == 0 && !put) {
		if (!rs.location[0])
			r = reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				     "%s: a chunk was taken without a Location for the next", what);
		else
			snprintf(loc, loc_len, "%s", rs.location);
	}
	reg_http_resp_clear(&rs);
	return r;
}

static int upload(struct registry_session *s, const struct registry_descriptor *d, int fd,
		  uint64_t chunk, const char *what, struct registry_error *err)
{
	char loc[REGISTRY_URL_MAX];
	struct reg_http_req rq = { .method = "POST", .max_body = PUSH_BODY_MAX };
	struct reg_http_resp rs = { .content_length = -1 };
	size_t i = 0;
	int r = push_request(s, "blobs/uploads/", &rq, &rs, &i, err);
	if (r == 0 && rs.status != 202)
		r = status_error(s, i, &rs, what, err);
	if (r == 0 && !rs.location[0])
		r = reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
			     "%s: the registry started an upload without a Location", what);
	if (r == 0)
		snprintf(loc, sizeof loc, "%s", rs.location);
	reg_http_resp_clear(&rs);
	uint64_t size = (uint64_t)d->size, off = 0;
	if (r == 0 && size <= chunk) {
		struct reg_http_body b = { .fd = fd, .len = size };
		return upload_part(s, i, loc, sizeof loc, &b, "PUT", d->digest, what, err);
	}
	while (r == 0 && off < size) {
		struct reg_http_body b = { .fd = fd, .offset = off,
					   .len = size - off < chunk ? size - off : chunk };
		r = upload_part(s, i, loc, sizeof loc, &b, "PATCH", NULL, what, err);
		off += b.len;
	}
	if (r == 0) {
		struct reg_http_body end = { .buf = "", .len = 0 };
		r = upload_part(s, i, loc, sizeof loc, &end, "PUT", d->digest, what, err);
	}
	return r;
}

int registry_push_blob(struct registry_session *s, const struct registry_descriptor *d, int fd,
		       uint64_t chunk_size, bool *ret_sent, struct registry_error *err)
{
	char what[DIGEST_STR_SIZE + REF_NAME_MAX + 32], name[REF_NAME_MAX + 1];
	if (d->size < 0)
		return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "blob without a size");
	int r = registry_blob_exists(s, d, err);
	if (r < 0)
		return r;
	if (ret_sent)
		*ret_sent = r == 0;
	if (r == 1)
		return 0;
	image_ref_name(&s->ref, name, sizeof name);
	snprintf(what, sizeof what, "uploading blob %s to %s", d->digest, name);
	return upload(s, d, fd, chunk_size ? chunk_size : REGISTRY_PUSH_CHUNK, what, err);
}

int registry_push_manifest(struct registry_session *s, const char *media_type, const void *raw,
			   size_t len, char ret_digest[DIGEST_STR_SIZE], struct registry_error *err)
{
	char digest[DIGEST_STR_SIZE], tail[REF_TAG_MAX + DIGEST_STR_SIZE + 16];
	char what[REF_STRING_MAX + 32], ref[REF_STRING_MAX];
	struct digest dg;
	struct reg_http_body b = { .buf = raw, .len = len };
	struct reg_http_req rq = { .method = "PUT", .body = &b, .content_type = media_type,
				   .max_body = PUSH_BODY_MAX };
	struct reg_http_resp rs = { .content_length = -1 };
	size_t i = 0;
	if (digest_buf(raw, len, &dg) < 0)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "hashing the manifest");
	digest_format(&dg, digest);
	image_ref_string(&s->ref, ref, sizeof ref);
	snprintf(what, sizeof what, "manifest %s", ref);
	if (s->ref.digest[0] && strcmp(s->ref.digest, digest) != 0)
		return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"%s: the manifest's digest is %s", what, digest);
	snprintf(tail, sizeof tail, "manifests/%s", s->ref.tag[0] ? s->ref.tag : digest);
	int r = push_request(s, tail, &rq, &rs, &i, err);
	if (r == 0 && rs.status != 201 && rs.status != 200)
		r = status_error(s, i, &rs, what, err);
	if (r == 0 && rs.docker_digest[0] && strcmp(rs.docker_digest, digest) != 0)
		r = reg_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG,
			     "%s: the registry stored it as %.80s", what, rs.docker_digest);
	reg_http_resp_clear(&rs);
	if (r == 0)
		snprintf(ret_digest, DIGEST_STR_SIZE, "%s", digest);
	return r;
}
