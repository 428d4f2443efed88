/*
 * registry_endpoint: where a pull goes. A reference's domain maps to its
 * mirrors (in the configured order), then to the registry's API host over
 * https, and, for a loopback or insecure registry, to the same host over
 * plain http as a fallback taken only when the https endpoint could not be
 * reached (connection or TLS failure). A mirror's failure of any kind moves
 * on to the next endpoint; the registry's own answers (404, 401, ...) are
 * final. Cancellation, the deadline, caps, digest mismatches and the sink's
 * errors stop at once wherever they happen.
 * Never logs.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "imaged/dockercfg.h"
#include "imaged/registry_int.h"

bool reg_authority_is_loopback(const char *a)
{
	char host[REG_AUTHORITY_MAX];
	size_t n;
	if (a[0] == '[') {
		const char *end = strchr(a, ']');
		if (!end)
			return false;
		a++;
		n = (size_t)(end - a);
	} else {
		n = strcspn(a, ":");
	}
	if (n >= sizeof host)
		return false;
	memcpy(host, a, n);
	host[n] = '\0';
	struct in_addr v4;
	struct in6_addr v6;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6) ||
		       (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
	return false;
}

static bool authority_char(char c)
{
	return isalnum((unsigned char)c) || strchr(".-:[]_", c);
}

static bool path_char(char c)
{
	return isalnum((unsigned char)c) || strchr("/-._~%!$&'()*+,;=:@", c);
}

int reg_mirror_parse(const char *url, char *base, size_t base_len, char *authority,
		     size_t authority_len, bool *ret_https)
{
	bool https;
	const char *p;
	if (strncasecmp(url, "https://", 8) == 0) {
		https = true;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		https = false;
		p = url + 7;
	} else {
		return -EINVAL;
	}
	size_t an = strcspn(p, "/");
	if (an == 0 || an >= authority_len)
		return -EINVAL;
	for (size_t i = 0; i < an; i++)
		if (!authority_char(p[i]))
			return -EINVAL;
	const char *path = p + an;
	size_t pn = strlen(path);
	while (pn && path[pn - 1] == '/')
		pn--;
	for (size_t i = 0; i < pn; i++)
		if (!path_char(path[i]))
			return -EINVAL;
	int w = snprintf(base, base_len, "%s://%.*s%.*s", https ? "https" : "http", (int)an, p,
			 (int)pn, path);
	if (w < 0 || (size_t)w >= base_len)
		return -EINVAL;
	snprintf(authority, authority_len, "%.*s", (int)an, p);
	for (char *c = authority; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	*ret_https = https;
	return 0;
}

static const struct reg_host *host_find(const struct registry_client *c, const char *name)
{
	char key[REG_AUTHORITY_MAX];
	if (dockercfg_server_key(name, key, sizeof key) < 0)
		return NULL;
	for (size_t i = 0; i < c->n_hosts; i++)
		if (strcmp(c->hosts[i].host, key) == 0)
			return &c->hosts[i];
	return NULL;
}

static struct reg_endpoint *ep_add(struct registry_session *s, const char *scheme,
				   const char *authority, const char *prefix)
{
	struct reg_endpoint *ep = &s->ep[s->n_ep++];
	snprintf(ep->base, sizeof ep->base, "%s://%s%s", scheme, authority, prefix);
	snprintf(ep->authority, sizeof ep->authority, "%s", authority);
	return ep;
}

static void mirrors_add(struct registry_session *s, const struct reg_host *h)
{
	char base[REGISTRY_URL_MAX], auth[REG_AUTHORITY_MAX];
	bool https;
	for (size_t i = 0; h && i < h->n_mirrors; i++) {
		if (reg_mirror_parse(h->mirrors[i], base, sizeof base, auth, sizeof auth, &https) < 0)
			continue;       /* checked by registry_client_new */
		const struct reg_host *mh = host_find(s->c, auth);
		struct reg_endpoint *ep = &s->ep[s->n_ep++];
		snprintf(ep->base, sizeof ep->base, "%s", base);
		snprintf(ep->authority, sizeof ep->authority, "%s", auth);
		ep->mirror = true;
		ep->tls_verify = !reg_authority_is_loopback(auth) && !(mh && mh->insecure);
		ep->ca_file = mh ? mh->ca_file : NULL;
	}
}

int reg_endpoints_build(struct registry_session *s, const struct registry_credentials *rc,
			struct registry_error *err)
{
	const struct reg_host *h = host_find(s->c, s->ref.domain);
	const char *api = image_ref_api_host(s->ref.domain);
	mirrors_add(s, h);
	bool insecure = (h && h->insecure) || reg_authority_is_loopback(api);
	struct reg_endpoint *ep = ep_add(s, "https", api, "");
	ep->tls_verify = !insecure;
	ep->ca_file = h ? h->ca_file : NULL;
	if (insecure) {
		ep = ep_add(s, "http", api, "");
		ep->fallback = true;
	}
	for (size_t i = 0; i < s->n_ep; i++) {
		int r = reg_creds_resolve(s->c, rc, s->ref.domain, &s->ep[i], &s->ep[i].creds, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool creds_given(const struct reg_creds *cr)
{
	return cr->username || cr->identity_token || cr->registry_token;
}

/* Errors that no other endpoint can fix. */
static bool final_error(int r, const struct reg_http_resp *rs)
{
	return rs->sink_error || r == -ECANCELED || r == -ETIMEDOUT || r == -EFBIG ||
	       r == -EBADMSG || r == -ENOMEM;
}

static void what_of(const struct registry_session *s, const char *kind, const char *object,
		    const struct reg_endpoint *ep, char *buf, size_t len)
{
	char name[REF_STRING_MAX];
	image_ref_name(&s->ref, name, sizeof name);
	if (strcmp(kind, "manifests") == 0)
		snprintf(buf, len, "manifest %s%s%s", name, strchr(object, ':') ? "@" : ":", object);
	else
		snprintf(buf, len, "blob %s of %s", object, name);
	if (ep->mirror) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, " (mirror %s)", ep->base);
	}
}

int reg_request(struct registry_session *s, const char *kind, const char *object,
		struct reg_http_req *rq, struct reg_http_resp *rs, struct registry_error *err)
{
	char url[REGISTRY_URL_MAX], what[REGISTRY_URL_MAX + 200];
	bool unreachable[REG_ENDPOINTS_MAX] = { false };
	pthread_mutex_lock(&s->lock);
	size_t first = s->ep_first;
	pthread_mutex_unlock(&s->lock);
	int r = reg_fail(err, CRISP_STATUS_UNAVAILABLE, -EHOSTUNREACH, "no registry endpoint");
	for (size_t k = 0; k < s->n_ep; k++) {
		size_t i = (first + k) % s->n_ep;
		struct reg_endpoint *ep = &s->ep[i];
		if (ep->fallback && i != first && !unreachable[i - 1])
			continue;
		snprintf(url, sizeof url, "%s/v2/%s/%s/%s", ep->base, s->ref.path, kind, object);
		rq->url = url;
		rq->tls_verify = ep->tls_verify;
		rq->ca_file = ep->ca_file;
		reg_http_resp_clear(rs);
		r = reg_auth_request(s, i, rq, rs, err);
		if (r == 0 && rs->status >= 200 && rs->status < 300) {
			pthread_mutex_lock(&s->lock);
			s->ep_first = i;
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		what_of(s, kind, object, ep, what, sizeof what);
		if (r == 0 && rs->status == 401 && creds_given(&ep->creds))
			r = reg_fail(err, CRISP_STATUS_UNAUTHENTICATED, -EACCES,
				     "%s: the registry refused the credentials (401)", what);
		else if (r == 0)
			r = reg_http_status_error(rs, what, err);
		unreachable[i] = r == -EHOSTUNREACH;
		if (final_error(r, rs) || !(ep->mirror || unreachable[i]))
			break;
	}
	return r;
}
