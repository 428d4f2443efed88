/*
 * test_registry_endpoint: where a pull goes and whose credentials go
 * there: loopback detection, mirror URLs, the endpoint list of a session
 * (mirrors in order, docker.io's API host, https with the http fallback
 * for loopback and insecure hosts), credentials per endpoint, and mirrors
 * in action against scripted servers (path kept, fall through on 404 and
 * on a dead mirror, upstream untouched when the mirror serves).
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "imaged/registry_int.h"
#include "tests/unit/registry_fake.h"
#include "tests/unit/unit.h"

TEST(registry_endpoint_loopback)
{
	static const char *yes[] = { "127.0.0.1", "127.1.2.3:5000", "localhost", "LocalHost:80",
				     "[::1]", "[::1]:5000", "[::ffff:127.0.0.1]:1" };
	static const char *no[] = { "10.0.0.1", "128.0.0.1:5000", "localhost.example.com", "[::2]",
				    "127.0.0.1.nip.io", "example.com", "[::1", "" };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		CHECK(reg_authority_is_loopback(yes[i]));
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		CHECK(!reg_authority_is_loopback(no[i]));
}

TEST(registry_endpoint_mirror_urls)
{
	char base[REGISTRY_URL_MAX], auth[REG_AUTHORITY_MAX];
	bool https;
	CHECK_RC(reg_mirror_parse("http://127.0.0.1:5000", base, sizeof base, auth, sizeof auth, &https));
	CHECK(!https && strcmp(base, "http://127.0.0.1:5000") == 0 && strcmp(auth, "127.0.0.1:5000") == 0);
	CHECK_RC(reg_mirror_parse("HTTPS://Mirror.Example.com/pre/fix//", base, sizeof base, auth,
				  sizeof auth, &https));
	CHECK(https && strcmp(base, "https://Mirror.Example.com/pre/fix") == 0);
	CHECK(strcmp(auth, "mirror.example.com") == 0);
	CHECK_RC(reg_mirror_parse("http://[::1]:5000/", base, sizeof base, auth, sizeof auth, &https));
	CHECK(strcmp(base, "http://[::1]:5000") == 0 && strcmp(auth, "[::1]:5000") == 0);
	static const char *bad[] = { "ftp://x", "http://", "http:///x", "127.0.0.1:5000",
				     "http://a b", "http://user:pw@host", "https://h/p?q=1", "https://h/#f" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(reg_mirror_parse(bad[i], base, sizeof base, auth, sizeof auth, &https) == -EINVAL);
}

static struct registry_client *client_with(const struct registry_host_options *h, size_t n,
					   const char *docker_config)
{
	struct registry_options o;
	struct registry_client *c;
	struct registry_error err;
	fake_options(&o);
	o.hosts = h;
	o.n_hosts = n;
	o.docker_config = docker_config;
	int r = registry_client_new(&o, &c, &err);
	if (r < 0)
		fprintf(stderr, "  client: %s\n", err.msg);
	CHECK_RC(r);
	return c;
}

static void expect_ep(const struct registry_session *s, size_t i, const char *base, bool mirror,
		      bool fallback, bool verify)
{
	CHECK(i < s->n_ep);
	const struct reg_endpoint *ep = &s->ep[i];
	if (strcmp(ep->base, base) != 0 || ep->mirror != mirror || ep->fallback != fallback ||
	    ep->tls_verify != verify) {
		fprintf(stderr, "  ep %zu: %s m%d f%d v%d, want %s m%d f%d v%d\n", i, ep->base,
			ep->mirror, ep->fallback, ep->tls_verify, base, mirror, fallback, verify);
		CHECK(!"endpoint");
	}
}

TEST(registry_endpoint_lists)
{
	struct registry_host_options h[] = {
		{ .host = "gcr.io", .n_mirrors = 2,
		  .mirrors = { "http://127.0.0.1:5000", "https://mirror.example.com/v-prefix/" } },
		{ .host = "https://index.docker.io/v1/", .n_mirrors = 1, .mirrors = { "https://mirror.gcr.io" } },
		{ .host = "insecure.example.com", .insecure = true },
		{ .host = "mirror.example.com", .ca_file = "/etc/crisp/mirror-ca.pem" },
	};
	struct registry_client *c = client_with(h, 4, NULL);
	struct registry_session *s = fake_session(c, "gcr.io/a/b:1", NULL);
	CHECK(s->n_ep == 3);
	expect_ep(s, 0, "http://127.0.0.1:5000", true, false, false);
	expect_ep(s, 1, "https://mirror.example.com/v-prefix", true, false, true);
	CHECK(s->ep[1].ca_file && strcmp(s->ep[1].ca_file, "/etc/crisp/mirror-ca.pem") == 0);
	expect_ep(s, 2, "https://gcr.io", false, false, true);
	CHECK(strcmp(s->scope, "repository:a/b:pull") == 0);
	registry_session_close(s);

	s = fake_session(c, "busybox", NULL);
	CHECK(s->n_ep == 2);
	expect_ep(s, 0, "https://mirror.gcr.io", true, false, true);
	expect_ep(s, 1, "https://registry-1.docker.io", false, false, true);
	CHECK(strcmp(s->scope, "repository:library/busybox:pull") == 0);
	registry_session_close(s);

	s = fake_session(c, "quay.io/x/y", NULL);
	CHECK(s->n_ep == 1);
	expect_ep(s, 0, "https://quay.io", false, false, true);
	registry_session_close(s);

	s = fake_session(c, "insecure.example.com/x", NULL);
	CHECK(s->n_ep == 2);
	expect_ep(s, 0, "https://insecure.example.com", false, false, false);
	expect_ep(s, 1, "http://insecure.example.com", false, true, false);
	registry_session_close(s);

	s = fake_session(c, "localhost:5000/x", NULL);
	CHECK(s->n_ep == 2);
	expect_ep(s, 0, "https://localhost:5000", false, false, false);
	expect_ep(s, 1, "http://localhost:5000", false, true, false);
	registry_session_close(s);

	s = fake_session(c, "[::1]:5000/x", NULL);
	expect_ep(s, 1, "http://[::1]:5000", false, true, false);
	registry_session_close(s);
	registry_client_free(c);
}

TEST(registry_endpoint_bad_options)
{
	struct registry_options o;
	struct registry_client *c;
	struct registry_error err;
	struct registry_host_options h[] = {
		{ .host = "gcr.io", .n_mirrors = 1, .mirrors = { "ftp://m" } },
	};
	fake_options(&o);
	o.hosts = h;
	o.n_hosts = 1;
	CHECK(registry_client_new(&o, &c, &err) == -EINVAL);
	CHECK(err.code == CRISP_STATUS_INVALID_ARGUMENT && strstr(err.msg, "ftp://m"));
	h[0] = (struct registry_host_options){ .host = "bad host!" };
	CHECK(registry_client_new(&o, &c, &err) == -EINVAL);
	h[0] = (struct registry_host_options){ .host = "gcr.io", .n_mirrors = REGISTRY_MIRRORS_MAX + 1 };
	CHECK(registry_client_new(&o, &c, &err) == -EINVAL);
	h[0] = (struct registry_host_options){ .host = NULL };
	CHECK(registry_client_new(&o, &c, &err) == -EINVAL);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	CHECK(f);
	fputs(text, f);
	fclose(f);
}

TEST(registry_endpoint_credentials_per_endpoint)
{
	char cfg[512];
	snprintf(cfg, sizeof cfg, "%s/config.json", unit_tmpdir());
	/* gcr-user:gcr-pw, mirror-user:mirror-pw */
	write_file(cfg, "{\"auths\":{\"https://gcr.io\":{\"auth\":\"Z2NyLXVzZXI6Z2NyLXB3\"},"
			"\"127.0.0.1:5000\":{\"auth\":\"bWlycm9yLXVzZXI6bWlycm9yLXB3\"}}}");
	struct registry_host_options h[] = {
		{ .host = "gcr.io", .n_mirrors = 2, .mirrors = { "http://127.0.0.1:5000", "http://127.0.0.1:6000" } },
	};
	struct registry_client *c = client_with(h, 1, cfg);

	/* no request credentials: the config's, per endpoint */
	struct registry_session *s = fake_session(c, "gcr.io/a/b", NULL);
	CHECK(s->ep[0].creds.username && strcmp(s->ep[0].creds.username, "mirror-user") == 0);
	CHECK(s->ep[1].creds.username == NULL);
	CHECK(strcmp(s->ep[1].creds.fp, "anonymous") == 0);
	CHECK(strcmp(s->ep[2].creds.username, "gcr-user") == 0 &&
	      strcmp(s->ep[2].creds.password, "gcr-pw") == 0);
	CHECK(strcmp(s->ep[0].creds.fp, s->ep[2].creds.fp) != 0);
	registry_session_close(s);

	/* the pod's credentials go to gcr.io only, not to the node's mirrors */
	struct registry_credentials pod = { .username = "pod", .password = "pod-pw" };
	struct registry_pull_options po = { .creds = &pod };
	s = fake_session(c, "gcr.io/a/b", &po);
	CHECK(strcmp(s->ep[0].creds.username, "mirror-user") == 0);
	CHECK(s->ep[1].creds.username == NULL);
	CHECK(strcmp(s->ep[2].creds.username, "pod") == 0);
	registry_session_close(s);

	/* ... unless their server_address names the mirror */
	struct registry_credentials for_mirror = { .auth = "cG9kOnBvZC1wdw==",
						   .server_address = "http://127.0.0.1:6000/" };
	po.creds = &for_mirror;
	s = fake_session(c, "gcr.io/a/b", &po);
	CHECK(strcmp(s->ep[1].creds.username, "pod") == 0 && strcmp(s->ep[1].creds.password, "pod-pw") == 0);
	CHECK(strcmp(s->ep[2].creds.username, "gcr-user") == 0);
	registry_session_close(s);

	/* tokens of the request */
	struct registry_credentials tok = { .identity_token = "idt", .registry_token = "rt" };
	po.creds = &tok;
	s = fake_session(c, "gcr.io/a/b", &po);
	CHECK(strcmp(s->ep[2].creds.identity_token, "idt") == 0);
	CHECK(strcmp(s->ep[2].creds.registry_token, "rt") == 0);
	registry_session_close(s);

	/* a malformed config file is an error, not silently anonymous */
	write_file(cfg, "{\"auths\": [");
	struct image_ref r;
	struct registry_error err;
	CHECK_RC(image_ref_parse("gcr.io/a/b", &r, NULL));
	CHECK(registry_session_open(c, &r, NULL, &s, &err) == -EINVAL);
	CHECK(err.code == CRISP_STATUS_FAILED_PRECONDITION && strstr(err.msg, "malformed"));
	/* a missing one is fine */
	unlink(cfg);
	s = fake_session(c, "gcr.io/a/b", NULL);
	registry_session_close(s);
	registry_client_free(c);
}

static const char MANIFEST[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	"\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"size\":2},"
	"\"layers\":[]}";

static int pull_manifest(struct registry_client *c, const char *ref, struct registry_error *err)
{
	struct registry_session *s = fake_session(c, ref, NULL);
	struct registry_manifest *m = NULL;
	int r = registry_pull_manifest(s, &m, err);
	if (r < 0)
		fprintf(stderr, "  %s: %s\n", ref, err->msg);
	registry_manifest_free(m);
	registry_session_close(s);
	return r;
}

TEST(registry_endpoint_mirrors_in_action)
{
	struct fake_rule up_rules[] = {
		{ .path = "/v2/team/app/manifests/1", .status = 200, .body = MANIFEST },
	};
	struct fake_rule empty_rules[] = {
		{ .path = "/v2/", .status = 404,
		  .body = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"not here\"}]}" },
	};
	struct fake_rule full_rules[] = {
		{ .path = "/v2/team/app/manifests/1", .status = 200, .body = MANIFEST },
	};
	struct fake_server up, empty, full;
	CHECK_RC(fake_start(up_rules, 1, &up));
	CHECK_RC(fake_start(empty_rules, 1, &empty));
	CHECK_RC(fake_start(full_rules, 1, &full));
	char m_empty[64], m_full[64], m_dead[64], ref[100];
	snprintf(m_empty, sizeof m_empty, "http://%s", empty.host);
	snprintf(m_full, sizeof m_full, "http://%s", full.host);
	snprintf(m_dead, sizeof m_dead, "http://127.0.0.1:1");
	snprintf(ref, sizeof ref, "%s/team/app:1", up.host);
	struct registry_error err;

	/* a dead mirror and one without the image: on to the registry */
	struct registry_host_options h1[] = {
		{ .host = up.host, .n_mirrors = 2, .mirrors = { m_dead, m_empty } },
	};
	struct registry_client *c = client_with(h1, 1, NULL);
	CHECK_RC(pull_manifest(c, ref, &err));
	CHECK(fake_count(&empty, "GET /v2/team/app/manifests/1", NULL) == 1);
	CHECK(fake_count(&up, "GET /v2/team/app/manifests/1", NULL) == 1);
	registry_client_free(c);

	/* a mirror that has it: the registry is not asked */
	struct registry_host_options h2[] = {
		{ .host = up.host, .n_mirrors = 2, .mirrors = { m_full, m_empty } },
	};
	c = client_with(h2, 1, NULL);
	CHECK_RC(pull_manifest(c, ref, &err));
	CHECK(fake_count(&full, "GET /v2/team/app/manifests/1", NULL) == 1);
	CHECK(fake_count(&up, "GET", NULL) == 1);
	CHECK(fake_count(&empty, "GET", NULL) == 1);
	registry_client_free(c);

	/* a registry that cannot be reached at all, only through its mirror
	 * (registry.k8s.io -> http://127.0.0.1:PORT, no network needed) */
	struct registry_host_options h3[] = {
		{ .host = "registry.k8s.io", .n_mirrors = 1, .mirrors = { m_full } },
	};
	c = client_with(h3, 1, NULL);
	CHECK_RC(pull_manifest(c, "registry.k8s.io/team/app:1", &err));
	CHECK(fake_count(&full, "GET /v2/team/app/manifests/1", NULL) == 2);
	registry_client_free(c);

	/* the registry's own 404 is final, and says so */
	struct registry_host_options h4[] = {
		{ .host = empty.host, .n_mirrors = 1, .mirrors = { m_empty } },
	};
	c = client_with(h4, 1, NULL);
	snprintf(ref, sizeof ref, "%s/team/app:1", empty.host);
	CHECK(pull_manifest(c, ref, &err) == -ENOENT);
	CHECK(err.code == CRISP_STATUS_NOT_FOUND && strstr(err.msg, "MANIFEST_UNKNOWN"));
	CHECK(!strstr(err.msg, "mirror"));
	registry_client_free(c);

	fake_stop(&up);
	fake_stop(&empty);
	fake_stop(&full);
}
