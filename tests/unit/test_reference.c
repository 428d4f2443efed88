/*
 * test_reference: image reference parsing and normalisation, checked
 * against what kubelet/crictl (docker/distribution) make of each input.
 */
#include <errno.h>
#include "imaged/reference.h"
#include "tests/unit/unit.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect(const char *in, const char *want)
{
	struct image_ref r;
	const char *why = NULL;
	int ret = image_ref_parse(in, &r, &why);
	if (ret < 0) {
		fprintf(stderr, "  %s: %s\n", in, why);
		CHECK(ret == 0);
	}
	char out[REF_STRING_MAX];
	CHECK_RC(image_ref_string(&r, out, sizeof out));
	if (strcmp(out, want) != 0) {
		fprintf(stderr, "  %s -> %s, want %s\n", in, out, want);
		CHECK(!"normalised form");
	}
}

static void refuse(const char *in, const char *why_part)
{
	struct image_ref r;
	memset(&r, 0x5a, sizeof r);
	const char *why = NULL;
	int ret = image_ref_parse(in, &r, &why);
	if (ret != -EINVAL || !why || !strstr(why, why_part)) {
		fprintf(stderr, "  %s: ret %d why %s, want -EINVAL with \"%s\"\n", in, ret,
			why ? why : "(none)", why_part);
		CHECK(!"refused");
	}
	CHECK(((unsigned char *)&r)[0] == 0x5a);   /* untouched on failure */
}

TEST(reference_docker_hub_short_names)
{
	expect("busybox", "docker.io/library/busybox:latest");
	expect("busybox:1.36", "docker.io/library/busybox:1.36");
	expect("foo/bar", "docker.io/foo/bar:latest");
	expect("foo/bar/baz:v1", "docker.io/foo/bar/baz:v1");
	expect("docker.io/busybox", "docker.io/library/busybox:latest");
	expect("docker.io/library/busybox:latest", "docker.io/library/busybox:latest");
	expect("index.docker.io/busybox", "docker.io/library/busybox:latest");
	expect("index.docker.io/foo/bar:2", "docker.io/foo/bar:2");
	/* no slash: "localhost:5000" is an image named localhost with tag 5000 */
	expect("localhost:5000", "docker.io/library/localhost:5000");
	expect("localhost", "docker.io/library/localhost:latest");
}

TEST(reference_hosts)
{
	expect("localhost/foo", "localhost/foo:latest");
	expect("localhost:5000/foo/bar:t", "localhost:5000/foo/bar:t");
	expect("127.0.0.1:5000/test/busybox:1", "127.0.0.1:5000/test/busybox:1");
	expect("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9");
	expect("gcr.io/google-containers/pause", "gcr.io/google-containers/pause:latest");
	expect("my-registry:443/a", "my-registry:443/a:latest");
	expect("[::1]:5000/foo", "[::1]:5000/foo:latest");
	expect("[::1]/foo:1", "[::1]/foo:1");
	/* an upper-case first component is a host, as in distribution */
	expect("Registry/foo", "Registry/foo:latest");
	char ref[64];
	CHECK_RC(image_ref_name(&(struct image_ref){ .domain = "quay.io", .path = "a/b" },
				ref, sizeof ref));
	CHECK(strcmp(ref, "quay.io/a/b") == 0);
}

TEST(reference_tags_and_digests)
{
	expect("busybox@sha256:" H64, "docker.io/library/busybox@sha256:" H64);
	expect("busybox:1@sha256:" H64, "docker.io/library/busybox:1@sha256:" H64);
	expect("localhost:5000/x@sha256:" H64, "localhost:5000/x@sha256:" H64);
	expect("a/b:_under.score-1", "docker.io/a/b:_under.score-1");
	expect("a:V1", "docker.io/library/a:V1");
	char tag128[200] = "a:";
	memset(tag128 + 2, 't', 128);
	struct image_ref r;
	CHECK_RC(image_ref_parse(tag128, &r, NULL));
	CHECK(strlen(r.tag) == 128);
	CHECK(strcmp(image_ref_object(&r), r.tag) == 0);
	CHECK_RC(image_ref_parse("busybox:1@sha256:" H64, &r, NULL));
	CHECK(strcmp(image_ref_object(&r), "sha256:" H64) == 0);
}

TEST(reference_path_grammar)
{
	expect("a/b.c", "docker.io/a/b.c:latest");
	expect("a/b_c", "docker.io/a/b_c:latest");
	expect("a/b__c", "docker.io/a/b__c:latest");
	expect("a/b---c", "docker.io/a/b---c:latest");
	expect("a0/9z", "docker.io/a0/9z:latest");
	refuse("a/b___c", "invalid repository name");
	refuse("a/b..c", "invalid repository name");
	refuse("a/.b", "invalid repository name");
	refuse("a/b-", "invalid repository name");
	refuse("a//b", "invalid repository name");
	refuse("a/b/", "invalid repository name");
	refuse("/a", "invalid repository name");
	refuse("a/b+c", "invalid repository name");
}

TEST(reference_refused)
{
	refuse("", "empty");
	refuse("Busybox", "lowercase");
	refuse("docker.io/Foo/bar", "lowercase");
	refuse("foo/Bar", "lowercase");
	refuse("busybox:", "invalid tag");
	refuse("busybox:-x", "invalid tag");
	refuse("busybox:a/b", "invalid registry host");
	refuse(":tag", "empty");
	refuse("@sha256:" H64, "empty");
	refuse("busybox@", "invalid digest");
	refuse("busybox@sha256:abc", "invalid digest");
	refuse("busybox@md5:0123456789abcdef0123456789abcdef", "unsupported digest");
	refuse("busybox@sha512:" H64 H64, "unsupported digest");
	refuse("busybox@sha256:" H64 "0", "invalid digest");
	refuse("busybox@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	       "invalid digest");
	refuse(H64, "image id");
	refuse("bad host!/x", "space");
	refuse("busy box", "space");
	refuse("busybox\n", "control");
	refuse("caf\xc3\xa9/x", "non-ASCII");
	refuse("-host.io/x", "invalid registry host");
	refuse("host-.io/x", "invalid registry host");
	refuse("host..io/x", "invalid registry host");
	refuse("host.io:/x", "invalid registry host");
	refuse("host.io:99999/x", "invalid registry host");
	refuse("host.io:0/x", "invalid registry host");
	refuse("host.io:5x/x", "invalid registry host");
	refuse("[]:5000/x", "invalid registry host");
	refuse("[::1/x", "invalid registry host");
	refuse("[::g]/x", "invalid registry host");
	char tag129[200] = "a:";
	memset(tag129 + 2, 't', 129);
	tag129[131] = '\0';
	refuse(tag129, "invalid tag");
}

TEST(reference_length_caps)
{
	/* 255 bytes of name in total (domain "/" path) */
	char ok[300], bad[300];
	int n = snprintf(ok, sizeof ok, "quay.io/");
	memset(ok + n, 'a', 255 - (size_t)n);
	ok[255] = '\0';
	struct image_ref r;
	CHECK_RC(image_ref_parse(ok, &r, NULL));
	memcpy(bad, ok, 256);
	bad[255] = 'a';
	bad[256] = '\0';
	refuse(bad, "255");
	/* docker.io names count "docker.io/library/" */
	char hub[300];
	memset(hub, 'a', 238);
	hub[238] = '\0';
	refuse(hub, "255");
	hub[237] = '\0';
	CHECK_RC(image_ref_parse(hub, &r, NULL));
	CHECK(strcmp(r.domain, "docker.io") == 0 && strncmp(r.path, "library/", 8) == 0);
	char huge[REF_INPUT_MAX + 10];
	memset(huge, 'a', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	refuse(huge, "too long");
}

TEST(reference_api_host)
{
	CHECK(strcmp(image_ref_api_host("docker.io"), "registry-1.docker.io") == 0);
	CHECK(strcmp(image_ref_api_host("quay.io"), "quay.io") == 0);
	CHECK(strcmp(image_ref_api_host("localhost:5000"), "localhost:5000") == 0);
}
