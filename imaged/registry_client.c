/*
 * registry_client: the lifetimes of a registry client (its copy of the
 * options, the curl share handle for DNS and TLS sessions, the token
 * cache) and of a session (one pull: its endpoints, credentials and a
 * small pool of curl handles, so that connections are reused between the
 * manifest and the blobs, and blobs can be fetched from several threads).
 * Also the small helpers the registry files share. curl_global_init runs
 * once per process. Never logs; wipes every secret it frees.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "imaged/dockercfg.h"
#include "imaged/registry_int.h"

#ifndef CRISP_VERSION
#define CRISP_VERSION "dev"
#endif

void registry_options_default(struct registry_options *ret)
{
	*ret = (struct registry_options){
		.user_agent = "crisp/" CRISP_VERSION,
		.connect_timeout_ms = 30000,
		.stall_timeout_ms = 60000,
		.max_retries = 4,
		.retry_base_ms = 250,
		.retry_max_ms = 10000,
		.max_redirects = 5,
		.max_manifest_size = 4u << 20,
		.max_blob_size = 64ull << 30,
	};
}

int reg_fail(struct registry_error *err, int code, int errnum, const char *fmt, ...)
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

int64_t reg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void reg_url_redact(const char *url, char *buf, size_t len)
{
	const char *scheme_end = strstr(url, "://");
	const char *auth_start = scheme_end ? scheme_end + 3 : url;
	size_t auth_len = strcspn(auth_start, "/?#");
	const char *at = memchr(auth_start, '@', auth_len);
	size_t n = strcspn(url, "?#");
	if (at)
		snprintf(buf, len, "%.*s%.*s", (int)(auth_start - url), url,
			 (int)(n - (size_t)(at + 1 - url)), at + 1);
	else
		snprintf(buf, len, "%.*s", (int)n, url);
}

bool reg_strlcpy(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len);
	bool fits = n < len;
	if (!fits)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return fits;
}

void reg_free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* ---- the client ---------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	struct registry_client *c = ud;
	pthread_mutex_lock(&c->share_lock[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	struct registry_client *c = ud;
	pthread_mutex_unlock(&c->share_lock[data]);
}

static int share_setup(struct registry_client *c)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_lock[i], NULL);
	c->share = curl_share_init();
	if (!c->share)
		return -ENOMEM;
	if (curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
		return -ENOMEM;
	return 0;
}

static int host_copy(const struct registry_host_options *in, struct reg_host *out,
		     struct registry_error *err)
{
	char key[REG_AUTHORITY_MAX], base[REGISTRY_URL_MAX], auth[REG_AUTHORITY_MAX];
	bool https;
	if (!in->host || dockercfg_server_key(in->host, key, sizeof key) < 0)
		return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"registry host \"%s\" is not a host name", in->host ? in->host : "");
	if (in->n_mirrors > REGISTRY_MIRRORS_MAX)
		return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"registry %s: more than %d mirrors", key, REGISTRY_MIRRORS_MAX);
	out->host = strdup(key);
	out->insecure = in->insecure;
	out->ca_file = in->ca_file ? strdup(in->ca_file) : NULL;
	if (!out->host || (in->ca_file && !out->ca_file))
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	for (size_t i = 0; i < in->n_mirrors; i++) {
		if (!in->mirrors[i] ||
		    reg_mirror_parse(in->mirrors[i], base, sizeof base, auth, sizeof auth, &https) < 0)
			return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
					"registry %s: mirror \"%s\" is not an http(s)://host[:port][/path] URL",
					key, in->mirrors[i] ? in->mirrors[i] : "");
		out->mirrors[i] = strdup(base);
		if (!out->mirrors[i])
			return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
		out->n_mirrors = i + 1;
	}
	return 0;
}

int registry_client_new(const struct registry_options *o, struct registry_client **ret,
			struct registry_error *err)
{
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -EIO, "curl_global_init failed");
	if (o->n_hosts > REGISTRY_HOSTS_MAX)
		return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"more than %d registry hosts", REGISTRY_HOSTS_MAX);
	struct registry_client *c = calloc(1, sizeof *c);
	if (!c)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	c->opt = *o;
	c->opt.hosts = NULL;
	c->opt.docker_config = NULL;
	c->opt.user_agent = NULL;
	pthread_mutex_init(&c->tokens_lock, NULL);
	int r = share_setup(c);
	c->user_agent = strdup(o->user_agent ? o->user_agent : "crisp");
	c->docker_config = o->docker_config ? strdup(o->docker_config) : NULL;
	c->hosts = calloc(o->n_hosts ? o->n_hosts : 1, sizeof *c->hosts);
	if (r < 0 || !c->user_agent || (o->docker_config && !c->docker_config) || !c->hosts) {
		r = reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < o->n_hosts; i++) {
		r = host_copy(&o->hosts[i], &c->hosts[i], err);
		c->n_hosts = i + 1;
		if (r < 0)
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	registry_client_free(c);
	return r;
}

void registry_client_free(struct registry_client *c)
{
	if (!c)
		return;
	reg_tokens_clear(c);
	for (size_t i = 0; i < c->n_hosts; i++) {
		free(c->hosts[i].host);
		free(c->hosts[i].ca_file);
		for (size_t j = 0; j < c->hosts[i].n_mirrors; j++)
			free(c->hosts[i].mirrors[j]);
	}
	free(c->hosts);
	free(c->user_agent);
	free(c->docker_config);
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_lock[i]);
	pthread_mutex_destroy(&c->tokens_lock);
	free(c);
}

/* ---- sessions ------------------------------------------------------------- */

int registry_session_open(struct registry_client *c, const struct image_ref *ref,
			  const struct registry_pull_options *o, struct registry_session **ret,
			  struct registry_error *err)
{
	struct registry_session *s = calloc(1, sizeof *s);
	if (!s)
		return reg_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	s->c = c;
	s->ref = *ref;
	pthread_mutex_init(&s->lock, NULL);
	if (o && o->platform)
		s->platform = *o->platform;
	else
		registry_platform_host(&s->platform);
	s->cancel = o ? o->cancel : NULL;
	s->deadline_ms = o ? o->deadline_ms : 0;
	snprintf(s->scope, sizeof s->scope, "repository:%s:pull", ref->path);
	int r = reg_endpoints_build(s, o ? o->creds : NULL, err);
	if (r < 0) {
		registry_session_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void registry_session_close(struct registry_session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_idle; i++)
		curl_easy_cleanup(s->idle[i]);
	for (size_t i = 0; i < s->n_ep; i++) {
		reg_creds_clear(&s->ep[i].creds);
		reg_free_secret(s->ep[i].authz);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

CURL *reg_handle_get(struct registry_session *s)
{
	CURL *h = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->n_idle)
		h = s->idle[--s->n_idle];
	pthread_mutex_unlock(&s->lock);
	return h ? h : curl_easy_init();
}

void reg_handle_put(struct registry_session *s, CURL *h)
{
	pthread_mutex_lock(&s->lock);
	if (s->n_idle < REG_HANDLES_IDLE) {
		s->idle[s->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_cleanup(h);
}
