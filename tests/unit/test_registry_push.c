/*
 * test_registry_push: the push side of the registry client against the
 * scripted server (registry_fake.h): what it asks in what order (HEAD,
 * POST, PUT ?digest= or PATCH chunks then PUT, the manifest PUT), the
 * credentials on each step, an upload Location on another origin that
 * must get none, mirrors that a push never uses, and the registry's
 * refusals and lies as errors. (test_crispctl.py pushes to a real
 * docker-registry.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/status.h"
#include "imaged/registry.h"
#include "tests/unit/registry_fake.h"
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

#define PUSH_BLOB_LEN 100
#define BASIC "Basic Y3Jpc3A6cHc="      /* crisp:pw */

struct push_case {
	char blob[PUSH_BLOB_LEN];
	struct registry_descriptor d;
	int fd;
	char head[256], uploads[256];
	struct registry_options o;
	struct registry_client *c;
	struct registry_session *s;
	struct registry_credentials cr;
	struct registry_pull_options po;
	struct registry_error err;
};

static void push_init(struct push_case *t)
{
	char path[4096];
	memset(t, 0, sizeof *t);
	for (size_t i = 0; i < PUSH_BLOB_LEN; i++)
		t->blob[i] = (char)('a' + i % 26);
	fake_digest(t->blob, PUSH_BLOB_LEN, t->d.digest);
	t->d.size = PUSH_BLOB_LEN;
	snprintf(t->d.media_type, sizeof t->d.media_type, "application/octet-stream");
	tl_path(path, sizeof path, unit_tmpdir(), "blob");
	tl_write_file(path, t->blob, PUSH_BLOB_LEN);
	t->fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(t->fd >= 0);
	snprintf(t->head, sizeof t->head, "/v2/x/y/blobs/%s", t->d.digest);
	snprintf(t->uploads, sizeof t->uploads, "/v2/x/y/blobs/uploads/");
	fake_options(&t->o);
	t->cr = (struct registry_credentials){ .username = "crisp", .password = "pw" };
	t->po = (struct registry_pull_options){ .creds = &t->cr };
}

/* A push session for host/x/y:1 (host "127.0.0.1:PORT"). */
static void push_open(struct push_case *t, const char *host)
{
	char ref[128];
	struct image_ref r;
	snprintf(ref, sizeof ref, "%s/x/y:1", host);
	CHECK_RC(image_ref_parse(ref, &r, NULL));
	CHECK_RC(registry_client_new(&t->o, &t->c, &t->err));
	int rc = registry_push_open(t->c, &r, &t->po, &t->s, &t->err);
	if (rc < 0)
		fprintf(stderr, "  push open: %s\n", t->err.msg);
	CHECK_RC(rc);
}

static void push_close(struct push_case *t)
{
	registry_session_close(t->s);
	registry_client_free(t->c);
	close(t->fd);
}

TEST(registry_push_blob_monolithic_with_basic)
{
	struct push_case t;
	push_init(&t);
	struct fake_rule rules[] = {
		{ .method = "HEAD", .path = t.head, .auth = "-", .status = 401,
		  .headers = "WWW-Authenticate: Basic realm=\"crisp-test\"\r\n" },
		{ .method = "HEAD", .path = t.head, .auth = BASIC, .status = 404 },
		{ .method = "POST", .path = t.uploads, .auth = BASIC, .status = 202,
		  .headers = "Location: /v2/x/y/blobs/uploads/u1?_state=abc\r\n" },
		{ .method = "PUT", .path = "/v2/x/y/blobs/uploads/u1", .auth = BASIC, .status = 201 },
	};
	struct fake_server f;
	CHECK_RC(fake_start(rules, 4, &f));
	push_open(&t, f.host);
	bool sent = false;
	int rc = registry_push_blob(t.s, &t.d, t.fd, 0, &sent, &t.err);
	if (rc < 0)
		fprintf(stderr, "  %s\n%s", t.err.msg, fake_log(&f));
	CHECK_RC(rc);
	CHECK(sent);
	CHECK(fake_count(&f, "POST /v2/x/y/blobs/uploads/ ", BASIC, NULL) == 1);
	/* the Location's own query kept, the digest added */
	CHECK(fake_count(&f, "PUT /v2/x/y/blobs/uploads/u1?_state=abc&digest=sha256", BASIC, NULL) == 1);
	CHECK(fake_count(&f, "PATCH", NULL) == 0);
	char body[64];
	snprintf(body, sizeof body, "body=%.40s", t.blob);
	CHECK(fake_count(&f, "PUT ", body, NULL) == 1);
	push_close(&t);
	fake_stop(&f);
}

TEST(registry_push_blob_there_already)
{
	struct push_case t;
	push_init(&t);
	t.po.creds = NULL;
	struct fake_rule rules[] = {
		{ .method = "HEAD", .path = t.head, .status = 200 },
	};
	struct fake_server f;
	CHECK_RC(fake_start(rules, 1, &f));
	push_open(&t, f.host);
	bool sent = true;
	CHECK_RC(registry_push_blob(t.s, &t.d, t.fd, 0, &sent, &t.err));
	CHECK(!sent);
	CHECK(fake_count(&f, "POST", NULL) == 0 && fake_count(&f, "PUT", NULL) == 0);
	push_close(&t);
	fake_stop(&f);
}

TEST(registry_push_blob_in_chunks)
{
	struct push_case t;
	push_init(&t);
	t.po.creds = NULL;
	struct fake_rule rules[] = {
		{ .method = "HEAD", .path = t.head, .status = 404 },
		{ .method = "POST", .path = t.uploads, .status = 202,
		  .headers = "Location: /up/1\r\n" },
		{ .method = "PATCH", .path = "/up/1", .status = 202, .headers = "Location: /up/2\r\n" },
		{ .method = "PATCH", .path = "/up/2", .status = 202, .headers = "Location: /up/3\r\n" },
		{ .method = "PATCH", .path = "/up/3", .status = 202, .headers = "Location: /up/4\r\n" },
		{ .method = "PUT", .path = "/up/4?digest=", .status = 201 },
	};
	struct fake_server f;
	CHECK_RC(fake_start(rules, 6, &f));
	push_open(&t, f.host);
	int rc = registry_push_blob(t.s, &t.d, t.fd, 40, NULL, &t.err);   /* 40 + 40 + 20 */
	if (rc < 0)
		fprintf(stderr, "  %s\n%s", t.err.msg, fake_log(&f));
	CHECK_RC(rc);
	CHECK(fake_count(&f, "PATCH /up/", NULL) == 3);
	CHECK(fake_count(&f, "PATCH /up/3 ", "body=cdefghijklmnopqrstuv", NULL) == 1);
	CHECK(fake_count(&f, "PUT /up/4?digest=", "body=-", NULL) == 1);
	push_close(&t);
	fake_stop(&f);
}

TEST(registry_push_location_elsewhere_gets_no_credentials)
{
	struct push_case t;
	push_init(&t);
	struct fake_rule store_rules[] = {
		{ .method = "PUT", .path = "/bucket/up", .auth = "-", .status = 201 },
		{ .path = "/", .status = 403 },         /* anything with credentials */
	};
	struct fake_server store, f;
	CHECK_RC(fake_start(store_rules, 2, &store));
	char loc[128];
	snprintf(loc, sizeof loc, "Location: http://%s/bucket/up?sig=1\r\n", store.host);
	struct fake_rule rules[] = {
		{ .method = "HEAD", .path = t.head, .auth = "-", .status = 401,
		  .headers = "WWW-Authenticate: Basic realm=\"crisp-test\"\r\n" },
		{ .method = "HEAD", .path = t.head, .auth = BASIC, .status = 404 },
		{ .method = "POST", .path = t.uploads, .auth = BASIC, .status = 202, .headers = loc },
	};
	CHECK_RC(fake_start(rules, 3, &f));
	push_open(&t, f.host);
	int rc = registry_push_blob(t.s, &t.d, t.fd, 0, NULL, &t.err);
	if (rc < 0)
		fprintf(stderr, "  %s\n%s%s", t.err.msg, fake_log(&f), fake_log(&store));
	CHECK_RC(rc);
	CHECK(fake_count(&store, "PUT /bucket/up?sig=1&digest=", "auth=-", NULL) == 1);
	CHECK(fake_count(&store, "Basic", NULL) == 0);
	push_close(&t);
	fake_stop(&f);
	fake_stop(&store);
}

TEST(registry_push_never_uses_a_mirror)
{
	struct push_case t;
	push_init(&t);
	t.po.creds = NULL;
	struct fake_rule any[] = { { .path = "/", .status = 200 } };
	struct fake_server mirror, f;
	CHECK_RC(fake_start(any, 1, &mirror));
	struct fake_rule rules[] = { { .method = "HEAD", .path = t.head, .status = 200 } };
	CHECK_RC(fake_start(rules, 1, &f));
	char murl[64];
	snprintf(murl, sizeof murl, "http://%s", mirror.host);
	struct registry_host_options h = { .host = f.host, .mirrors = { murl }, .n_mirrors = 1 };
	t.o.hosts = &h;
	t.o.n_hosts = 1;
	push_open(&t, f.host);
	CHECK_RC(registry_push_blob(t.s, &t.d, t.fd, 0, NULL, &t.err));
	CHECK(fake_count(&f, "HEAD", NULL) == 1);
	CHECK(fake_count(&mirror, "/", NULL) == 0);
	push_close(&t);
	fake_stop(&f);
	fake_stop(&mirror);
}

TEST(registry_push_manifest_and_refusals)
{
	struct push_case t;
	push_init(&t);
	t.po.creds = NULL;
	static const char manifest[] = "{\"schemaVersion\":2}";
	char digest[DIGEST_STR_SIZE], ok[160], ret[DIGEST_STR_SIZE];
	fake_digest(manifest, strlen(manifest), digest);
	snprintf(ok, sizeof ok, "Docker-Content-Digest: %s\r\n", digest);
	struct fake_rule rules[] = {
		{ .method = "PUT", .path = "/v2/x/y/manifests/1", .times = 1, .status = 201,
		  .headers = ok },
		{ .method = "PUT", .path = "/v2/x/y/manifests/1", .times = 1, .status = 201,
		  .headers = "Docker-Content-Digest: sha256:0000000000000000000000000000000000000000000000000000000000000000\r\n" },
		{ .method = "HEAD", .path = t.head, .status = 404 },
		{ .method = "POST", .path = t.uploads, .status = 403,
		  .body = "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"no pushing here\"}]}" },
	};
	struct fake_server f;
	CHECK_RC(fake_start(rules, 4, &f));
	push_open(&t, f.host);
	CHECK_RC(registry_push_manifest(t.s, REGISTRY_MT_OCI_MANIFEST, manifest, strlen(manifest),
					ret, &t.err));
	CHECK(!strcmp(ret, digest));
	CHECK(fake_count(&f, "PUT /v2/x/y/manifests/1 ", "body={\"schemaVersion\":2}", NULL) == 1);
	/* the registry says it stored something else */
	CHECK(registry_push_manifest(t.s, REGISTRY_MT_OCI_MANIFEST, manifest, strlen(manifest), ret,
				     &t.err) == -EBADMSG);
	CHECK(t.err.code == CRISP_STATUS_DATA_LOSS);
	/* an upload refused */
	CHECK(registry_push_blob(t.s, &t.d, t.fd, 0, NULL, &t.err) == -EPERM);
	CHECK(t.err.code == CRISP_STATUS_PERMISSION_DENIED && strstr(t.err.msg, "no pushing here"));
	push_close(&t);
	fake_stop(&f);
	/* a destination digest that is not the manifest's */
	struct image_ref r;
	char ref[200];
	snprintf(ref, sizeof ref, "127.0.0.1:1/x/y@sha256:%064d", 0);
	CHECK_RC(image_ref_parse(ref, &r, NULL));
	struct registry_client *c;
	struct registry_session *s;
	CHECK_RC(registry_client_new(&t.o, &c, &t.err));
	CHECK_RC(registry_push_open(c, &r, NULL, &s, &t.err));
	CHECK(registry_push_manifest(s, REGISTRY_MT_OCI_MANIFEST, manifest, strlen(manifest), ret,
				     &t.err) == -EINVAL);
	CHECK(t.err.code == CRISP_STATUS_INVALID_ARGUMENT);
	registry_session_close(s);
	registry_client_free(c);
}
