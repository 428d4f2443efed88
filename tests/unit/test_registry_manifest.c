/*
 * test_registry_manifest: manifests and indexes against the scripted
 * server: media types (OCI, Docker schema2, lists; schema1 and artifacts
 * refused), the platform pick, digest checks (by digest, index entry,
 * Docker-Content-Digest), descriptor checks, size caps (Content-Length
 * and streamed), configs; and the platform matcher on its own.
 */
#include <errno.h>
#include "imaged/registry_int.h"
#include "tests/unit/registry_fake.h"
#include "tests/unit/unit.h"

#define MT_CFG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"

struct img {
	char config[200];
	char config_digest[DIGEST_STR_SIZE];
	char *manifest;
	char digest[DIGEST_STR_SIZE];
	char path[200];                 /* /v2/test/img/manifests/<digest> */
	const char *mt;
};

static void img_make(struct img *m, const char *arch, const char *manifest_mt, const char *config_mt)
{
	m->mt = manifest_mt;
	snprintf(m->config, sizeof m->config, "{\"architecture\":\"%s\",\"os\":\"linux\"}", arch);
	fake_digest(m->config, strlen(m->config), m->config_digest);
	CHECK(asprintf(&m->manifest,
		       "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
		       "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"" MT_LAYER "\","
		       "\"digest\":\"sha256:%064d\",\"size\":3}]}",
		       manifest_mt, config_mt, m->config_digest, strlen(m->config), 7) > 0);
	fake_digest(m->manifest, strlen(m->manifest), m->digest);
	snprintf(m->path, sizeof m->path, "/v2/test/img/manifests/%s", m->digest);
}

struct man_case {
	struct fake_server f;
	struct registry_options o;
	struct registry_client *c;
	struct registry_manifest *m;
	struct registry_error err;
	struct registry_platform plat;
	bool use_plat;
};

static void man_start(struct man_case *t, struct fake_rule *rules, size_t n)
{
	CHECK_RC(fake_start(rules, n, &t->f));
	if (!t->o.max_manifest_size)
		fake_options(&t->o);
	t->o.max_retries = 0;
	CHECK_RC(registry_client_new(&t->o, &t->c, &t->err));
}

static int man_pull(struct man_case *t, const char *object)
{
	char ref[300];
	snprintf(ref, sizeof ref, "%s/test/img%s%s", t->f.host, strchr(object, ':') ? "@" : ":", object);
	struct registry_pull_options po = { .platform = t->use_plat ? &t->plat : NULL };
	struct registry_session *s = fake_session(t->c, ref, &po);
	registry_manifest_free(t->m);
	t->m = NULL;
	int r = registry_pull_manifest(s, &t->m, &t->err);
	if (r < 0)
		fprintf(stderr, "  pull %s: %d %s (code %d)\n", object, r, t->err.msg, t->err.code);
	registry_session_close(s);
	return r;
}

static void man_end(struct man_case *t)
{
	registry_manifest_free(t->m);
	registry_client_free(t->c);
	fake_stop(&t->f);
}

TEST(registry_manifest_oci_by_tag_and_digest)
{
	static struct man_case t;
	struct img a;
	img_make(&a, "amd64", REGISTRY_MT_OCI_MANIFEST, MT_CFG);
	char hdr[200];
	snprintf(hdr, sizeof hdr, "Content-Type: %s\r\nDocker-Content-Digest: %s\r\n",
		 REGISTRY_MT_OCI_MANIFEST, a.digest);
	char cfg_path[200];
	snprintf(cfg_path, sizeof cfg_path, "/v2/test/img/blobs/%s", a.config_digest);
	struct fake_rule rules[] = {
		{ .path = "/v2/test/img/manifests/1", .status = 200, .headers = hdr, .body = a.manifest },
		{ .path = a.path, .status = 200, .body = a.manifest },
		{ .path = cfg_path, .status = 200, .body = a.config },
	};
	man_start(&t, rules, 3);
	CHECK_RC(man_pull(&t, "1"));
	CHECK(strcmp(t.m->digest, a.digest) == 0);
	CHECK(strcmp(t.m->media_type, REGISTRY_MT_OCI_MANIFEST) == 0);
	CHECK(t.m->raw_len == strlen(a.manifest) && memcmp(t.m->raw, a.manifest, t.m->raw_len) == 0);
	CHECK(t.m->index_digest[0] == '\0' && t.m->index_raw == NULL);
	CHECK(strcmp(t.m->config.digest, a.config_digest) == 0);
	CHECK(t.m->config.size == (int64_t)strlen(a.config));
	CHECK(t.m->n_layers == 1 && t.m->layers[0].size == 3);
	CHECK(strcmp(t.m->layers[0].media_type, MT_LAYER) == 0);
	CHECK(strncmp(t.m->layers[0].digest, "sha256:0000", 11) == 0);
	/* the Accept header names all four types */
	CHECK_RC(man_pull(&t, a.digest));
	CHECK(strcmp(t.m->digest, a.digest) == 0);

	/* the config, as a small blob */
	char ref[200];
	snprintf(ref, sizeof ref, "%s/test/img:1", t.f.host);
	struct registry_session *s = fake_session(t.c, ref, NULL);
	char *buf;
	size_t len;
	CHECK_RC(registry_pull_small_blob(s, &t.m->config, &buf, &len, &t.err));
	CHECK(len == strlen(a.config) && strcmp(buf, a.config) == 0);
	free(buf);
	/* a config over the cap is refused before any request */
	struct registry_descriptor big = t.m->config;
	big.size = (int64_t)t.o.max_manifest_size + 1;
	CHECK(registry_pull_small_blob(s, &big, &buf, &len, &t.err) == -EFBIG);
	CHECK(t.err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	registry_session_close(s);
	free(a.manifest);
	man_end(&t);
}

TEST(registry_manifest_digest_checks)
{
	static struct man_case t;
	struct img a, b;
	img_make(&a, "amd64", REGISTRY_MT_OCI_MANIFEST, MT_CFG);
	img_make(&b, "arm64", REGISTRY_MT_OCI_MANIFEST, MT_CFG);
	char hdr[200];
	snprintf(hdr, sizeof hdr, "Docker-Content-Digest: %s\r\n", b.digest);
	struct fake_rule rules[] = {
		/* by digest: the registry sends other bytes */
		{ .path = a.path, .status = 200, .body = b.manifest },
		/* by tag: the header disagrees with the bytes */
		{ .path = "/v2/test/img/manifests/liar", .status = 200, .headers = hdr, .body = a.manifest },
	};
	man_start(&t, rules, 2);
	CHECK(man_pull(&t, a.digest) == -EBADMSG);
	CHECK(t.err.code == CRISP_STATUS_DATA_LOSS);
	CHECK(strstr(t.err.msg, b.digest));
	CHECK(man_pull(&t, "liar") == -EBADMSG);
	CHECK(t.err.code == CRISP_STATUS_DATA_LOSS);
	free(a.manifest);
	free(b.manifest);
	man_end(&t);
}

static char *index_make(const char *mt, struct img **imgs, const char *const *plats, size_t n,
			long long size_delta)
{
	char *s = NULL, *entries = strdup("");
	for (size_t i = 0; i < n; i++) {
		char os[32], arch[32], variant[32] = "";
		CHECK(sscanf(plats[i], "%31[^/]/%31[^/]/%31s", os, arch, variant) >= 2);
		char *e;
		CHECK(asprintf(&e, "%s%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld,"
			       "\"platform\":{\"os\":\"%s\",\"architecture\":\"%s\"%s%s%s}}",
			       entries, i ? "," : "", imgs[i]->mt, imgs[i]->digest,
			       (long long)strlen(imgs[i]->manifest) + size_delta, os, arch,
			       variant[0] ? ",\"variant\":\"" : "", variant, variant[0] ? "\"" : "") > 0);
		free(entries);
		entries = e;
	}
	CHECK(asprintf(&s, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[%s]}", mt,
		       entries) > 0);
	free(entries);
	return s;
}

TEST(registry_manifest_index_platform_pick)
{
	static struct man_case t;
	struct img a, b, c;
	img_make(&a, "arm64", REGISTRY_MT_OCI_MANIFEST, MT_CFG);
	img_make(&b, "amd64", REGISTRY_MT_OCI_MANIFEST, MT_CFG);
	img_make(&c, "arm", REGISTRY_MT_OCI_MANIFEST, MT_CFG);
	struct img *imgs[] = { &a, &b, &c };
	const char *plats[] = { "linux/arm64/v8", "linux/amd64", "linux/arm/v7" };
	char *idx = index_make(REGISTRY_MT_OCI_INDEX, imgs, plats, 3, 0);
	char idx_digest[DIGEST_STR_SIZE];
	fake_digest(idx, strlen(idx), idx_digest);
	char hdr[200];
	snprintf(hdr, sizeof hdr, "Content-Type: %s\r\n", REGISTRY_MT_OCI_INDEX);
	struct fake_rule rules[] = {
		{ .path = "/v2/test/img/manifests/multi", .status = 200, .headers = hdr, .body = idx },
		{ .path = a.path, .status = 200, .body = a.manifest },
		{ .path = b.path, .status = 200, .body = b.manifest },
		{ .path = c.path, .status = 200, .body = c.manifest },
	};
	man_start(&t, rules, 4);
	/* this node (the tests run where crisp is built) */
	struct registry_platform host;
	registry_platform_host(&host);
	CHECK_RC(man_pull(&t, "multi"));
	CHECK(strcmp(t.m->index_digest, idx_digest) == 0);
	CHECK(strcmp(t.m->index_media_type, REGISTRY_MT_OCI_INDEX) == 0);
	CHECK(t.m->index_len == strlen(idx) && memcmp(t.m->index_raw, idx, t.m->index_len) == 0);
	if (strcmp(host.architecture, "amd64") == 0) {
		CHECK(strcmp(t.m->digest, b.digest) == 0);
		CHECK(strcmp(t.m->platform.architecture, "amd64") == 0);
	}
	t.use_plat = true;
	t.plat = (struct registry_platform){ .os = "linux", .architecture = "arm64" };
	CHECK_RC(man_pull(&t, "multi"));
	CHECK(strcmp(t.m->digest, a.digest) == 0);
	CHECK(strcmp(t.m->platform.variant, "v8") == 0);
	t.plat = (struct registry_platform){ .os = "linux", .architecture = "amd64" };
	CHECK_RC(man_pull(&t, "multi"));
	CHECK(strcmp(t.m->digest, b.digest) == 0);
	t.plat = (struct registry_platform){ .os = "linux", .architecture = "arm", .variant = "v7" };
	CHECK_RC(man_pull(&t, "multi"));
	CHECK(strcmp(t.m->digest, c.digest) == 0);
	/* an armv6 node cannot run the v7 image */
	t.plat = (struct registry_platform){ .os = "linux", .architecture = "arm", .variant = "v6" };
	CHECK(man_pull(&t, "multi") == -ENOENT);
	CHECK(t.err.code == CRISP_STATUS_NOT_FOUND);
	CHECK(strstr(t.err.msg, "linux/arm/v6") && strstr(t.err.msg, "linux/arm64/v8, linux/amd64, linux/arm/v7"));
	t.plat = (struct registry_platform){ .os = "linux", .architecture = "s390x" };
	CHECK(man_pull(&t, "multi") == -ENOENT);
	/* by the index's digest */
	t.plat = (struct registry_platform){ .os = "linux", .architecture = "amd64" };
	fake_stop(&t.f);
	char by_digest[200];
	snprintf(by_digest, sizeof by_digest, "/v2/test/img/manifests/%s", idx_digest);
	rules[0].path = by_digest;
	CHECK_RC(fake_start(rules, 4, &t.f));
	CHECK_RC(man_pull(&t, idx_digest));
	CHECK(strcmp(t.m->digest, b.digest) == 0 && strcmp(t.m->index_digest, idx_digest) == 0);
	free(idx);
	free(a.manifest);
	free(b.manifest);
	free(c.manifest);
	man_end(&t);
}

TEST(registry_manifest_docker_list)
{
	static struct man_case t;
	struct img a, b;
	img_make(&a, "amd64", REGISTRY_MT_DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json");
	img_make(&b, "arm64", REGISTRY_MT_DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json");
	struct img *imgs[] = { &a, &b };
	const char *plats[] = { "linux/amd64", "linux/arm64" };
	char *idx = index_make(REGISTRY_MT_DOCKER_LIST, imgs, plats, 2, 0);
	/* and an index entry whose size is a lie */
	char *liar = index_make(REGISTRY_MT_DOCKER_LIST, imgs, plats, 2, 1);
	struct fake_rule rules[] = {
		{ .path = "/v2/test/img/manifests/list", .status = 200, .body = idx },
		{ .path = "/v2/test/img/manifests/liar", .status = 200, .body = liar },
		{ .path = a.path, .status = 200, .body = a.manifest },
		{ .path = b.path, .status = 200, .body = b.manifest },
	};
	man_start(&t, rules, 4);
	t.use_plat = true;
	t.plat = (struct registry_platform){ .os = "linux", .architecture = "arm64" };
	CHECK_RC(man_pull(&t, "list"));
	CHECK(strcmp(t.m->digest, b.digest) == 0);
	CHECK(strcmp(t.m->media_type, REGISTRY_MT_DOCKER_MANIFEST) == 0);
	CHECK(strcmp(t.m->index_media_type, REGISTRY_MT_DOCKER_LIST) == 0);
	CHECK(strcmp(t.m->config.media_type, "application/vnd.docker.container.image.v1+json") == 0);
	CHECK(man_pull(&t, "liar") == -EBADMSG);
	CHECK(t.err.code == CRISP_STATUS_DATA_LOSS);
	free(idx);
	free(liar);
	free(a.manifest);
	free(b.manifest);
	man_end(&t);
}

TEST(registry_manifest_refused_kinds)
{
	static struct man_case t;
	static const char schema1[] = "{\"schemaVersion\":1,\"name\":\"test/img\",\"tag\":\"1\",\"fsLayers\":[]}";
	static const char helm[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\",\"digest\":"
		"\"sha256:1111111111111111111111111111111111111111111111111111111111111111\",\"size\":1},"
		"\"layers\":[]}";
	static const char odd[] = "{\"schemaVersion\":2,\"mediaType\":\"application/x-odd\"}";
	static const char notjson[] = "<html>hello</html>";
	static const char sha512[] =
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":\"sha512:"
		"11111111111111111111111111111111111111111111111111111111111111111111111111111111"
		"111111111111111111111111111111111111111111111111\",\"size\":1},\"layers\":[]}";
	static const char baddigest[] =
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":\"sha256:../../etc\","
		"\"size\":1},\"layers\":[]}";
	static const char negsize[] =
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":\"sha256:"
		"1111111111111111111111111111111111111111111111111111111111111111\",\"size\":-1},\"layers\":[]}";
	static const char nolayers[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" REGISTRY_MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\""
		MT_CFG "\",\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\","
		"\"size\":1}}";
	struct fake_rule rules[] = {
		{ .path = "/v2/test/img/manifests/schema1", .status = 200, .body = schema1,
		  .headers = "Content-Type: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n" },
		{ .path = "/v2/test/img/manifests/helm", .status = 200, .body = helm },
		{ .path = "/v2/test/img/manifests/odd", .status = 200, .body = odd },
		{ .path = "/v2/test/img/manifests/notjson", .status = 200, .body = notjson },
		{ .path = "/v2/test/img/manifests/sha512", .status = 200, .body = sha512 },
		{ .path = "/v2/test/img/manifests/baddigest", .status = 200, .body = baddigest },
		{ .path = "/v2/test/img/manifests/negsize", .status = 200, .body = negsize },
		{ .path = "/v2/test/img/manifests/nolayers", .status = 200, .body = nolayers },
		{ .path = "/v2/test/img/manifests/gone", .status = 404,
		  .body = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}" },
	};
	man_start(&t, rules, 9);
	static const struct { const char *tag; int r, code; const char *msg; } cases[] = {
		{ "schema1", -EPROTO, CRISP_STATUS_FAILED_PRECONDITION, "schema1" },
		{ "helm", -EPROTO, CRISP_STATUS_FAILED_PRECONDITION, "not a container image" },
		{ "odd", -EPROTO, CRISP_STATUS_FAILED_PRECONDITION, "unsupported manifest media type" },
		{ "notjson", -EPROTO, CRISP_STATUS_FAILED_PRECONDITION, "not a JSON object" },
		{ "sha512", -EPROTO, CRISP_STATUS_FAILED_PRECONDITION, "sha256 only" },
		{ "baddigest", -EPROTO, CRISP_STATUS_FAILED_PRECONDITION, "invalid digest" },
		{ "negsize", -EPROTO, CRISP_STATUS_FAILED_PRECONDITION, "descriptor" },
		{ "nolayers", -EPROTO, CRISP_STATUS_FAILED_PRECONDITION, "config and layers" },
		{ "gone", -ENOENT, CRISP_STATUS_NOT_FOUND, "MANIFEST_UNKNOWN" },
		{ "absent", -ENOENT, CRISP_STATUS_NOT_FOUND, "not found" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int r = man_pull(&t, cases[i].tag);
		if (r != cases[i].r || t.err.code != cases[i].code || !strstr(t.err.msg, cases[i].msg)) {
			fprintf(stderr, "  %s: want %d/%d \"%s\"\n", cases[i].tag, cases[i].r,
				cases[i].code, cases[i].msg);
			CHECK(!"refused as expected");
		}
	}
	man_end(&t);
}

TEST(registry_manifest_without_media_type)
{
	static struct man_case t;
	static const char plain[] =
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":\"sha256:"
		"1111111111111111111111111111111111111111111111111111111111111111\",\"size\":1},\"layers\":[]}";
	struct fake_rule rules[] = {
		{ .path = "/v2/test/img/manifests/shape", .status = 200, .body = plain },
		{ .path = "/v2/test/img/manifests/ctype", .status = 200, .body = plain,
		  .headers = "Content-Type: application/vnd.docker.distribution.manifest.v2+json; charset=x\r\n" },
	};
	man_start(&t, rules, 2);
	CHECK_RC(man_pull(&t, "shape"));
	CHECK(strcmp(t.m->media_type, REGISTRY_MT_OCI_MANIFEST) == 0);
	CHECK(t.m->n_layers == 0);
	CHECK_RC(man_pull(&t, "ctype"));
	CHECK(strcmp(t.m->media_type, REGISTRY_MT_DOCKER_MANIFEST) == 0);
	man_end(&t);
}

TEST(registry_manifest_size_caps)
{
	static struct man_case t;
	/* a 10 MiB manifest: announced by Content-Length, and streamed without one */
	size_t big = 10u << 20;
	char *huge = malloc(big);
	CHECK(huge);
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	struct fake_rule rules[] = {
		{ .path = "/v2/test/img/manifests/announced", .status = 200, .body = huge, .body_len = big },
		{ .path = "/v2/test/img/manifests/streamed", .status = 200, .body = huge, .body_len = big,
		  .no_length = true },
		{ .path = "/v2/test/img/manifests/small", .status = 200, .body = huge, .body_len = 1200 },
	};
	man_start(&t, rules, 3);
	CHECK(t.o.max_manifest_size == 4u << 20);
	CHECK(man_pull(&t, "announced") == -EFBIG);
	CHECK(t.err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	CHECK(strstr(t.err.msg, "Content-Length"));
	CHECK(man_pull(&t, "streamed") == -EFBIG);
	CHECK(t.err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	CHECK(strstr(t.err.msg, "body is over"));
	registry_client_free(t.c);
	/* a smaller cap */
	fake_options(&t.o);
	t.o.max_manifest_size = 1000;
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	CHECK(man_pull(&t, "small") == -EFBIG);
	free(huge);
	man_end(&t);
}

TEST(registry_manifest_too_many_layers)
{
	static struct man_case t;
	char *layers = strdup(""), *m;
	for (int i = 0; i < REGISTRY_LAYERS_MAX + 1; i++) {
		char *n;
		CHECK(asprintf(&n, "%s%s{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"sha256:%064d\",\"size\":1}",
			       layers, i ? "," : "", i) > 0);
		free(layers);
		layers = n;
	}
	CHECK(asprintf(&m, "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":"
		       "\"sha256:%064d\",\"size\":1},\"layers\":[%s]}", 1, layers) > 0);
	struct fake_rule rules[] = { { .path = "/v2/test/img/manifests/", .status = 200, .body = m } };
	man_start(&t, rules, 1);
	CHECK(man_pull(&t, "many") == -EFBIG);
	CHECK(t.err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	free(layers);
	free(m);
	man_end(&t);
}

TEST(registry_platform_score)
{
	struct registry_platform amd64 = { "linux", "amd64", "" }, arm7 = { "linux", "arm", "v7" },
				 arm64 = { "linux", "arm64", "" }, host;
	CHECK(reg_platform_score(&amd64, "linux", "amd64", NULL) == 1000);
	CHECK(reg_platform_score(&amd64, "linux", "x86_64", "") == 1000);
	CHECK(reg_platform_score(&amd64, "linux", "amd64", "v1") == 1000);
	CHECK(reg_platform_score(&amd64, "linux", "amd64", "v3") < 0);
	CHECK(reg_platform_score(&amd64, "windows", "amd64", NULL) < 0);
	CHECK(reg_platform_score(&amd64, NULL, "amd64", NULL) < 0);
	CHECK(reg_platform_score(&amd64, "linux", "arm64", NULL) < 0);
	CHECK(reg_platform_score(&amd64, "linux", NULL, NULL) < 0);
	CHECK(reg_platform_score(&arm64, "linux", "arm64", "v8") == 1000);
	CHECK(reg_platform_score(&arm64, "linux", "aarch64", NULL) == 1000);
	CHECK(reg_platform_score(&arm7, "linux", "arm", "v7") == 1000);
	CHECK(reg_platform_score(&arm7, "linux", "arm", NULL) == 1000);
	int v6 = reg_platform_score(&arm7, "linux", "arm", "v6");
	int v5 = reg_platform_score(&arm7, "linux", "arm", "v5");
	CHECK(v6 > v5 && v5 > 0 && v6 < 1000);
	CHECK(reg_platform_score(&arm7, "linux", "arm", "v8") < 0);
	registry_platform_host(&host);
	CHECK(strcmp(host.os, "linux") == 0 && host.architecture[0]);
#if defined(__x86_64__)
	CHECK(strcmp(host.architecture, "amd64") == 0 && host.variant[0] == '\0');
#endif
}
