/*
 * registry_auth: one request on one endpoint, authorised the way the
 * registry asks. A request first goes with what the session already has
 * for the endpoint (a token from an earlier answer, the request's
 * registry_token, or a cached token); on 401 the WWW-Authenticate
 * challenge is parsed (RFC 7235) and answered once: Basic with the
 * endpoint's username/password, or Bearer with a token from the realm
 * (GET realm?service=&scope=repository:NAME:pull with Basic credentials or
 * none; POST grant_type=refresh_token when there is an identity token).
 * Tokens are cached per client by sha256(endpoint, scope, credentials)
 * until expires_in (default 60 s, as the token spec says) less a margin.
 *
 * Never logs; never sends credentials to a plain-http realm that is not on
 * loopback; wipes token answers and Authorization values it frees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <json-c/json.h>
#include "imaged/registry_int.h"

/* ---- WWW-Authenticate -------------------------------------------------- */

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+.^_`|~-", c));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A token or a quoted-string into buf (cut to fit; *ret_cut then true). */
static const char *read_value(const char *p, char *buf, size_t len, bool *ret_cut)
{
	size_t n = 0;
	*ret_cut = false;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (n + 1 < len)
				buf[n++] = *p;
			else
				*ret_cut = true;
		}
		if (*p == '"')
			p++;
	} else {
		for (; tchar(*p) || *p == '/' || *p == ':' || *p == '='; p++) {
			if (n + 1 < len)
				buf[n++] = *p;
			else
				*ret_cut = true;
		}
	}
	buf[n] = '\0';
	return p;
}

static const char *read_token(const char *p, char *buf, size_t len)
{
	size_t n = 0;
	for (; tchar(*p); p++)
		if (n + 1 < len)
			buf[n++] = *p;
	buf[n] = '\0';
	return p;
}

/* The params of one challenge, until the next scheme or the end. */
static const char *read_params(const char *p, struct reg_challenge *ch, bool *ret_bad)
{
	char name[64], value[REGISTRY_URL_MAX];
	for (;;) {
		p = skip_ws(p);
		while (*p == ',' || *p == ' ')
			p++;
		const char *start = p;
		p = skip_ws(read_token(p, name, sizeof name));
		if (*p != '=' || !name[0])
			return start;           /* a new scheme (or the end) */
		bool cut;
		p = skip_ws(read_value(skip_ws(p + 1), value, sizeof value, &cut));
		if (strcasecmp(name, "realm") == 0) {
			*ret_bad |= cut || !reg_strlcpy(ch->realm, sizeof ch->realm, value);
		} else if (strcasecmp(name, "service") == 0) {
			*ret_bad |= cut || !reg_strlcpy(ch->service, sizeof ch->service, value);
		}
		if (*p != ',')
			return p;
	}
}

int reg_challenge_parse(const char *hdr, struct reg_challenge *ret)
{
	struct reg_challenge best = { .scheme = REG_SCHEME_NONE };
	const char *p = hdr ? hdr : "";
	char scheme[32];
	while (*p) {
		p = skip_ws(p);
		while (*p == ',' || *p == ' ')
			p++;
		if (!*p)
			break;
		const char *start = p;
		p = read_token(p, scheme, sizeof scheme);
		if (p == start)
			break;          /* not a token: give up on the rest */
		struct reg_challenge ch = { .scheme = REG_SCHEME_NONE };
		bool bad = false;
		p = read_params(p, &ch, &bad);
		if (strcasecmp(scheme, "Bearer") == 0 && !bad && ch.realm[0])
			ch.scheme = REG_SCHEME_BEARER;
		else if (strcasecmp(scheme, "Basic") == 0 && !bad)
			ch.scheme = REG_SCHEME_BASIC;
		if (ch.scheme > best.scheme)
			best = ch;
	}
	if (best.scheme == REG_SCHEME_NONE)
		return -EPROTO;
	*ret = best;
	return 0;
}

/* ---- the token cache --------------------------------------------------- */

static int token_key(const struct registry_session *s, const struct reg_endpoint *ep,
		     char ret[DIGEST_STR_SIZE])
{
	char buf[REG_AUTHORITY_MAX + REG_SCOPE_MAX + DIGEST_STR_SIZE + 4];
	int n = snprintf(buf, sizeof buf, "%s\n%s\n%s", ep->authority, s->scope, ep->creds.fp);
	struct digest d;
	int r = digest_buf(buf, (size_t)n, &d);
	if (r == 0)
		digest_format(&d, ret);
	return r;
}

static char *token_get(struct registry_client *c, const char *key)
{
	char *v = NULL;
	int64_t now = reg_now_ms();
	pthread_mutex_lock(&c->tokens_lock);
	for (size_t i = 0; i < REG_TOKENS_MAX; i++)
		if (c->tokens[i].value && strcmp(c->tokens[i].key, key) == 0 &&
		    c->tokens[i].expires_ms > now)
			v = strdup(c->tokens[i].value);
	pthread_mutex_unlock(&c->tokens_lock);
	return v;
}

static void token_drop(struct reg_token *t)
{
	reg_free_secret(t->value);
	*t = (struct reg_token){ 0 };
}

/* Replaces the same key, else takes a free or expired slot, else the one
 * that expires first. */
static void token_put(struct registry_client *c, const char *key, const char *value,
		      int64_t expires_ms)
{
	char *v = strdup(value);
	if (!v)
		return;
	int64_t now = reg_now_ms();
	pthread_mutex_lock(&c->tokens_lock);
	struct reg_token *slot = NULL;
	for (size_t i = 0; i < REG_TOKENS_MAX && !slot; i++)
		if (c->tokens[i].value && strcmp(c->tokens[i].key, key) == 0)
			slot = &c->tokens[i];
	for (size_t i = 0; i < REG_TOKENS_MAX && !slot; i++)
		if (!c->tokens[i].value || c->tokens[i].expires_ms <= now)
			slot = &c->tokens[i];
	if (!slot) {
		slot = &c->tokens[0];
		for (size_t i = 1; i < REG_TOKENS_MAX; i++)
			if (c->tokens[i].expires_ms < slot->expires_ms)
				slot = &c->tokens[i];
	}
	token_drop(slot);
	snprintf(slot->key, sizeof slot->key, "%s", key);
	slot->value = v;
	slot->expires_ms = expires_ms;
	pthread_mutex_unlock(&c->tokens_lock);
}

static void token_forget(struct registry_client *c, const char *key)
{
	pthread_mutex_lock(&c->tokens_lock);
	for (size_t i = 0; i < REG_TOKENS_MAX; i++)
		if (c->tokens[i].value && strcmp(c->tokens[i].key, key) == 0)
			token_drop(&c->tokens[i]);
	pthread_mutex_unlock(&c->tokens_lock);
}

void reg_tokens_clear(struct registry_client *c)
{
	for (size_t i = 0; i < REG_TOKENS_MAX; i++)
		token_drop(&c->tokens[i]);
}

/* ---- answering a challenge --------------------------------------------- */

static char *authz_make(const char *scheme, const char *cred)
{
	size_t n = strlen(scheme) + strlen(cred) + 2;
	char *v = malloc(n);
	if (v)
		snprintf(v, n, "%s %s", scheme, cred);
	return v;
}

static char *basic_of(const struct reg_creds *cr)
{
	size_t n = strlen(cr->username) + strlen(cr->password ? cr->password : "") + 2;
	char *up = malloc(n), *b64 = NULL, *v = NULL;
	if (!up)
		return NULL;
	snprintf(up, n, "%s:%s", cr->username, cr->password ? cr->password : "");
	b64 = reg_base64(up, n - 1);
	if (b64)
		v = authz_make("Basic", b64);
	reg_free_secret(up);
	reg_free_secret(b64);
	return v;
}

static bool header_safe(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* {"token"|"access_token": "...", "expires_in": N} -> "Bearer ...", N */
static int token_answer_parse(const char *body, char **ret_authz, int64_t *ret_expires_in)
{
	json_object *root = body ? json_tokener_parse(body) : NULL, *t = NULL, *e;
	int r = -EPROTO;
	if (root && json_object_is_type(root, json_type_object) &&
	    ((json_object_object_get_ex(root, "token", &t) && json_object_is_type(t, json_type_string) &&
	      json_object_get_string_len(t) > 0) ||
	     (json_object_object_get_ex(root, "access_token", &t) &&
	      json_object_is_type(t, json_type_string) && json_object_get_string_len(t) > 0)) &&
	    header_safe(json_object_get_string(t))) {
		int64_t exp = 60;
		if (json_object_object_get_ex(root, "expires_in", &e) &&
		    json_object_is_type(e, json_type_int) && json_object_get_int64(e) > 0)
			exp = json_object_get_int64(e);
		*ret_expires_in = exp > 86400 * 7 ? 86400 * 7 : exp;
		*ret_authz = authz_make("Bearer", json_object_get_string(t));
		r = *ret_authz ? 0 : -ENOMEM;
	}
	json_object_put(root);
	return r;
}

/* The token request: GET realm?service=&scope= (Basic if we have a user),
 * or POST grant_type=refresh_token with the identity token. */
static int token_request_build(const struct registry_session *s, const struct reg_endpoint *ep,
			       const struct reg_challenge *ch, char *url, size_t url_len,
			       char **ret_post, char **ret_basic)
{
	const struct reg_creds *cr = &ep->creds;
	char *svc = curl_easy_escape(NULL, ch->service, 0), *scope = curl_easy_escape(NULL, s->scope, 0);
	char *rt = cr->identity_token ? curl_easy_escape(NULL, cr->identity_token, 0) : NULL;
	int r = -ENOMEM, n;
	if (!svc || !scope || (cr->identity_token && !rt))
		goto out;
	if (rt) {
		n = snprintf(url, url_len, "%s", ch->realm);
		size_t pl = strlen(svc) + strlen(scope) + strlen(rt) + 100;
		*ret_post = malloc(pl);
		if (!*ret_post)
			goto out;
		snprintf(*ret_post, pl, "grant_type=refresh_token&client_id=crisp&service=%s&scope=%s"
			 "&refresh_token=%s", svc, scope, rt);
	} else {
		n = snprintf(url, url_len, "%s%c%s%s&scope=%s", ch->realm,
			     strchr(ch->realm, '?') ? '&' : '?', ch->service[0] ? "service=" : "",
			     ch->service[0] ? svc : "", scope);
		if (cr->username && !(*ret_basic = basic_of(cr)))
			goto out;
	}
	r = n < 0 || (size_t)n >= url_len ? -EPROTO : 0;
out:
	curl_free(svc);
	curl_free(scope);
	if (rt)
		explicit_bzero(rt, strlen(rt));
	curl_free(rt);
	return r;
}

static int token_status_error(const struct reg_http_resp *rs, const struct reg_endpoint *ep,
			      const char *realm, struct registry_error *err)
{
	bool creds = ep->creds.username || ep->creds.identity_token;
	if (rs->status == 401)
		return reg_fail(err, CRISP_STATUS_UNAUTHENTICATED, -EACCES,
				"token service %s: %s (401)", realm,
				creds ? "the credentials were refused" : "credentials are required");
	if (rs->status == 403)
		return reg_fail(err, CRISP_STATUS_PERMISSION_DENIED, -EPERM,
				"token service %s: access denied (403)", realm);
	char what[REGISTRY_URL_MAX + 20];
	snprintf(what, sizeof what, "token service %s", realm);
	return reg_http_status_error(rs, what, err);
}

/* Where the realm is, and whether we may send our credentials there. */
static int realm_check(const struct reg_endpoint *ep, const char *realm, struct reg_http_req *rq,
		       struct registry_error *err)
{
	struct reg_origin o, eo;
	char u[REGISTRY_URL_MAX];
	reg_url_redact(realm, u, sizeof u);
	if (reg_url_origin(realm, &o) < 0)
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: the token realm \"%s\" is not an http(s) URL", ep->base, u);
	bool loop = reg_authority_is_loopback(o.host);
	if (strcmp(o.scheme, "http") == 0 && !loop &&
	    (ep->creds.username || ep->creds.identity_token))
		return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
				"%s: refusing to send credentials to the plain-http token service %s",
				ep->base, u);
	bool same = reg_url_origin(ep->base, &eo) == 0 && strcmp(eo.host, o.host) == 0;
	rq->tls_verify = !loop && !(same && !ep->tls_verify);
	rq->ca_file = same ? ep->ca_file : NULL;
	return 0;
}

static int token_fetch(struct registry_session *s, size_t i, const struct reg_challenge *ch,
		       char **ret_authz, struct registry_error *err)
{
	struct reg_endpoint *ep = &s->ep[i];
	char url[REGISTRY_URL_MAX], u[REGISTRY_URL_MAX], key[DIGEST_STR_SIZE];
	char *post = NULL, *basic = NULL, *authz = NULL;
	struct reg_http_req rq = { .url = url, .max_body = REG_TOKEN_MAX };
	struct reg_http_resp rs = { .content_length = -1 };
	int64_t expires_in = 0;
	reg_url_redact(ch->realm, u, sizeof u);
	int r = realm_check(ep, ch->realm, &rq, err);
	if (r < 0)
		return r;
	r = token_request_build(s, ep, ch, url, sizeof url, &post, &basic);
	if (r < 0) {
		r = reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, r, "token service %s: %s", u,
			     r == -ENOMEM ? "out of memory" : "the request does not fit");
		goto out;
	}
	rq.post_fields = post;
	rq.authz = basic;
	r = reg_http_do(s, &rq, &rs, err);
	if (r == 0 && rs.status != 200)
		r = token_status_error(&rs, ep, u, err);
	if (r == 0 && token_answer_parse(rs.body, &authz, &expires_in) < 0)
		r = reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EPROTO,
			     "token service %s: the answer has no usable token", u);
	if (r == 0 && token_key(s, ep, key) == 0) {
		int64_t ms = expires_in * 1000, margin = ms / 10 < 10000 ? ms / 10 : 10000;
		token_put(s->c, key, authz, reg_now_ms() + ms - margin);
	}
	if (r == 0)
		*ret_authz = authz;
out:
	if (rs.body)
		explicit_bzero(rs.body, rs.body_len);
	reg_http_resp_clear(&rs);
	reg_free_secret(post);
	reg_free_secret(basic);
	return r;
}

/* What to send before any challenge: the session's, the request's
 * registry token, or a cached token. NULL: nothing (anonymous). */
static char *authz_initial(struct registry_session *s, size_t i)
{
	struct reg_endpoint *ep = &s->ep[i];
	char *v = NULL, key[DIGEST_STR_SIZE];
	pthread_mutex_lock(&s->lock);
	if (ep->authz)
		v = strdup(ep->authz);
	pthread_mutex_unlock(&s->lock);
	if (v)
		return v;
	if (ep->creds.registry_token)
		return authz_make("Bearer", ep->creds.registry_token);
	if (token_key(s, ep, key) == 0)
		v = token_get(s->c, key);
	return v;
}

static void authz_remember(struct registry_session *s, size_t i, const char *v)
{
	char *copy = v ? strdup(v) : NULL;
	pthread_mutex_lock(&s->lock);
	char *old = s->ep[i].authz;
	s->ep[i].authz = copy;
	pthread_mutex_unlock(&s->lock);
	reg_free_secret(old);
}

/* The Authorization that answers challenge ch; NULL in *ret when we have
 * nothing to answer with. */
static int challenge_answer(struct registry_session *s, size_t i, const struct reg_challenge *ch,
			    char **ret, struct registry_error *err)
{
	struct reg_endpoint *ep = &s->ep[i];
	char key[DIGEST_STR_SIZE];
	*ret = NULL;
	if (ep->creds.registry_token)
		return 0;               /* it was sent and refused */
	if (ch->scheme == REG_SCHEME_BASIC) {
		if (ep->creds.username && !(*ret = basic_of(&ep->creds)))
			return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
		return 0;
	}
	if (token_key(s, ep, key) == 0)
		token_forget(s->c, key);
	return token_fetch(s, i, ch, ret, err);
}

int reg_auth_request(struct registry_session *s, size_t i, struct reg_http_req *rq,
		     struct reg_http_resp *rs, struct registry_error *err)
{
	char *authz = authz_initial(s, i);
	int r;
	for (int round = 0;; round++) {
		rq->authz = authz;
		r = reg_http_do(s, rq, rs, err);
		if (r < 0 || rs->status != 401 || round == 1)
			break;
		struct reg_challenge ch;
		if (reg_challenge_parse(rs->www_authenticate, &ch) < 0)
			break;          /* a 401 we cannot answer: the caller reports it */
		char *next = NULL;
		r = challenge_answer(s, i, &ch, &next, err);
		if (r < 0 || !next)
			break;
		reg_free_secret(authz);
		authz = next;
		authz_remember(s, i, authz);
	}
	rq->authz = NULL;
	reg_free_secret(authz);
	return r;
}
