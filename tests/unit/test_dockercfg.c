/*
 * test_dockercfg: docker config.json credentials: server key
 * normalisation, "auth" decoding, the fields an entry may have, exact and
 * wildcard matches, and the files that must be refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "imaged/dockercfg.h"
#include "tests/unit/unit.h"

static void key_is(const char *in, const char *want)
{
	char buf[300];
	CHECK_RC(dockercfg_server_key(in, buf, sizeof buf));
	if (strcmp(buf, want) != 0) {
		fprintf(stderr, "  %s -> %s, want %s\n", in, buf, want);
		CHECK(!"key");
	}
}

TEST(dockercfg_server_keys)
{
	key_is("https://index.docker.io/v1/", "docker.io");
	key_is("index.docker.io", "docker.io");
	key_is("registry-1.docker.io", "docker.io");
	key_is("docker.io", "docker.io");
	key_is("HTTP://Quay.IO/some/path", "quay.io");
	key_is("127.0.0.1:5000", "127.0.0.1:5000");
	key_is("[::1]:5000", "[::1]:5000");
	key_is("*.gcr.io", "*.gcr.io");
	char buf[8];
	CHECK(dockercfg_server_key("", buf, sizeof buf) == -EINVAL);
	CHECK(dockercfg_server_key("https://", buf, sizeof buf) == -EINVAL);
	CHECK(dockercfg_server_key("a host", buf, sizeof buf) == -EINVAL);
	CHECK(dockercfg_server_key("toolong.example.com", buf, sizeof buf) == -EINVAL);
}

TEST(dockercfg_decode_auth)
{
	char *u = NULL, *p = NULL;
	CHECK_RC(dockercfg_decode_auth("dXNlcjpwYXNz", &u, &p));         /* user:pass */
	CHECK(strcmp(u, "user") == 0 && strcmp(p, "pass") == 0);
	free(u);
	free(p);
	CHECK_RC(dockercfg_decode_auth("dTpwOnE=", &u, &p));             /* u:p:q */
	CHECK(strcmp(u, "u") == 0 && strcmp(p, "p:q") == 0);
	free(u);
	free(p);
	CHECK_RC(dockercfg_decode_auth("dTpwOnE", &u, &p));              /* padding left out */
	CHECK(strcmp(p, "p:q") == 0);
	free(u);
	free(p);
	CHECK_RC(dockercfg_decode_auth("dTo=", &u, &p));                 /* u: (empty password) */
	CHECK(strcmp(u, "u") == 0 && strcmp(p, "") == 0);
	free(u);
	free(p);
	u = p = NULL;
	CHECK(dockercfg_decode_auth("dXNlcg==", &u, &p) == -EINVAL);     /* "user": no colon */
	CHECK(dockercfg_decode_auth("OnBhc3M=", &u, &p) == -EINVAL);     /* ":pass": no user */
	CHECK(dockercfg_decode_auth("!!!!", &u, &p) == -EINVAL);
	CHECK(dockercfg_decode_auth("", &u, &p) == -EINVAL);
	CHECK(dockercfg_decode_auth("dQA6cA==", &u, &p) == -EINVAL);     /* "u\0:p" */
	CHECK(u == NULL && p == NULL);
}

static const char *cfg_write(const char *text)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/config.json", unit_tmpdir());
	FILE *f = fopen(path, "we");
	CHECK(f);
	fputs(text, f);
	fclose(f);
	return path;
}

TEST(dockercfg_lookup_entries)
{
	const char *path = cfg_write(
		"{\"auths\":{"
		"\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1Yi1wdw==\"},"
		"\"quay.io\":{\"username\":\"q\",\"password\":\"q-pw\"},"
		"\"*.gcr.io\":{\"auth\":\"d2lsZDp3aWxk\"},"
		"\"eu.gcr.io\":{\"auth\":\"ZXU6ZXU=\"},"
		"\"id.example.com\":{\"identitytoken\":\"idt\"},"
		"\"rt.example.com\":{\"registrytoken\":\"rt\"},"
		"\"store.example.com\":{},"
		"\"127.0.0.1:5000\":{\"auth\":\"bG9jYWw6bG9jYWw=\"}"
		"},\"credsStore\":\"secretservice\"}");
	struct dockercfg_auth a = { 0 };
	CHECK_RC(dockercfg_lookup(path, "docker.io", &a));
	CHECK(strcmp(a.username, "hub") == 0 && strcmp(a.password, "hub-pw") == 0);
	dockercfg_auth_clear(&a);
	CHECK(a.username == NULL);
	CHECK_RC(dockercfg_lookup(path, "quay.io", &a));
	CHECK(strcmp(a.username, "q") == 0 && strcmp(a.password, "q-pw") == 0);
	dockercfg_auth_clear(&a);
	CHECK_RC(dockercfg_lookup(path, "us.gcr.io", &a));              /* wildcard */
	CHECK(strcmp(a.username, "wild") == 0);
	dockercfg_auth_clear(&a);
	CHECK_RC(dockercfg_lookup(path, "eu.gcr.io", &a));              /* exact wins */
	CHECK(strcmp(a.username, "eu") == 0);
	dockercfg_auth_clear(&a);
	CHECK(dockercfg_lookup(path, "gcr.io", &a) == -ENOENT);          /* one label, not zero */
	CHECK(dockercfg_lookup(path, "a.b.gcr.io", &a) == -ENOENT);      /* nor two */
	CHECK_RC(dockercfg_lookup(path, "id.example.com", &a));
	CHECK(a.username == NULL && strcmp(a.identity_token, "idt") == 0);
	dockercfg_auth_clear(&a);
	CHECK_RC(dockercfg_lookup(path, "rt.example.com", &a));
	CHECK(strcmp(a.registry_token, "rt") == 0);
	dockercfg_auth_clear(&a);
	CHECK(dockercfg_lookup(path, "store.example.com", &a) == -ENOENT);
	CHECK_RC(dockercfg_lookup(path, "127.0.0.1:5000", &a));
	CHECK(strcmp(a.username, "local") == 0);
	dockercfg_auth_clear(&a);
	CHECK(dockercfg_lookup(path, "127.0.0.1:5001", &a) == -ENOENT);
	CHECK(dockercfg_lookup(path, "example.org", &a) == -ENOENT);
}

TEST(dockercfg_lookup_refused_files)
{
	struct dockercfg_auth a = { 0 };
	char missing[512];
	snprintf(missing, sizeof missing, "%s/none.json", unit_tmpdir());
	CHECK(dockercfg_lookup(missing, "quay.io", &a) == -ENOENT);
	CHECK(dockercfg_lookup(cfg_write("{\"auths\":"), "quay.io", &a) == -EINVAL);
	CHECK(dockercfg_lookup(cfg_write("[]"), "quay.io", &a) == -EINVAL);
	CHECK(dockercfg_lookup(cfg_write("{\"auths\":[]}"), "quay.io", &a) == -EINVAL);
	CHECK(dockercfg_lookup(cfg_write("{}"), "quay.io", &a) == -ENOENT);
	CHECK(dockercfg_lookup(cfg_write("{\"auths\":{\"quay.io\":{\"auth\":\"%%%\"}}}"), "quay.io", &a) == -EINVAL);
	CHECK(dockercfg_lookup(cfg_write("{\"auths\":{\"quay.io\":{\"auth\":5}}}"), "quay.io", &a) == -EINVAL);
	CHECK(dockercfg_lookup(cfg_write("{\"auths\":{\"quay.io\":\"x\"}}"), "quay.io", &a) == -EINVAL);
	/* over the size cap */
	size_t n = DOCKERCFG_MAX_SIZE + 10;
	char *big = malloc(n + 1);
	CHECK(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	CHECK(dockercfg_lookup(cfg_write(big), "quay.io", &a) == -EFBIG);
	free(big);
	CHECK(a.username == NULL && a.password == NULL);
}
