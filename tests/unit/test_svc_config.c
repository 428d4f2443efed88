/*
 * test_svc_config: the [image] and [registry] keys imaged's image service
 * reads (common/config_file.c): defaults, values, ranges, [registry.HOST]
 * sections with mirror lists that continue on indented lines, booleans,
 * and the errors naming file:line and the key.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include "common/config.h"
#include "tests/unit/unit.h"

static int read_text(struct crisp_config *c, const char *text, char **err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/t.conf", unit_tmpdir());
	FILE *f = fopen(path, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
	CHECK_RC(config_init(c));
	*err = NULL;
	return config_read_file(c, path, err);
}

static void expect_error(const char *text, const char *line_tag, const char *words)
{
	struct crisp_config c;
	char *err = NULL;
	int r = read_text(&c, text, &err);
	if (r != -EINVAL || !err || !strstr(err, line_tag) || !strstr(err, words)) {
		fprintf(stderr, "  r=%d err=%s (wanted %s ... %s)\n", r, err ? err : "(null)",
			line_tag, words);
		CHECK(0);
	}
	free(err);
	config_free(&c);
}

TEST(svc_config_defaults)
{
	struct crisp_config c;
	CHECK_RC(config_init(&c));
	CHECK(c.max_concurrent_pulls == 4);
	CHECK(c.max_concurrent_downloads == 3);
	CHECK(c.max_manifest_size == 4u << 20);
	CHECK(c.max_layer_size == (uint64_t)8 << 30);
	CHECK(c.max_layer_ratio == 100);
	CHECK(c.docker_config == NULL);
	CHECK(c.connect_timeout == 30 && c.stall_timeout == 60 && c.max_retries == 4);
	CHECK(c.n_registries == 0);
	CHECK(config_registry(&c, "docker.io") == NULL);
	config_free(&c);
}

TEST(svc_config_values)
{
	struct crisp_config c;
	char *err = NULL;
	int r = read_text(&c,
		"[image]\n"
		"max_concurrent_pulls = 2\nmax_concurrent_downloads = 5\n"
		"max_manifest_size = 1MiB\nmax_layer_size = 2G\nmax_layer_ratio = 50\n"
		"[registry]\ndocker_config = /etc/crisp/auth.json\n"
		"connect_timeout = 5\nstall_timeout = 7\nmax_retries = 0\n"
		"[registry.docker.io]\n"
		"mirrors = http://127.0.0.1:5000, https://m.example.com/hub\n"
		"    http://10.0.0.1:5000\n"
		"[registry.localhost:5000]\ninsecure = yes\nca_file = /etc/ca.pem\n"
		"[registry.docker.io]\ninsecure = false\n", &err);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK_RC(r);
	CHECK(c.max_concurrent_pulls == 2 && c.max_concurrent_downloads == 5);
	CHECK(c.max_manifest_size == 1u << 20);
	CHECK(c.max_layer_size == (uint64_t)2 << 30);
	CHECK(c.max_layer_ratio == 50);
	CHECK(strcmp(c.docker_config, "/etc/crisp/auth.json") == 0);
	CHECK(c.connect_timeout == 5 && c.stall_timeout == 7 && c.max_retries == 0);
	CHECK(c.n_registries == 2);
	const struct registry_host_config *h = config_registry(&c, "docker.io");
	CHECK(h && h->n_mirrors == 3 && !h->insecure && !h->ca_file);
	CHECK(strcmp(h->mirrors[0], "http://127.0.0.1:5000") == 0);
	CHECK(strcmp(h->mirrors[1], "https://m.example.com/hub") == 0);
	CHECK(strcmp(h->mirrors[2], "http://10.0.0.1:5000") == 0);
	h = config_registry(&c, "localhost:5000");
	CHECK(h && h->n_mirrors == 0 && h->insecure && strcmp(h->ca_file, "/etc/ca.pem") == 0);
	config_free(&c);
}

/* A later mirrors key replaces the list; a later file overrides one key. */
TEST(svc_config_mirrors_replaced)
{
	struct crisp_config c;
	char *err = NULL;
	CHECK_RC(read_text(&c, "[registry.quay.io]\nmirrors = http://a:1, http://b:2\n"
			   "mirrors = https://c\n", &err));
	const struct registry_host_config *h = config_registry(&c, "quay.io");
	CHECK(h && h->n_mirrors == 1 && strcmp(h->mirrors[0], "https://c") == 0);
	config_free(&c);
}

TEST(svc_config_errors)
{
	expect_error("[image]\nmax_concurrent_pulls = 0\n", "t.conf:2:", "max_concurrent_pulls");
	expect_error("[image]\nmax_concurrent_downloads = 17\n", "t.conf:2:", "1 to 16");
	expect_error("[image]\nmax_manifest_size = 1K\n", "t.conf:2:", "4KiB to 64MiB");
	expect_error("[image]\nmax_manifest_size = 65M\n", "t.conf:2:", "max_manifest_size");
	expect_error("[image]\nmax_layer_size = lots\n", "t.conf:2:", "max_layer_size");
	expect_error("[image]\nmax_layer_ratio = 1\n", "t.conf:2:", "max_layer_ratio");
	expect_error("[registry]\ndocker_config = auth.json\n", "t.conf:2:", "absolute path");
	expect_error("[registry]\nstall_timeout = 0\n", "t.conf:2:", "stall_timeout");
	expect_error("[registry]\nmirrors = http://a\n", "t.conf:2:", "unknown key \"mirrors\"");
	expect_error("[registry.docker.io]\nmirrors = ftp://a\n", "t.conf:2:", "http:// or https://");
	expect_error("[registry.docker.io]\nmirrors = http://\n", "t.conf:2:", "mirrors");
	expect_error("[registry.docker.io]\nmirrors = http://a b\n", "t.conf:2:", "mirrors");
	expect_error("[registry.docker.io]\ninsecure = maybe\n", "t.conf:2:", "true or false");
	expect_error("[registry.docker.io]\ntimeout = 3\n", "t.conf:2:", "unknown key \"timeout\"");
	expect_error("[registry.docker.io]\nmirrors = http://a,\n  ftp://b\n", "t.conf:3:",
		     "ftp://b");
	expect_error("[registry.docker.io]\ninsecure = true\n   false\n", "t.conf:3:",
		     "syntax error");
	expect_error("[registry.]\n", "t.conf:1:", "unknown section");
	expect_error("[registry.a b]\n", "t.conf:1:", "unknown section");
	expect_error("[registry.host:port]\n", "t.conf:1:", "unknown section");
	expect_error("[registry.host:123456]\n", "t.conf:1:", "unknown section");
	expect_error("[registry.-x]\n", "t.conf:1:", "unknown section");
	expect_error("[registry.docker.io]\nmirrors = http://1, http://2, http://3, http://4, "
		     "http://5, http://6, http://7, http://8, http://9\n", "t.conf:2:",
		     "more than 8");
}

TEST(svc_config_registry_sections_capped)
{
	char text[32 * 64 + 256] = "";
	size_t n = 0;
	for (int i = 0; i <= CONFIG_MAX_REGISTRIES; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "[registry.r%d.example]\n"
				      "insecure = true\n", i);
	expect_error(text, "t.conf:", "more than 32");
}
