/*
 * registry: imaged's client for the OCI distribution spec (Docker Registry
 * HTTP API v2) over libcurl. It fetches an image's manifest (OCI image
 * manifest or index, Docker schema2 manifest or manifest list; from an index
 * it picks this node's platform), its config and its layer blobs, and hands
 * every blob to the caller as it streams. It stores nothing.
 *
 * Where it goes: a reference's domain maps to endpoints tried in order: the
 * configured mirrors (each "http[s]://host[:port][/prefix]", the repository
 * path is kept), then the registry itself (docker.io is served by
 * registry-1.docker.io) over https. A registry on a loopback address
 * (127.0.0.0/8, ::1, localhost) or marked insecure is tried with https
 * without certificate verification and then, if no TLS connection could be
 * made, with plain http (what Docker does for its "insecure registries",
 * which include 127.0.0.0/8 by default). A mirror moves on to the next
 * endpoint on any failure; the registry's https endpoint moves on to its
 * http fallback only when it could not be reached.
 *
 * Who it talks to as whom: anonymous, Basic, or Bearer tokens from the token
 * service named by the WWW-Authenticate challenge (scope
 * repository:NAME:pull), cached per endpoint + scope + credentials until
 * they expire. Credentials come from the request (CRI AuthConfig) for the
 * image's own registry (or for a mirror named by its server_address), else
 * from the docker config.json the options name. Secrets are never written
 * to an error message, and the Authorization header is dropped when a
 * redirect leaves the origin; credentials are never sent to a plain-http
 * token service that is not on loopback.
 *
 * Bounds: redirects (max_redirects), retries with backoff on 429/5xx and on
 * connections cut mid-transfer (max_retries; Retry-After honoured up to
 * retry_max_ms; a cut blob resumes with a Range request), manifests, indexes
 * and configs up to max_manifest_size (Content-Length and the bytes that
 * arrive are both checked), blobs exactly their descriptor's size and
 * digest, a stall timeout (no byte for stall_timeout_ms), the caller's
 * deadline and cancel flag.
 *
 * Errors: negative errno, and *err (if not NULL) gets a gRPC status code
 * (common/status.h) and a message for the user:
 *   -EINVAL        INVALID_ARGUMENT    bad reference, option or descriptor
 *   -ENOENT        NOT_FOUND           no such repository, tag, manifest, blob,
 *                                      or no manifest for this platform
 *   -EACCES        UNAUTHENTICATED     authentication required / refused (401)
 *   -EPERM         PERMISSION_DENIED   the registry denies access (403)
 *   -EFBIG         RESOURCE_EXHAUSTED  over a size cap
 *   -EBUSY         RESOURCE_EXHAUSTED  rate limited (429) after the retries
 *   -ETIMEDOUT     DEADLINE_EXCEEDED   stalled, or past the caller's deadline
 *   -ECANCELED     CANCELLED           the cancel flag was set
 *   -EHOSTUNREACH  UNAVAILABLE         could not connect, or TLS failed
 *   -ECONNRESET    UNAVAILABLE         connection cut, after the retries
 *   -EIO           UNAVAILABLE         5xx, after the retries
 *   -ELOOP         UNAVAILABLE         more than max_redirects redirects
 *   -EBADMSG       DATA_LOSS           content does not match its digest or size
 *   -EPROTO        FAILED_PRECONDITION a reply crisp cannot use (malformed or
 *                                      unsupported manifest, unusable token
 *                                      realm or answer, https->http redirect)
 *   -EPROTO        UNKNOWN             an HTTP status the API does not use
 *   -ENOMEM        INTERNAL
 *   (a sink's own negative errno is returned as is, with INTERNAL)
 *
 * Threads: a client is shared by any number of threads; a session is one
 * pull of one reference: registry_pull_manifest from one thread, then
 * registry_pull_blob from several threads at once if the caller likes.
 * Sessions are closed before their client is freed. Never logs.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/status.h"
#include "imaged/digest.h"
#include "imaged/reference.h"

#define REGISTRY_MSG_MAX        512
#define REGISTRY_MIRRORS_MAX    8
#define REGISTRY_HOSTS_MAX      128
#define REGISTRY_MEDIA_TYPE_MAX 256
#define REGISTRY_LAYERS_MAX     1024    /* layers in a manifest, entries in an index */
#define REGISTRY_URL_MAX        2048

struct registry_error {
	int code;                       /* enum crisp_status */
	char msg[REGISTRY_MSG_MAX];
};

/* ---- options ---------------------------------------------------------- */

/* Settings for one registry domain, as references spell it ("docker.io",
 * "gcr.io", "localhost:5000"). */
struct registry_host_options {
	const char *host;
	/* tried in order before the registry itself; the repository path is
	 * kept: gcr.io/a/b via "http://127.0.0.1:5000" is
	 * http://127.0.0.1:5000/v2/a/b/... */
	const char *mirrors[REGISTRY_MIRRORS_MAX];
	size_t n_mirrors;
	bool insecure;          /* https without verification, then plain http */
	const char *ca_file;    /* PEM CAs to verify this host; NULL: the system's */
};

/* Proposed crisp.conf keys (common/config wires them):
 *   [registry]          docker_config, connect_timeout, stall_timeout,
 *                       max_retries, retry_max, max_redirects,
 *                       max_manifest_size, max_blob_size
 *   [registry."HOST"]   mirrors = URL, URL...; insecure = bool; ca_file = PATH */
struct registry_options {
	const struct registry_host_options *hosts;
	size_t n_hosts;
	const char *docker_config;      /* a docker config.json; NULL: none */
	const char *user_agent;
	unsigned connect_timeout_ms;    /* TCP + TLS setup */
	unsigned stall_timeout_ms;      /* no byte moved for this long: DEADLINE_EXCEEDED */
	unsigned max_retries;           /* per request, on 429/5xx/cut connections */
	unsigned retry_base_ms;         /* first backoff; doubles, with jitter */
	unsigned retry_max_ms;          /* cap of a backoff and of Retry-After */
	unsigned max_redirects;
	uint64_t max_manifest_size;     /* manifests, indexes, configs */
	uint64_t max_blob_size;         /* any blob; 0: no cap beyond its descriptor */
};

/* The defaults: 30 s connect, 60 s stall, 4 retries from 250 ms up to 10 s,
 * 5 redirects, 4 MiB manifests, 64 GiB blobs, no hosts, no docker config. */
void registry_options_default(struct registry_options *ret);

/* ---- client ----------------------------------------------------------- */

struct registry_client;

/* Copies what it needs from o (o may go away). -EINVAL for a bad mirror URL
 * or host key. */
int registry_client_new(const struct registry_options *o, struct registry_client **ret,
			struct registry_error *err);
void registry_client_free(struct registry_client *c);   /* NULL ok */

/* ---- one pull --------------------------------------------------------- */

/* CRI AuthConfig. Any field may be NULL or "". */
struct registry_credentials {
	const char *username;
	const char *password;
	const char *auth;               /* base64("username:password") */
	const char *server_address;     /* if set: the host these are for */
	const char *identity_token;     /* OAuth2 refresh token for the token service */
	const char *registry_token;     /* a bearer token for the registry itself */
};

struct registry_platform {
	char os[32];                    /* "linux" */
	char architecture[32];          /* GOARCH names: "amd64", "arm64", "arm" */
	char variant[32];               /* "v7" for arm; "" when none */
};

/* This node's platform, from the architecture crisp was compiled for. */
void registry_platform_host(struct registry_platform *ret);

struct registry_pull_options {
	const struct registry_credentials *creds;  /* NULL: docker config or anonymous */
	const atomic_bool *cancel;      /* when it becomes true, transfers stop: CANCELLED */
	int64_t deadline_ms;            /* CLOCK_MONOTONIC ms; 0: none */
	const struct registry_platform *platform;  /* NULL: registry_platform_host() */
};

struct registry_session;

/* No I/O yet: works out the endpoints and whose credentials go where. */
int registry_session_open(struct registry_client *c, const struct image_ref *ref,
			  const struct registry_pull_options *o, struct registry_session **ret,
			  struct registry_error *err);
void registry_session_close(struct registry_session *s);   /* wipes secrets; NULL ok */

/* ---- manifests (registry_manifest.c) ---------------------------------- */

struct registry_descriptor {
	char media_type[REGISTRY_MEDIA_TYPE_MAX];
	char digest[DIGEST_STR_SIZE];
	int64_t size;
};

struct registry_manifest {
	/* the image manifest, exactly as the registry sent it */
	char *raw;
	size_t raw_len;
	char digest[DIGEST_STR_SIZE];
	char media_type[REGISTRY_MEDIA_TYPE_MAX];
	/* when the reference named an index / manifest list: that index (its
	 * digest is the image's repo digest); index_digest is "" otherwise */
	char *index_raw;
	size_t index_len;
	char index_digest[DIGEST_STR_SIZE];
	char index_media_type[REGISTRY_MEDIA_TYPE_MAX];
	struct registry_platform platform;   /* what the index entry said; "" without an index */
	struct registry_descriptor config;
	struct registry_descriptor *layers;  /* bottom first */
	size_t n_layers;
};

#define REGISTRY_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define REGISTRY_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define REGISTRY_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REGISTRY_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"

/* Fetches the manifest the session's reference names (checking the digest
 * when the reference has one), and if it is an index, the entry for the
 * session's platform. */
int registry_pull_manifest(struct registry_session *s, struct registry_manifest **ret,
			   struct registry_error *err);
void registry_manifest_free(struct registry_manifest *m);   /* NULL ok */

/* ---- blobs (registry_blob.c) ------------------------------------------ */

/* Gets each piece of a blob in order. A negative return stops the transfer
 * and is returned by registry_pull_blob. */
typedef int (*registry_sink_fn)(void *userdata, const void *buf, size_t len);

/* Streams the blob d to sink: exactly d->size bytes that hash to d->digest
 * (checked here too: on -EBADMSG the caller must drop what it got). */
int registry_pull_blob(struct registry_session *s, const struct registry_descriptor *d,
		       registry_sink_fn sink, void *userdata, struct registry_error *err);
/* A small blob (a config) into memory, NUL-terminated (not counted), at
 * most max_manifest_size bytes. */
int registry_pull_small_blob(struct registry_session *s, const struct registry_descriptor *d,
			     char **ret_buf, size_t *ret_len, struct registry_error *err);

/* ---- push (registry_push.c) ------------------------------------------- */

/*
 * A push goes to the registry itself, never to a mirror (https, and for a
 * loopback or insecure registry plain http when https cannot be reached),
 * with scope repository:NAME:pull,push. Blobs the repository has already
 * (HEAD) are skipped; others are uploaded (POST .../blobs/uploads/, then
 * one PUT ?digest= for a blob up to chunk_size bytes, else PATCH chunks of
 * chunk_size with Content-Range and a final PUT ?digest=). An upload
 * Location on another origin gets no credentials. The manifest goes last
 * (PUT .../manifests/<tag or digest>, Content-Type its media type).
 */
#define REGISTRY_PUSH_CHUNK (32u * 1024u * 1024u)  /* default chunk_size */

/* Like registry_session_open, for a push to ref (tag or digest). */
int registry_push_open(struct registry_client *c, const struct image_ref *ref,
		       const struct registry_pull_options *o, struct registry_session **ret,
		       struct registry_error *err);
/* 1 if the repository has blob d, 0 if not. */
int registry_blob_exists(struct registry_session *s, const struct registry_descriptor *d,
			 struct registry_error *err);
/* Uploads blob d: d->size bytes read from fd (pread from offset 0) unless
 * the repository has it. chunk_size 0: REGISTRY_PUSH_CHUNK. ret_sent (may
 * be NULL) is false when it was there already. */
int registry_push_blob(struct registry_session *s, const struct registry_descriptor *d, int fd,
		       uint64_t chunk_size, bool *ret_sent, struct registry_error *err);
/* PUTs the manifest raw (media_type) under the reference's tag, or its
 * digest when it has no tag; the reference's digest, if any, must be
 * raw's. ret_digest gets raw's digest. */
int registry_push_manifest(struct registry_session *s, const char *media_type, const void *raw,
			   size_t len, char ret_digest[DIGEST_STR_SIZE], struct registry_error *err);
