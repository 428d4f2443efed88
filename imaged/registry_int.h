/*
 * registry_int: what the registry_*.c files share, and nothing else may use.
 * The layers, bottom up:
 *   registry_http.c      one request on one URL: curl handle setup,
 *                        redirects, retries, caps, cancel/deadline/stall
 *   registry_auth.c      one request on one endpoint: challenges, Basic,
 *                        Bearer tokens and their cache
 *   registry_creds.c     which credentials go to which endpoint
 *   registry_endpoint.c  mirrors / insecure / loopback -> endpoint list, and
 *                        one request tried on the endpoints in order
 *   registry_manifest.c, registry_platform.c, registry_blob.c: what a pull asks
 *   registry_client.c    client and session lifetimes, curl handle pool
 */
#pragma once
#include <pthread.h>
#include <curl/curl.h>
#include "imaged/registry.h"

#define REG_ERRBODY_MAX    (16u * 1024u)   /* error body kept for the message */
#define REG_TOKEN_MAX      (64u * 1024u)   /* a token service's answer */
#define REG_HEADER_MAX     (8u * 1024u)    /* a WWW-Authenticate we keep */
#define REG_TOKENS_MAX     64              /* cached bearer tokens per client */
#define REG_HANDLES_IDLE   4               /* idle curl handles kept per session */
#define REG_ENDPOINTS_MAX  (REGISTRY_MIRRORS_MAX + 2)
#define REG_AUTHORITY_MAX  (REF_NAME_MAX + 1)
#define REG_SCOPE_MAX      (REF_NAME_MAX + 32)

/* ---- client and session ------------------------------------------------ */

struct reg_host {
	char *host;                     /* normalised reference domain */
	char *mirrors[REGISTRY_MIRRORS_MAX];
	size_t n_mirrors;
	bool insecure;
	char *ca_file;
};

struct reg_token {
	char key[DIGEST_STR_SIZE];      /* sha256(authority, scope, credentials) */
	char *value;                    /* "Bearer ..." */
	int64_t expires_ms;             /* CLOCK_MONOTONIC */
};

struct registry_client {
	struct registry_options opt;    /* scalars; its pointers are not used */
	struct reg_host *hosts;
	size_t n_hosts;
	char *docker_config;
	char *user_agent;
	CURLSH *share;                  /* DNS cache and TLS sessions */
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	pthread_mutex_t tokens_lock;
	struct reg_token tokens[REG_TOKENS_MAX];
};

struct reg_creds {
	char *username;
	char *password;
	char *identity_token;
	char *registry_token;
	char fp[DIGEST_STR_SIZE];       /* fingerprint for the token cache key */
};

enum reg_scheme { REG_SCHEME_NONE, REG_SCHEME_BASIC, REG_SCHEME_BEARER };

struct reg_challenge {
	enum reg_scheme scheme;
	char realm[REGISTRY_URL_MAX];
	char service[256];
};

struct reg_endpoint {
	char base[REGISTRY_URL_MAX];    /* "https://host:port[/prefix]" */
	char authority[REG_AUTHORITY_MAX];  /* "host:port" */
	bool mirror;                    /* any failure: next endpoint */
	bool fallback;                  /* plain http after an https that could not connect */
	bool tls_verify;
	const char *ca_file;            /* owned by the client */
	struct reg_creds creds;
	char *authz;                    /* Authorization in use; under the session lock */
};

struct registry_session {
	struct registry_client *c;
	struct image_ref ref;
	struct registry_platform platform;
	const atomic_bool *cancel;
	int64_t deadline_ms;
	char scope[REG_SCOPE_MAX];      /* "repository:PATH:pull" */
	struct reg_endpoint ep[REG_ENDPOINTS_MAX];
	size_t n_ep;
	pthread_mutex_t lock;           /* ep_first, ep[].authz, idle */
	size_t ep_first;                /* the endpoint that served the last request */
	CURL *idle[REG_HANDLES_IDLE];
	size_t n_idle;
};

CURL *reg_handle_get(struct registry_session *s);
void reg_handle_put(struct registry_session *s, CURL *h);

/* ---- errors and small helpers (registry_client.c) ----------------------- */

/* Fills err (if not NULL) and returns errnum (negative). */
int reg_fail(struct registry_error *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int64_t reg_now_ms(void);
/* url without userinfo, query and fragment, for messages. */
void reg_url_redact(const char *url, char *buf, size_t len);
/* Copies src into dst[len] (cut to fit, always NUL-terminated); false if cut. */
bool reg_strlcpy(char *dst, size_t len, const char *src);
/* Frees a string that held a secret, wiping it first. */
void reg_free_secret(char *s);

/* ---- one request on one URL (registry_http.c) --------------------------- */

typedef int (*reg_sink_fn)(void *ud, const void *buf, size_t len);

/* A request body (push): len bytes of buf, or of fd from offset on (read
 * with pread, so that a retry or an auth round sends it again from the
 * start). */
struct reg_http_body {
	const void *buf;                /* NULL: read fd */
	int fd;
	uint64_t offset;
	uint64_t len;
};

struct reg_http_req {
	const char *method;             /* "GET" (default), "POST", or for a push
					 * "HEAD", "PUT", "PATCH" */
	const char *url;
	const char *accept;             /* Accept header, or NULL */
	const char *authz;              /* Authorization value; dropped on leaving the origin */
	const char *post_fields;        /* POST body, form encoded */
	const struct reg_http_body *body;   /* a body to send (push), or NULL */
	const char *content_type;       /* Content-Type of body, or NULL */
	const char *content_range;      /* Content-Range of body (PATCH), or NULL */
	bool tls_verify;
	const char *ca_file;
	uint64_t max_body;              /* cap of a 2xx body (always set: 0 is 0) */
	reg_sink_fn sink;               /* NULL: a 2xx body is kept in resp->body */
	void *sink_ud;
	uint64_t delivered;             /* bytes the sink has had; a retry resumes after them */
};

struct reg_http_resp {
	long status;
	char *body;                     /* a kept 2xx body (NUL added), or the error body */
	size_t body_len;
	char content_type[REGISTRY_MEDIA_TYPE_MAX];
	char docker_digest[DIGEST_STR_SIZE + 64];  /* Docker-Content-Digest */
	char *www_authenticate;         /* every such header, joined by ", " */
	char location[REGISTRY_URL_MAX];    /* Location of a 2xx (uploads), "" if none */
	int64_t content_length;         /* -1: none */
	int sink_error;                 /* the sink's errno when it stopped us */
};

struct reg_origin {
	char scheme[8];                 /* "http" or "https" */
	char host[REG_AUTHORITY_MAX];   /* "[::1]" for IPv6 */
	char port[8];                   /* the default port when none is given */
};
/* The origin of an http(s) URL; -EPROTO for anything else. */
int reg_url_origin(const char *url, struct reg_origin *ret);

int reg_http_do(struct registry_session *s, struct reg_http_req *rq, struct reg_http_resp *rs,
		struct registry_error *err);
void reg_http_resp_clear(struct reg_http_resp *rs);
/* "<CODE>: <message>" of a registry error body, or "" */
void reg_http_error_text(const struct reg_http_resp *rs, char *buf, size_t len);
/* The status of a finished request that is not 2xx, as an error. */
int reg_http_status_error(const struct reg_http_resp *rs, const char *what,
			  struct registry_error *err);

/* ---- auth (registry_auth.c) --------------------------------------------- */

/* The strongest challenge in a WWW-Authenticate value (Bearer over Basic).
 * -EPROTO if none is usable. */
int reg_challenge_parse(const char *hdr, struct reg_challenge *ret);
/* rq on endpoint i, authorising as the registry asks (at most one
 * challenge answered per call). rq->authz is set here. */
int reg_auth_request(struct registry_session *s, size_t i, struct reg_http_req *rq,
		     struct reg_http_resp *rs, struct registry_error *err);
void reg_tokens_clear(struct registry_client *c);

/* ---- credentials (registry_creds.c) ------------------------------------- */

/* The credentials for endpoint ep of a pull of domain: the request's when
 * they are for it, else the docker config's, else none. */
int reg_creds_resolve(const struct registry_client *c, const struct registry_credentials *rc,
		      const char *domain, const struct reg_endpoint *ep, struct reg_creds *ret,
		      struct registry_error *err);
void reg_creds_clear(struct reg_creds *cr);
/* Base64 of s (for Basic), malloc'ed. */
char *reg_base64(const char *s, size_t len);

/* ---- endpoints (registry_endpoint.c) ------------------------------------ */

bool reg_authority_is_loopback(const char *authority);
/* Parses "http[s]://authority[/prefix]" into base and authority. */
int reg_mirror_parse(const char *url, char *base, size_t base_len, char *authority,
		     size_t authority_len, bool *ret_https);
/* Fills s->ep for s->ref. */
int reg_endpoints_build(struct registry_session *s, const struct registry_credentials *rc,
			struct registry_error *err);
/* GET <base>/v2/<path>/<kind>/<object> on the endpoints in order, from the
 * one that served the session's last request (which it then updates).
 * Returns with rs->status 2xx, or an error. */
int reg_request(struct registry_session *s, const char *kind, const char *object,
		struct reg_http_req *rq, struct reg_http_resp *rs, struct registry_error *err);

/* ---- platforms (registry_platform.c) ------------------------------------ */

/* How well an index entry's platform fits want: < 0 not at all, else
 * higher is better. */
int reg_platform_score(const struct registry_platform *want, const char *os, const char *arch,
		       const char *variant);
