/*
 * test_registry_auth: WWW-Authenticate parsing, and the auth flows against
 * the scripted server: Bearer tokens (anonymous, Basic credentials, the
 * identity token's refresh grant, the registry token sent as is), the
 * token cache (per endpoint, scope and credentials; expiry), Basic, and
 * the errors for missing or refused credentials.
 */
#include <errno.h>
#include <unistd.h>
#include "imaged/registry_int.h"
#include "tests/unit/registry_fake.h"
#include "tests/unit/unit.h"

TEST(registry_auth_challenge_parse)
{
	struct reg_challenge ch;
	CHECK_RC(reg_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
				     "scope=\"repository:library/busybox:pull\"", &ch));
	CHECK(ch.scheme == REG_SCHEME_BEARER);
	CHECK(strcmp(ch.realm, "https://auth.docker.io/token") == 0);
	CHECK(strcmp(ch.service, "registry.docker.io") == 0);

	CHECK_RC(reg_challenge_parse("Basic realm=\"Registry Realm\"", &ch));
	CHECK(ch.scheme == REG_SCHEME_BASIC);

	/* several challenges in one value: Bearer wins, whatever the order */
	CHECK_RC(reg_challenge_parse("Basic realm=\"r\", Bearer realm=\"http://t/x\", service=s", &ch));
	CHECK(ch.scheme == REG_SCHEME_BEARER && strcmp(ch.realm, "http://t/x") == 0);
	CHECK(strcmp(ch.service, "s") == 0);
	CHECK_RC(reg_challenge_parse("bearer service=\"a,b\" ,realm=\"http://h/t?x=1\", Basic realm=y", &ch));
	CHECK(ch.scheme == REG_SCHEME_BEARER && strcmp(ch.service, "a,b") == 0);
	CHECK(strcmp(ch.realm, "http://h/t?x=1") == 0);

	/* quoted-pair */
	CHECK_RC(reg_challenge_parse("Bearer realm=\"http://h/\\\"q\\\"\"", &ch));
	CHECK(strcmp(ch.realm, "http://h/\"q\"") == 0);

	/* unknown schemes are skipped; a Bearer without realm is unusable */
	CHECK_RC(reg_challenge_parse("Negotiate abc==, Basic realm=x", &ch));
	CHECK(ch.scheme == REG_SCHEME_BASIC);
	CHECK(reg_challenge_parse("Bearer service=x", &ch) == -EPROTO);
	CHECK(reg_challenge_parse("", &ch) == -EPROTO);
	CHECK(reg_challenge_parse(NULL, &ch) == -EPROTO);
	CHECK(reg_challenge_parse("\"junk", &ch) == -EPROTO);

	/* a realm that does not fit is refused, not cut */
	static char big[REGISTRY_URL_MAX + 100];
	int n = snprintf(big, sizeof big, "Bearer realm=\"http://h/");
	memset(big + n, 'a', REGISTRY_URL_MAX);
	snprintf(big + n + REGISTRY_URL_MAX, sizeof big - (size_t)n - REGISTRY_URL_MAX, "\"");
	CHECK(reg_challenge_parse(big, &ch) == -EPROTO);
}

/* A manifest the scripted registry serves, behind auth. */
static const char MANIFEST[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	"\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"size\":2},"
	"\"layers\":[]}";

struct auth_case {
	struct fake_server f;
	struct registry_options o;
	struct registry_client *c;
	struct registry_error err;
	char challenge[300];
};

static void auth_init(struct auth_case *t)
{
	memset(t, 0, sizeof *t);
	fake_options(&t->o);
	t->o.max_retries = 0;
}

static int pull(struct auth_case *t, const struct registry_credentials *cr)
{
	char ref[100];
	snprintf(ref, sizeof ref, "%s/test/img:1", t->f.host);
	struct registry_pull_options po = { .creds = cr };
	struct registry_session *s = fake_session(t->c, ref, &po);
	struct registry_manifest *m = NULL;
	int r = registry_pull_manifest(s, &m, &t->err);
	if (r < 0)
		fprintf(stderr, "  pull: %d %s (code %d)\n", r, t->err.msg, t->err.code);
	registry_manifest_free(m);
	registry_session_close(s);
	return r;
}

/* The token service is a second scripted server; the registry's
 * challenge names it. */
static void token_service(struct fake_server *ts, struct fake_rule *rules, size_t n)
{
	CHECK_RC(fake_start(rules, n, ts));
}

TEST(registry_auth_bearer_anonymous_and_cache)
{
	static struct auth_case t;
	auth_init(&t);
	struct fake_rule tok[] = {
		{ .path = "/token?service=svc&scope=repository%3Atest%2Fimg%3Apull", .auth = "-",
		  .status = 200, .body = "{\"token\":\"T-anon\",\"expires_in\":300}" },
	};
	struct fake_server ts;
	token_service(&ts, tok, 1);
	snprintf(t.challenge, sizeof t.challenge,
		 "WWW-Authenticate: Bearer realm=\"http://%s/token\",service=\"svc\"\r\n", ts.host);
	struct fake_rule reg[] = {
		{ .path = "/v2/test/img/manifests/1", .auth = "Bearer T-anon", .status = 200,
		  .body = MANIFEST },
		{ .path = "/v2/", .status = 401, .headers = t.challenge,
		  .body = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}" },
	};
	CHECK_RC(fake_start(reg, 2, &t.f));
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	CHECK_RC(pull(&t, NULL));
	CHECK(fake_count(&ts, "GET /token", NULL) == 1);
	/* a second pull in the same client: the cached token goes first */
	CHECK_RC(pull(&t, NULL));
	CHECK(fake_count(&ts, "GET /token", NULL) == 1);
	CHECK(fake_count(&t.f, "auth=-", NULL) == 1);
	registry_client_free(t.c);
	fake_stop(&ts);
	fake_stop(&t.f);
}

TEST(registry_auth_bearer_with_basic_credentials)
{
	static struct auth_case t;
	auth_init(&t);
	/* "alice:pw" */
	struct fake_rule tok[] = {
		{ .path = "/token?", .auth = "Basic YWxpY2U6cHc=", .status = 200,
		  .body = "{\"access_token\":\"T-alice\"}" },
		{ .path = "/token?", .auth = "-", .status = 200, .body = "{\"token\":\"T-anon\"}" },
		{ .path = "/token?", .status = 401, .body = "{}" },
	};
	struct fake_server ts;
	token_service(&ts, tok, 3);
	snprintf(t.challenge, sizeof t.challenge,
		 "WWW-Authenticate: Bearer realm=\"http://%s/token\",service=\"svc\"\r\n", ts.host);
	struct fake_rule reg[] = {
		{ .path = "/v2/test/img/manifests/1", .auth = "Bearer T-alice", .status = 200,
		  .body = MANIFEST },
		{ .path = "/v2/test/img/manifests/1", .auth = "Bearer T-anon", .status = 401,
		  .headers = t.challenge,
		  .body = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"insufficient scope\"}]}" },
		{ .path = "/v2/", .status = 401, .headers = t.challenge },
	};
	CHECK_RC(fake_start(reg, 3, &t.f));
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	struct registry_credentials alice = { .username = "alice", .password = "pw" };
	CHECK_RC(pull(&t, &alice));
	CHECK(fake_count(&ts, "GET /token", "auth=Basic YWxpY2U6cHc=", NULL) == 1);
	/* the same, given as "auth" (base64 user:pass): same credentials, cached token */
	struct registry_credentials alice2 = { .auth = "YWxpY2U6cHc=" };
	CHECK_RC(pull(&t, &alice2));
	CHECK(fake_count(&ts, "GET /token", NULL) == 1);
	/* anonymous never gets alice's token: it asks for its own, which the
	 * registry refuses */
	CHECK(pull(&t, NULL) == -EACCES);
	CHECK(t.err.code == CRISP_STATUS_UNAUTHENTICATED);
	CHECK(fake_count(&ts, "GET /token", "auth=-", NULL) == 1);
	/* wrong password: the token service says 401 */
	struct registry_credentials bad = { .username = "alice", .password = "nope" };
	CHECK(pull(&t, &bad) == -EACCES);
	CHECK(t.err.code == CRISP_STATUS_UNAUTHENTICATED);
	CHECK(strstr(t.err.msg, "refused"));
	CHECK(!strstr(t.err.msg, "nope"));
	registry_client_free(t.c);
	fake_stop(&ts);
	fake_stop(&t.f);
}

TEST(registry_auth_token_expiry)
{
	static struct auth_case t;
	auth_init(&t);
	struct fake_rule tok[] = {
		{ .path = "/token?", .status = 200, .body = "{\"token\":\"T1\",\"expires_in\":1}" },
	};
	struct fake_server ts;
	token_service(&ts, tok, 1);
	snprintf(t.challenge, sizeof t.challenge,
		 "WWW-Authenticate: Bearer realm=\"http://%s/token\",service=\"svc\"\r\n", ts.host);
	struct fake_rule reg[] = {
		{ .path = "/v2/test/img/manifests/1", .auth = "Bearer T1", .status = 200, .body = MANIFEST },
		{ .path = "/v2/", .status = 401, .headers = t.challenge },
	};
	CHECK_RC(fake_start(reg, 2, &t.f));
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	CHECK_RC(pull(&t, NULL));
	CHECK_RC(pull(&t, NULL));
	CHECK(fake_count(&ts, "GET /token", NULL) == 1);
	usleep(1100 * 1000);
	CHECK_RC(pull(&t, NULL));
	CHECK(fake_count(&ts, "GET /token", NULL) == 2);
	registry_client_free(t.c);
	fake_stop(&ts);
	fake_stop(&t.f);
}

TEST(registry_auth_identity_token_refresh_grant)
{
	static struct auth_case t;
	auth_init(&t);
	struct fake_rule tok[] = {
		{ .method = "POST", .path = "/oauth/token", .status = 200,
		  .body = "{\"access_token\":\"T-oauth\",\"expires_in\":60,\"refresh_token\":\"x\"}" },
	};
	struct fake_server ts;
	token_service(&ts, tok, 1);
	snprintf(t.challenge, sizeof t.challenge,
		 "WWW-Authenticate: Bearer realm=\"http://%s/oauth/token\",service=\"svc\"\r\n", ts.host);
	struct fake_rule reg[] = {
		{ .path = "/v2/test/img/manifests/1", .auth = "Bearer T-oauth", .status = 200,
		  .body = MANIFEST },
		{ .path = "/v2/", .status = 401, .headers = t.challenge },
	};
	CHECK_RC(fake_start(reg, 2, &t.f));
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	struct registry_credentials cr = { .identity_token = "refresh+me/please" };
	CHECK_RC(pull(&t, &cr));
	CHECK(fake_count(&ts, "POST /oauth/token", "grant_type=refresh_token",
			 "refresh_token=refresh%2Bme%2Fplease", "scope=repository%3Atest%2Fimg%3Apull",
			 "service=svc", "auth=-", NULL) == 1);
	registry_client_free(t.c);
	fake_stop(&ts);
	fake_stop(&t.f);
}

TEST(registry_auth_registry_token_sent_as_is)
{
	static struct auth_case t;
	auth_init(&t);
	struct fake_rule reg[] = {
		{ .path = "/v2/test/img/manifests/1", .auth = "Bearer RT", .status = 200, .body = MANIFEST },
		{ .path = "/v2/", .status = 401,
		  .headers = "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:1/token\"\r\n" },
	};
	CHECK_RC(fake_start(reg, 2, &t.f));
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	struct registry_credentials cr = { .registry_token = "RT" };
	CHECK_RC(pull(&t, &cr));
	CHECK(fake_count(&t.f, "GET /v2/test/img/manifests/1", "auth=Bearer RT", NULL) == 1);
	/* a refused registry token is final: no token service is asked */
	struct registry_credentials bad = { .registry_token = "old" };
	CHECK(pull(&t, &bad) == -EACCES);
	CHECK(t.err.code == CRISP_STATUS_UNAUTHENTICATED);
	CHECK(strstr(t.err.msg, "refused"));
	registry_client_free(t.c);
	fake_stop(&t.f);
}

TEST(registry_auth_basic)
{
	static struct auth_case t;
	auth_init(&t);
	/* "bob:s3cret" */
	struct fake_rule reg[] = {
		{ .path = "/v2/test/img/manifests/1", .auth = "Basic Ym9iOnMzY3JldA==", .status = 200,
		  .body = MANIFEST },
		{ .path = "/v2/", .status = 401, .headers = "WWW-Authenticate: Basic realm=\"r\"\r\n",
		  .body = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}" },
	};
	CHECK_RC(fake_start(reg, 2, &t.f));
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	struct registry_credentials bob = { .username = "bob", .password = "s3cret" };
	CHECK_RC(pull(&t, &bob));
	CHECK(pull(&t, NULL) == -EACCES);
	CHECK(t.err.code == CRISP_STATUS_UNAUTHENTICATED);
	CHECK(strstr(t.err.msg, "authentication required"));
	struct registry_credentials bad = { .username = "bob", .password = "wrong-pw" };
	CHECK(pull(&t, &bad) == -EACCES);
	CHECK(strstr(t.err.msg, "refused") && !strstr(t.err.msg, "wrong-pw"));
	/* the request's credentials are not for another server */
	struct registry_credentials other = { .username = "bob", .password = "s3cret",
					      .server_address = "https://quay.io" };
	CHECK(pull(&t, &other) == -EACCES);
	struct registry_credentials mine = { .username = "bob", .password = "s3cret",
					     .server_address = t.f.host };
	CHECK_RC(pull(&t, &mine));
	struct registry_credentials garbage = { .auth = "not base64!" };
	char ref[100];
	snprintf(ref, sizeof ref, "%s/test/img:1", t.f.host);
	struct image_ref r;
	struct registry_session *s = NULL;
	CHECK_RC(image_ref_parse(ref, &r, NULL));
	CHECK(registry_session_open(t.c, &r, &(struct registry_pull_options){ .creds = &garbage },
				    &s, &t.err) == -EINVAL);
	CHECK(t.err.code == CRISP_STATUS_INVALID_ARGUMENT);
	registry_client_free(t.c);
	fake_stop(&t.f);
}

TEST(registry_auth_forbidden)
{
	static struct auth_case t;
	auth_init(&t);
	struct fake_rule reg[] = {
		{ .path = "/v2/", .status = 403,
		  .body = "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource is denied\"}]}" },
	};
	CHECK_RC(fake_start(reg, 1, &t.f));
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	CHECK(pull(&t, NULL) == -EPERM);
	CHECK(t.err.code == CRISP_STATUS_PERMISSION_DENIED);
	CHECK(strstr(t.err.msg, "DENIED"));
	registry_client_free(t.c);
	fake_stop(&t.f);
}

TEST(registry_auth_no_credentials_to_plain_http_realm)
{
	static struct auth_case t;
	auth_init(&t);
	struct fake_rule reg[] = {
		{ .path = "/v2/", .status = 401,
		  .headers = "WWW-Authenticate: Bearer realm=\"http://auth.example.invalid/token\"\r\n" },
	};
	CHECK_RC(fake_start(reg, 1, &t.f));
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	struct registry_credentials bob = { .username = "bob", .password = "s3cret" };
	CHECK(pull(&t, &bob) == -EPROTO);
	CHECK(t.err.code == CRISP_STATUS_FAILED_PRECONDITION);
	CHECK(strstr(t.err.msg, "plain-http"));
	/* and a realm that is not http(s) at all */
	fake_stop(&t.f);
	struct fake_rule reg2[] = {
		{ .path = "/v2/", .status = 401,
		  .headers = "WWW-Authenticate: Bearer realm=\"file:///etc/passwd\"\r\n" },
	};
	CHECK_RC(fake_start(reg2, 1, &t.f));
	CHECK(pull(&t, NULL) == -EPROTO);
	CHECK(strstr(t.err.msg, "not an http(s) URL"));
	registry_client_free(t.c);
	fake_stop(&t.f);
}

TEST(registry_auth_token_service_garbage)
{
	static struct auth_case t;
	auth_init(&t);
	struct fake_rule tok[] = {
		{ .path = "/token", .times = 1, .status = 200, .body = "{\"token\":\"bad\\r\\ninjected: 1\"}" },
		{ .path = "/token", .status = 200, .body = "not json" },
	};
	struct fake_server ts;
	token_service(&ts, tok, 2);
	snprintf(t.challenge, sizeof t.challenge,
		 "WWW-Authenticate: Bearer realm=\"http://%s/token\"\r\n", ts.host);
	struct fake_rule reg[] = { { .path = "/v2/", .status = 401, .headers = t.challenge } };
	CHECK_RC(fake_start(reg, 1, &t.f));
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	CHECK(pull(&t, NULL) == -EPROTO);
	CHECK(strstr(t.err.msg, "no usable token"));
	CHECK(pull(&t, NULL) == -EPROTO);
	registry_client_free(t.c);
	fake_stop(&ts);
	fake_stop(&t.f);
}
