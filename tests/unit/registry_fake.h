/*
 * registry_fake: a scripted HTTP/1.1 server on 127.0.0.1 for the registry
 * client's unit tests: the misbehaviour a real registry will not produce
 * on demand (503s, Retry-After, redirects, cut or stalled bodies, huge
 * manifests, wrong digests, token services). It runs in a forked child
 * (a real TCP server, one connection at a time, "Connection: close"),
 * answers each request with the first rule that matches and has uses
 * left, and appends one line per request to a log the test reads:
 *   "<METHOD> <target> auth=<Authorization or -> range=<Range or ->"
 * (a request line that is not HTTP, such as a TLS hello, logs "BAD").
 * Rules and bodies are plain memory: the child has its copy from fork.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "imaged/registry.h"

enum fake_act {
	FAKE_SEND = 0,          /* the whole answer, then close */
	FAKE_CUT,               /* close after cut_after body bytes */
	FAKE_STALL,             /* after cut_after body bytes, send nothing more */
};

struct fake_rule {
	const char *method;     /* NULL: any */
	const char *path;       /* prefix of the request target */
	const char *auth;       /* NULL: any; "-": no Authorization; else this exact value */
	int times;              /* uses; 0: unlimited */
	int status;
	const char *headers;    /* extra "Name: value\r\n" lines, or NULL */
	const char *body;       /* NULL: "" */
	size_t body_len;        /* 0: strlen(body) */
	bool no_length;         /* no Content-Length: the body ends at close */
	long long length;       /* > 0: announce this Content-Length instead */
	bool range;             /* answer "Range: bytes=N-" with 206 */
	enum fake_act act;
	size_t cut_after;
	/* filled in by the server as it runs (in its own memory) */
	int used;
};

struct fake_server {
	pid_t pid;
	int port;
	char host[32];          /* "127.0.0.1:PORT" */
	char log[256];
};

/* Starts the server; logs to <unit_tmpdir>/fake-<port>.log. */
int fake_start(struct fake_rule *rules, size_t n, struct fake_server *ret);
void fake_stop(struct fake_server *f);
/* How many log lines contain every one of the NULL-terminated strings. */
int fake_count(const struct fake_server *f, ...);
/* The whole log, malloc'ed (for failure messages). */
char *fake_log(const struct fake_server *f);

/* registry_options_default with short backoff and timeouts for tests. */
void fake_options(struct registry_options *o);
/* A session for ref (CHECKs that it opens). */
struct registry_session *fake_session(struct registry_client *c, const char *ref,
				      const struct registry_pull_options *po);
/* "sha256:<hex>" of buf. */
void fake_digest(const void *buf, size_t len, char ret[DIGEST_STR_SIZE]);
