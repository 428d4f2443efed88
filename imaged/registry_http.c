/*
 * registry_http: one request on one URL for the registry client. Owns the
 * curl easy handle's options, the response headers the client needs,
 * redirects (at most max_redirects; the Authorization header is dropped
 * when a redirect leaves the origin, and an https -> http redirect is
 * refused unless it goes to loopback), retries with backoff on 429, 5xx and
 * connections cut mid-transfer (Retry-After honoured up to retry_max_ms; a
 * streamed body resumes after the bytes its sink already has, with a Range
 * request, or by skipping them when the server ignores Range), the body cap
 * (Content-Length and the bytes that arrive), and stopping a transfer on the
 * cancel flag, the deadline, or a stall (xferinfo callback). For a push it
 * also sends a body (HEAD, POST, PUT, PATCH; the body is read again from
 * its start on every attempt) and keeps the Location of the answer.
 *
 * Never logs and never sets CURLOPT_VERBOSE (headers carry secrets); a URL
 * in a message loses its query (presigned blob URLs carry signatures).
 * Header lists that held an Authorization are wiped before they are freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "imaged/registry_int.h"

/* One transfer in progress: what the curl callbacks share. */
struct xfer {
	struct registry_session *s;
	struct reg_http_req *rq;
	struct reg_http_resp *rs;
	long status;                    /* of the response being read */
	uint64_t skip;                  /* bytes of a 200 to drop (already delivered) */
	uint64_t resume_from;           /* the Range we asked for, 0: none */
	int64_t range_start;            /* from Content-Range, -1: none */
	int64_t retry_after_ms;         /* -1: none */
	size_t body_cap;                /* allocated bytes of rs->body */
	int abort_errno;                /* why a callback stopped the transfer */
	const char *abort_why;
	int64_t last_progress_ms;
	curl_off_t last_dl, last_ul;
	uint64_t sent;                  /* bytes of rq->body sent in this attempt */
};

static bool is_2xx(long st)
{
	return st >= 200 && st < 300;
}

static bool is_redirect(long st)
{
	return st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
}

static void xfer_stop(struct xfer *x, int errnum, const char *why)
{
	if (x->abort_errno == 0) {
		x->abort_errno = errnum;
		x->abort_why = why;
	}
}

/* A new status line: forget the previous response (a redirect, a 401). */
static void response_begin(struct xfer *x, const char *line)
{
	const char *sp = strchr(line, ' ');
	x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
	x->rs->status = x->status;
	x->rs->body_len = 0;
	x->rs->content_type[0] = '\0';
	x->rs->docker_digest[0] = '\0';
	x->rs->location[0] = '\0';
	x->rs->content_length = -1;
	free(x->rs->www_authenticate);
	x->rs->www_authenticate = NULL;
	x->range_start = -1;
	x->retry_after_ms = -1;
	x->skip = 0;
}

static void copy_value(char *dst, size_t dlen, const char *v, size_t vlen)
{
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (vlen >= dlen)
		vlen = dlen - 1;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
}

static void add_www_authenticate(struct xfer *x, const char *v, size_t vlen)
{
	char *old = x->rs->www_authenticate;
	size_t ol = old ? strlen(old) : 0;
	if (ol + vlen + 3 > REG_HEADER_MAX)
		return;
	char *n = realloc(old, ol + vlen + 3);
	if (!n)
		return;
	if (ol) {
		memcpy(n + ol, ", ", 2);
		ol += 2;
	}
	copy_value(n + ol, vlen + 1, v, vlen);
	x->rs->www_authenticate = n;
}

static int64_t parse_retry_after(const char *v)
{
	char *end;
	long long sec = strtoll(v, &end, 10);
	if (end != v && sec >= 0)
		return sec > 86400 ? 86400000 : sec * 1000;
	time_t t = curl_getdate(v, NULL);
	if (t < 0)
		return -1;
	time_t now = time(NULL);
	return t > now ? (int64_t)(t - now) * 1000 : 0;
}

static void header_field(struct xfer *x, const char *b, size_t len)
{
	const char *colon = memchr(b, ':', len);
	if (!colon)
		return;
	size_t nl = (size_t)(colon - b);
	const char *v = colon + 1;
	size_t vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	char tmp[128];
	struct reg_http_resp *rs = x->rs;
	if (nl == 12 && strncasecmp(b, "Content-Type", nl) == 0)
		copy_value(rs->content_type, sizeof rs->content_type, v, vl);
	else if (nl == 21 && strncasecmp(b, "Docker-Content-Digest", nl) == 0)
		copy_value(rs->docker_digest, sizeof rs->docker_digest, v, vl);
	else if (nl == 16 && strncasecmp(b, "WWW-Authenticate", nl) == 0)
		add_www_authenticate(x, v, vl);
	else if (nl == 8 && strncasecmp(b, "Location", nl) == 0)
		copy_value(rs->location, sizeof rs->location, v, vl);
	else if (nl == 14 && strncasecmp(b, "Content-Length", nl) == 0) {
		copy_value(tmp, sizeof tmp, v, vl);
		char *end;
		long long cl = strtoll(tmp, &end, 10);
		rs->content_length = (end != tmp && *end == '\0' && cl >= 0) ? cl : -1;
	} else if (nl == 11 && strncasecmp(b, "Retry-After", nl) == 0) {
		copy_value(tmp, sizeof tmp, v, vl);
		x->retry_after_ms = parse_retry_after(tmp);
	} else if (nl == 13 && strncasecmp(b, "Content-Range", nl) == 0) {
		copy_value(tmp, sizeof tmp, v, vl);
		long long start;
		if (sscanf(tmp, "bytes %lld-", &start) == 1 && start >= 0)
			x->range_start = start;
	}
}

/* The headers of a 2xx are complete: check them against the cap and the
 * Range we asked for. false stops the transfer. */
static bool headers_done(struct xfer *x)
{
	struct reg_http_req *rq = x->rq;
	int64_t cl = x->rs->content_length;
	if (!is_2xx(x->status))
		return true;
	if (x->status == 206) {
		if (x->resume_from == 0 || x->range_start != (int64_t)x->resume_from) {
			xfer_stop(x, -EPROTO, "a partial answer to a request that asked for another range");
			return false;
		}
	} else {
		x->skip = x->resume_from;       /* the server sent it all again */
		if (x->resume_from && cl >= 0 && (uint64_t)cl < x->resume_from) {
			xfer_stop(x, -EBADMSG, "the body got shorter between two attempts");
			return false;
		}
	}
	uint64_t total = x->status == 206 ? x->resume_from + (uint64_t)(cl < 0 ? 0 : cl) :
			 (uint64_t)(cl < 0 ? 0 : cl);
	if (cl >= 0 && total > rq->max_body) {
		xfer_stop(x, -EFBIG, "Content-Length is over the size cap");
		return false;
	}
	return true;
}

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	if (len >= 5 && strncmp(b, "HTTP/", 5) == 0) {
		char line[64];
		copy_value(line, sizeof line, b, len);
		response_begin(x, line);
	} else if (len <= 2) {
		if (!headers_done(x))
			return 0;
	} else {
		header_field(x, b, len);
	}
	return len;
}

/* Appends to rs->body, up to cap bytes; false if it does not fit. */
static bool body_append(struct xfer *x, const char *b, size_t len, size_t cap)
{
	struct reg_http_resp *rs = x->rs;
	if (rs->body_len + len > cap)
		return false;
	if (rs->body_len + len + 1 > x->body_cap) {
		size_t want = x->body_cap ? x->body_cap : 16384;
		while (want < rs->body_len + len + 1)
			want *= 2;
		char *nb = realloc(rs->body, want);
		if (!nb)
			return false;
		rs->body = nb;
		x->body_cap = want;
	}
	memcpy(rs->body + rs->body_len, b, len);
	rs->body_len += len;
	rs->body[rs->body_len] = '\0';
	return true;
}

static size_t on_body(char *b, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	struct reg_http_req *rq = x->rq;
	size_t len = size * n, all = len;
	if (!is_2xx(x->status)) {
		if (!is_redirect(x->status))
			body_append(x, b, len, REG_ERRBODY_MAX);       /* the rest is dropped */
		return all;
	}
	if (x->skip) {
		size_t k = x->skip < len ? (size_t)x->skip : len;
		x->skip -= k;
		b += k;
		len -= k;
	}
	if (len == 0)
		return all;
	if (rq->delivered + len > rq->max_body) {
		xfer_stop(x, -EFBIG, "the body is over the size cap");
		return 0;
	}
	if (rq->sink) {
		int r = rq->sink(rq->sink_ud, b, len);
		if (r < 0) {
			x->rs->sink_error = r;
			xfer_stop(x, r, "sink");
			return 0;
		}
	} else if (!body_append(x, b, len, SIZE_MAX)) {
		xfer_stop(x, -ENOMEM, "out of memory");
		return 0;
	}
	rq->delivered += len;
	return all;
}

/* The request body (push), from memory or by pread from its fd. */
static size_t on_upload(char *buf, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	const struct reg_http_body *b = x->rq->body;
	size_t want = size * n;
	if (b->len - x->sent < want)
		want = (size_t)(b->len - x->sent);
	if (want == 0)
		return 0;
	if (b->buf) {
		memcpy(buf, (const char *)b->buf + x->sent, want);
	} else {
		ssize_t got;
		do
			got = pread(b->fd, buf, want, (off_t)(b->offset + x->sent));
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			xfer_stop(x, -EIO, "reading the data to send failed");
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	}
	x->sent += want;
	return want;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = ud;
	struct registry_session *s = x->s;
	int64_t now = reg_now_ms();
	if (s->cancel && atomic_load(s->cancel)) {
		xfer_stop(x, -ECANCELED, "cancelled");
		return 1;
	}
	if (s->deadline_ms && now >= s->deadline_ms) {
		xfer_stop(x, -ETIMEDOUT, "deadline");
		return 1;
	}
	if (dlnow != x->last_dl || ulnow != x->last_ul) {
		x->last_dl = dlnow;
		x->last_ul = ulnow;
		x->last_progress_ms = now;
	} else if (s->c->opt.stall_timeout_ms &&
		   now - x->last_progress_ms >= (int64_t)s->c->opt.stall_timeout_ms) {
		xfer_stop(x, -ETIMEDOUT, "stall");
		return 1;
	}
	return 0;
}

static void headers_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static int header_add(struct curl_slist **l, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;
	char *h = malloc(n);
	if (!h)
		return -ENOMEM;
	snprintf(h, n, "%s: %s", name, value);
	struct curl_slist *nl = curl_slist_append(*l, h);
	explicit_bzero(h, n);
	free(h);
	if (!nl)
		return -ENOMEM;
	*l = nl;
	return 0;
}

struct target {
	char url[REGISTRY_URL_MAX];
	const char *authz;
	bool tls_verify;
	const char *ca_file;
};

static int build_headers(const struct xfer *x, const struct target *t, struct curl_slist **ret)
{
	struct curl_slist *l = NULL;
	char range[64];
	int r = 0;
	if (x->rq->accept)
		r = header_add(&l, "Accept", x->rq->accept);
	if (r == 0 && t->authz)
		r = header_add(&l, "Authorization", t->authz);
	if (r == 0 && x->rq->content_type)
		r = header_add(&l, "Content-Type", x->rq->content_type);
	if (r == 0 && x->rq->content_range)
		r = header_add(&l, "Content-Range", x->rq->content_range);
	if (r == 0 && x->rq->body) {
		struct curl_slist *nl = curl_slist_append(l, "Expect:");  /* no 100-continue */
		r = nl ? 0 : -ENOMEM;
		l = nl ? nl : l;
	}
	if (r == 0 && x->resume_from) {
		snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)x->resume_from);
		r = header_add(&l, "Range", range);
	}
	if (r < 0) {
		headers_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

#define SET(opt, val) do { if (e == CURLE_OK) e = curl_easy_setopt(h, opt, val); } while (0)
static int handle_setup(CURL *h, struct xfer *x, const struct target *t, struct curl_slist *hdrs,
			char *errbuf)
{
	const struct registry_client *c = x->s->c;
	CURLcode e = CURLE_OK;
	SET(CURLOPT_URL, t->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->opt.connect_timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, t->tls_verify ? 1L : 0L);
	SET(CURLOPT_SSL_VERIFYHOST, t->tls_verify ? 2L : 0L);
	if (t->ca_file)
		SET(CURLOPT_CAINFO, t->ca_file);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, x);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_SHARE, c->share);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_BUFFERSIZE, 128L * 1024L);
	const char *method = x->rq->method ? x->rq->method : "GET";
	if (x->rq->body) {
		SET(CURLOPT_UPLOAD, 1L);
		SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->rq->body->len);
		SET(CURLOPT_READFUNCTION, on_upload);
		SET(CURLOPT_READDATA, x);
		if (strcmp(method, "PUT") != 0)
			SET(CURLOPT_CUSTOMREQUEST, method);
	} else if (x->rq->post_fields) {
		SET(CURLOPT_POSTFIELDS, x->rq->post_fields);
	} else if (strcmp(method, "POST") == 0) {
		SET(CURLOPT_POSTFIELDSIZE, 0L);
		SET(CURLOPT_POSTFIELDS, "");
	} else if (strcmp(method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		SET(CURLOPT_HTTPGET, 1L);
	}
	return e == CURLE_OK ? 0 : -EINVAL;
}
#undef SET

static bool transport_retryable(CURLcode e)
{
	switch (e) {
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* The sink refused data: its errno comes back as is. */
static int sink_error(int errnum, const char *u, struct registry_error *err)
{
	int code = errnum == -EBADMSG ? CRISP_STATUS_DATA_LOSS :
		   errnum == -EFBIG || errnum == -ENOSPC ? CRISP_STATUS_RESOURCE_EXHAUSTED :
		   errnum == -ECANCELED ? CRISP_STATUS_CANCELLED : CRISP_STATUS_INTERNAL;
	return reg_fail(err, code, errnum, "%s: storing the data failed: %s", u, strerror(-errnum));
}

/* A transfer that did not end with a whole response, as an error. */
static int transport_error(const struct xfer *x, CURLcode e, const char *errbuf,
			   const char *url, struct registry_error *err)
{
	const struct registry_client *c = x->s->c;
	char u[REGISTRY_URL_MAX];
	reg_url_redact(url, u, sizeof u);
	if (x->rs->sink_error)
		return sink_error(x->rs->sink_error, u, err);
	switch (x->abort_errno) {
	case 0:
		break;
	case -ECANCELED:
		return reg_fail(err, CRISP_STATUS_CANCELLED, -ECANCELED, "%s: cancelled", u);
	case -ETIMEDOUT:
		if (strcmp(x->abort_why, "stall") == 0)
			return reg_fail(err, CRISP_STATUS_DEADLINE_EXCEEDED, -ETIMEDOUT,
					"%s: no progress for %u ms", u, c->opt.stall_timeout_ms);
		return reg_fail(err, CRISP_STATUS_DEADLINE_EXCEEDED, -ETIMEDOUT,
				"%s: the pull's deadline passed", u);
	case -EFBIG:
		return reg_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
				"%s: %s (%llu bytes)", u, x->abort_why,
				(unsigned long long)x->rq->max_body);
	case -EPROTO:
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO, "%s: %s", u,
				x->abort_why);
	case -EBADMSG:
		return reg_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG, "%s: %s", u, x->abort_why);
	case -EIO:
		return reg_fail(err, CRISP_STATUS_INTERNAL, -EIO, "%s: %s", u, x->abort_why);
	default:
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "%s: out of memory", u);
	}
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(e);
	if (e == CURLE_OUT_OF_MEMORY)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "%s: out of memory", u);
	if (transport_retryable(e) && x->status != 0)
		return reg_fail(err, CRISP_STATUS_UNAVAILABLE, -ECONNRESET,
				"%s: connection lost: %s", u, detail);
	return reg_fail(err, CRISP_STATUS_UNAVAILABLE, -EHOSTUNREACH, "%s: %s", u, detail);
}

enum outcome {
	OUT_DONE,               /* a response to hand back */
	OUT_REDIRECT,
	OUT_RETRY_STATUS,       /* 429/5xx: retry, or hand it back when out of retries */
	OUT_RETRY_TRANSPORT,    /* cut connection: retry, or fail with *err */
};

static bool status_retryable(long st)
{
	return st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

/* One exchange on t->url. Returns an outcome (with the Location of a
 * redirect in ret_location), or a negative errno. The handle keeps no
 * pointer to this call's memory when it returns. */
static int attempt_once(struct registry_session *s, CURL *h, struct reg_http_req *rq,
			struct reg_http_resp *rs, const struct target *t, int64_t *ret_delay,
			char ret_location[REGISTRY_URL_MAX], int *ret_fail,
			struct registry_error *err)
{
	struct xfer x = { .s = s, .rq = rq, .rs = rs, .last_dl = -1, .last_ul = -1,
			  .last_progress_ms = reg_now_ms(), .body_cap = rs->body ? rs->body_len + 1 : 0 };
	if (rq->sink)
		x.resume_from = rq->delivered;
	else
		rq->delivered = 0;
	response_begin(&x, "");
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	int r = build_headers(&x, t, &hdrs);
	if (r == 0)
		r = handle_setup(h, &x, t, hdrs, errbuf);
	if (r < 0) {
		headers_free(hdrs);
		return reg_fail(err, CRISP_STATUS_INTERNAL, r, "setting up a request failed");
	}
	CURLcode e = curl_easy_perform(h);
	char *loc = NULL;
	ret_location[0] = '\0';
	if (e == CURLE_OK && is_redirect(rs->status) &&
	    curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
		reg_strlcpy(ret_location, REGISTRY_URL_MAX, loc);
	curl_easy_reset(h);             /* keeps the connection, drops our pointers */
	headers_free(hdrs);
	if (e != CURLE_OK) {
		r = transport_error(&x, e, errbuf, t->url, err);
		if (x.abort_errno == 0 && transport_retryable(e)) {
			*ret_fail = r;
			return OUT_RETRY_TRANSPORT;
		}
		return r;
	}
	*ret_delay = x.retry_after_ms;
	if (is_redirect(rs->status))
		return OUT_REDIRECT;
	if (status_retryable(rs->status))
		return OUT_RETRY_STATUS;
	return OUT_DONE;
}

int reg_url_origin(const char *url, struct reg_origin *ret)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int r = -EPROTO;
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
	    strlen(host) < sizeof ret->host && strlen(port) < sizeof ret->port) {
		snprintf(ret->scheme, sizeof ret->scheme, "%s", scheme);
		snprintf(ret->host, sizeof ret->host, "%s", host);
		snprintf(ret->port, sizeof ret->port, "%s", port);
		r = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

/* Moves t to loc, the Location of redirect number n. */
static int follow_redirect(struct registry_session *s, const char *loc, struct target *t,
			   unsigned n, struct registry_error *err)
{
	char u[REGISTRY_URL_MAX];
	reg_url_redact(t->url, u, sizeof u);
	struct reg_origin from, to;
	if (n > s->c->opt.max_redirects)
		return reg_fail(err, CRISP_STATUS_UNAVAILABLE, -ELOOP,
				"%s: more than %u redirects", u, s->c->opt.max_redirects);
	if (!loc[0] || strlen(loc) + 1 >= sizeof t->url || reg_url_origin(t->url, &from) < 0 ||
	    reg_url_origin(loc, &to) < 0)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: a redirect without a usable http(s) Location", u);
	if (strcmp(from.scheme, "https") == 0 && strcmp(to.scheme, "http") == 0 &&
	    !reg_authority_is_loopback(to.host))
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: refusing a redirect from https to plain http", u);
	if (strcmp(from.scheme, to.scheme) != 0 || strcmp(from.host, to.host) != 0 ||
	    strcmp(from.port, to.port) != 0) {
		t->authz = NULL;
		t->tls_verify = !reg_authority_is_loopback(to.host);
		t->ca_file = NULL;
	}
	snprintf(t->url, sizeof t->url, "%s", loc);
	return 0;
}

/* Waits before retry number `attempt` (1-based): the server's Retry-After
 * if it gave one, else exponential backoff with jitter; both capped. */
static int backoff(struct registry_session *s, unsigned attempt, int64_t hint_ms,
		   struct registry_error *err)
{
	const struct registry_options *o = &s->c->opt;
	int64_t d = hint_ms;
	if (d < 0) {
		unsigned shift = attempt - 1 < 20 ? attempt - 1 : 20;
		d = (int64_t)o->retry_base_ms << shift;
		uint64_t rnd = (uint64_t)reg_now_ms() * 6364136223846793005ULL + (uintptr_t)&d;
		d = d / 2 + (int64_t)((rnd >> 33) % (uint64_t)(d / 2 + 1));
	}
	if (d > (int64_t)o->retry_max_ms)
		d = o->retry_max_ms;
	int64_t end = reg_now_ms() + d;
	if (s->deadline_ms && end >= s->deadline_ms)
		return reg_fail(err, CRISP_STATUS_DEADLINE_EXCEEDED, -ETIMEDOUT,
				"the pull's deadline comes before the next retry (in %lld ms)",
				(long long)d);
	for (int64_t now = reg_now_ms(); now < end; now = reg_now_ms()) {
		if (s->cancel && atomic_load(s->cancel))
			return reg_fail(err, CRISP_STATUS_CANCELLED, -ECANCELED, "cancelled");
		int64_t step = end - now < 50 ? end - now : 50;
		nanosleep(&(struct timespec){ .tv_nsec = step * 1000000L }, NULL);
	}
	return 0;
}

int reg_http_do(struct registry_session *s, struct reg_http_req *rq, struct reg_http_resp *rs,
		struct registry_error *err)
{
	struct target t = { .authz = rq->authz, .tls_verify = rq->tls_verify, .ca_file = rq->ca_file };
	if (strlen(rq->url) >= sizeof t.url)
		return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "URL too long");
	snprintf(t.url, sizeof t.url, "%s", rq->url);
	CURL *h = reg_handle_get(s);
	if (!h)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "no curl handle");
	unsigned retries = 0, redirects = 0;
	char location[REGISTRY_URL_MAX];
	int r;
	for (;;) {
		int64_t delay = -1;
		int fail = 0;
		r = attempt_once(s, h, rq, rs, &t, &delay, location, &fail, err);
		if (r == OUT_REDIRECT) {
			r = follow_redirect(s, location, &t, ++redirects, err);
			if (r < 0)
				break;
			continue;
		}
		if (r != OUT_RETRY_STATUS && r != OUT_RETRY_TRANSPORT)
			break;
		if (retries++ >= s->c->opt.max_retries) {
			r = r == OUT_RETRY_TRANSPORT ? fail : 0;
			break;
		}
		r = backoff(s, retries, delay, err);
		if (r < 0)
			break;
	}
	reg_handle_put(s, h);
	return r < 0 ? r : 0;
}

void reg_http_resp_clear(struct reg_http_resp *rs)
{
	free(rs->body);
	free(rs->www_authenticate);
	*rs = (struct reg_http_resp){ .content_length = -1 };
}

/* Printable ASCII only, at most len-1 bytes of it. */
static void clean_copy(char *dst, size_t len, const char *src)
{
	size_t j = 0;
	for (size_t i = 0; src[i] && j + 1 < len; i++)
		dst[j++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[j] = '\0';
}

void reg_http_error_text(const struct reg_http_resp *rs, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!rs->body || rs->body_len == 0)
		return;
	json_object *root = json_tokener_parse(rs->body), *errs, *e0, *code, *msg;
	if (root && json_object_object_get_ex(root, "errors", &errs) &&
	    json_object_is_type(errs, json_type_array) && json_object_array_length(errs) > 0 &&
	    (e0 = json_object_array_get_idx(errs, 0)) && json_object_is_type(e0, json_type_object)) {
		char c[64] = "", m[200] = "";
		if (json_object_object_get_ex(e0, "code", &code) && json_object_is_type(code, json_type_string))
			clean_copy(c, sizeof c, json_object_get_string(code));
		if (json_object_object_get_ex(e0, "message", &msg) && json_object_is_type(msg, json_type_string))
			clean_copy(m, sizeof m, json_object_get_string(msg));
		snprintf(buf, len, "%s%s%s", c, c[0] && m[0] ? ": " : "", m);
	}
	json_object_put(root);
}

int reg_http_status_error(const struct reg_http_resp *rs, const char *what,
			  struct registry_error *err)
{
	char text[300];
	reg_http_error_text(rs, text, sizeof text);
	const char *sep = text[0] ? " " : "";
	long st = rs->status;
	if (st == 401)
		return reg_fail(err, CRISP_STATUS_UNAUTHENTICATED, -EACCES,
				"%s: authentication required (401)%s%s", what, sep, text);
	if (st == 403)
		return reg_fail(err, CRISP_STATUS_PERMISSION_DENIED, -EPERM,
				"%s: access denied (403)%s%s", what, sep, text);
	if (st == 404)
		return reg_fail(err, CRISP_STATUS_NOT_FOUND, -ENOENT, "%s: not found (404)%s%s",
				what, sep, text);
	if (st == 429)
		return reg_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EBUSY,
				"%s: rate limited by the registry (429)%s%s", what, sep, text);
	if (st >= 500)
		return reg_fail(err, CRISP_STATUS_UNAVAILABLE, -EIO, "%s: registry error %ld%s%s",
				what, st, sep, text);
	return reg_fail(err, CRISP_STATUS_UNKNOWN, -EPROTO, "%s: unexpected HTTP status %ld%s%s",
			what, st, sep, text);
}
