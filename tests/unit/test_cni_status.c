/*
 * test_cni_status: sandboxd/cni/status.c against temporary CNI config and
 * plugin directories: which file is picked, what makes it invalid, the
 * plugin binaries' presence, and crisp's default network when there is no
 * file.
 */
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sandboxd/cni/status.h"
#include "tests/unit/unit.h"

struct env {
	char conf[PATH_MAX];
	char bin1[PATH_MAX];
	char bin2[PATH_MAX];
	char bins[2 * PATH_MAX + 2];
};

static void env_init(struct env *e)
{
	snprintf(e->conf, sizeof e->conf, "%s/net.d", unit_tmpdir());
	snprintf(e->bin1, sizeof e->bin1, "%s/bin1", unit_tmpdir());
	snprintf(e->bin2, sizeof e->bin2, "%s/bin2", unit_tmpdir());
	snprintf(e->bins, sizeof e->bins, "%s:%s", e->bin1, e->bin2);
	CHECK(mkdir(e->conf, 0755) == 0 && mkdir(e->bin1, 0755) == 0 && mkdir(e->bin2, 0755) == 0);
}

static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
	CHECK(chmod(p, mode) == 0);
}

static struct cni_status check(const struct env *e)
{
	struct cni_status st;
	CHECK_RC(cni_status_check(e->conf, e->bins, &st));
	return st;
}

#define EXPECT_NOT_READY(st, words) do {                                        \
	if ((st).ready || strcmp((st).reason, "NetworkPluginNotReady") != 0 ||   \
	    !strstr((st).message, (words))) {                                   \
		fprintf(stderr, "  ready=%d message=%s (wanted %s)\n", (st).ready, \
			(st).message, (words));                                  \
		CHECK(0);                                                       \
	} } while (0)

static const char *list_conf =
	"{\"cniVersion\": \"1.0.0\", \"name\": \"podnet\", \"plugins\": ["
	"{\"type\": \"bridge\"}, {\"type\": \"portmap\", \"capabilities\": {}}]}";

TEST(cni_status_ready)
{
	struct env e;
	env_init(&e);
	put(e.conf, "10-podnet.conflist", list_conf, 0644);
	put(e.bin1, "bridge", "#!/bin/sh\n", 0755);
	put(e.bin2, "portmap", "#!/bin/sh\n", 0755);   /* found in the second dir */
	struct cni_status st = check(&e);
	if (!st.ready)
		fprintf(stderr, "  %s\n", st.message);
	CHECK(st.ready && strcmp(st.reason, "") == 0 && st.message[0] == '\0');
	CHECK(strcmp(st.network_name, "podnet") == 0);
	CHECK(strstr(st.config_file, "/net.d/10-podnet.conflist") != NULL);

	/* a single-plugin .conf is fine too */
	CHECK(unlink(st.config_file) == 0);
	put(e.conf, "05-single.conf", "{\"cniVersion\":\"0.4.0\",\"name\":\"one\",\"type\":\"bridge\"}",
	    0644);
	st = check(&e);
	CHECK(st.ready && strcmp(st.network_name, "one") == 0);
}

TEST(cni_status_no_config)
{
	struct env e;
	env_init(&e);
	struct cni_status st = check(&e);
	/* no file, and no plugins for crisp's default network either */
	EXPECT_NOT_READY(st, "no CNI configuration file in");
	CHECK(strstr(st.message, "CNI plugin \"bridge\"") != NULL);
	CHECK(st.config_file[0] == '\0' && st.default_network);

	put(e.conf, "README", list_conf, 0644);          /* wrong extension: ignored */
	char dir[PATH_MAX + 32];
	snprintf(dir, sizeof dir, "%s/00-dir.conf", e.conf);
	CHECK(mkdir(dir, 0755) == 0);                    /* a directory: skipped */
	st = check(&e);
	EXPECT_NOT_READY(st, "no CNI configuration file in");

	/* a missing directory holds no file (as libcni sees it) */
	snprintf(e.conf, sizeof e.conf, "%s/missing", unit_tmpdir());
	st = check(&e);
	EXPECT_NOT_READY(st, "no CNI configuration file in");

	/* one that cannot be read is not an empty one */
	snprintf(e.conf, sizeof e.conf, "%s/net.d/README", unit_tmpdir());
	st = check(&e);
	EXPECT_NOT_READY(st, "cannot read the CNI config directory");
	CHECK(!st.default_network);
}

static const char *const default_plugins[] = {
	"bridge", "host-local", "portmap", "bandwidth", "loopback",
};

TEST(cni_status_default_network)
{
	struct env e;
	env_init(&e);
	const struct cni_settings s = {
		.conf_dir = e.conf, .bin_dirs = e.bins, .default_bridge = "crisp0",
		.default_subnet = "10.67.0.0/16",
	};
	struct cni_status st;
	for (size_t i = 0; i < 5; i++) {
		/* each one of them missing makes it not ready, naming it */
		CHECK_RC(cni_status_check_settings(&s, &st));
		char want[64];
		snprintf(want, sizeof want, "CNI plugin \"%s\"", default_plugins[i]);
		EXPECT_NOT_READY(st, want);
		CHECK(st.default_network && strcmp(st.network_name, "crisp") == 0);
		put(i % 2 ? e.bin2 : e.bin1, default_plugins[i], "#!/bin/sh\n", 0755);
	}
	CHECK_RC(cni_status_check_settings(&s, &st));
	if (!st.ready)
		fprintf(stderr, "  %s\n", st.message);
	CHECK(st.ready && strcmp(st.reason, "") == 0 && st.default_network);
	CHECK(strcmp(st.message, "crisp default network crisp (bridge crisp0, 10.67.0.0/16)") == 0);
	CHECK(strcmp(st.network_name, "crisp") == 0 && st.config_file[0] == '\0');

	/* without bridge and subnet (cni_status_check) the same, named shorter */
	st = check(&e);
	CHECK(st.ready && st.default_network);
	CHECK(strcmp(st.message, "crisp default network crisp") == 0);

	/* a configured network always wins, even a broken one */
	put(e.conf, "99-last.conflist", "{\"cniVersion\": \"1.0.0\"}", 0644);
	CHECK_RC(cni_status_check_settings(&s, &st));
	EXPECT_NOT_READY(st, "has no \"name\"");
	CHECK(!st.default_network && strstr(st.config_file, "99-last.conflist"));
	put(e.conf, "99-last.conflist", list_conf, 0644);
	put(e.bin1, "portmap", "#!/bin/sh\n", 0755);
	CHECK_RC(cni_status_check_settings(&s, &st));
	CHECK(st.ready && !st.default_network && st.message[0] == '\0');
	CHECK(strcmp(st.network_name, "podnet") == 0);
}

TEST(cni_status_first_file_by_name_decides)
{
	struct env e;
	env_init(&e);
	put(e.bin1, "bridge", "#!/bin/sh\n", 0755);
	put(e.bin1, "portmap", "#!/bin/sh\n", 0755);
	put(e.conf, "20-good.conflist", list_conf, 0644);
	put(e.conf, "10-broken.json", "{\"cniVersion\": \"1.0.0\", \"name\": ", 0644);
	struct cni_status st = check(&e);
	EXPECT_NOT_READY(st, "is not valid JSON");
	CHECK(strstr(st.config_file, "10-broken.json") != NULL);
	/* byte order: "1" < "2" < "a"; upper case before lower case */
	CHECK(unlink(st.config_file) == 0);
	put(e.conf, "Z.conf", "{\"cniVersion\": \"1.0.0\", \"name\": \"z\", \"type\": \"bridge\"}", 0644);
	st = check(&e);
	CHECK(st.ready && strstr(st.config_file, "20-good.conflist") != NULL);
}

TEST(cni_status_invalid_configs)
{
	static const struct { const char *name, *text, *words; } cases[] = {
		{ "a.conflist", "[1, 2]", "is not a JSON object" },
		{ "a.conflist", "{\"name\": \"n\", \"plugins\": [{\"type\": \"bridge\"}]}",
		  "has no \"cniVersion\"" },
		{ "a.conflist", "{\"cniVersion\": \"1.0.0\", \"plugins\": [{\"type\": \"bridge\"}]}",
		  "has no \"name\"" },
		{ "a.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\"}", "no \"plugins\"" },
		{ "a.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": []}",
		  "no \"plugins\"" },
		{ "a.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": "
		  "[{\"type\": \"bridge\"}, {\"args\": {}}]}", "plugin 2 of 2 has no \"type\"" },
		{ "a.conf", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\"}", "has no \"type\"" },
		{ "a.conf", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": "
		  "[{\"type\": \"bridge\"}]}", "must be named *.conflist" },
		{ "a.conf", "{\"cniVersion\": 1, \"name\": \"n\", \"type\": \"bridge\"}",
		  "has no \"cniVersion\"" },
		{ "a.conf", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"type\": \"../bridge\"}",
		  "not a plain name" },
		{ "a.conf", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"type\": \"bridge\"} x",
		  "data after the object" },
		{ "a.conf", "", "not valid JSON" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct env e;
		char sub[64];
		snprintf(sub, sizeof sub, "%s/%zu", unit_tmpdir(), i);
		CHECK(mkdir(sub, 0755) == 0);
		snprintf(e.conf, sizeof e.conf, "%s/net.d", sub);
		snprintf(e.bins, sizeof e.bins, "%s/bin", sub);
		CHECK(mkdir(e.conf, 0755) == 0 && mkdir(e.bins, 0755) == 0);
		put(e.bins, "bridge", "#!/bin/sh\n", 0755);
		put(e.conf, cases[i].name, cases[i].text, 0644);
		struct cni_status st = check(&e);
		EXPECT_NOT_READY(st, cases[i].words);
	}
}

TEST(cni_status_plugin_binaries)
{
	struct env e;
	env_init(&e);
	put(e.conf, "10-podnet.conflist", list_conf, 0644);
	put(e.bin1, "bridge", "#!/bin/sh\n", 0755);
	struct cni_status st = check(&e);
	EXPECT_NOT_READY(st, "CNI plugin \"portmap\"");
	CHECK(strstr(st.message, e.bins) != NULL);       /* says where it looked */
	CHECK(strcmp(st.network_name, "podnet") == 0);

	put(e.bin2, "portmap", "not executable\n", 0644);
	st = check(&e);
	EXPECT_NOT_READY(st, "is not executable");

	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/portmap", e.bin2);
	CHECK(unlink(p) == 0 && mkdir(p, 0755) == 0);    /* a directory is no plugin */
	st = check(&e);
	EXPECT_NOT_READY(st, "CNI plugin \"portmap\"");

	put(e.bin1, "portmap", "#!/bin/sh\n", 0755);
	st = check(&e);
	CHECK(st.ready);
}

TEST(cni_status_size_cap)
{
	struct env e;
	env_init(&e);
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/big.conf", e.conf);
	FILE *f = fopen(p, "w");
	CHECK(f);
	CHECK(fputs("{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"type\": \"bridge\", \"pad\": \"", f) >= 0);
	for (unsigned i = 0; i < CNI_CONF_MAX / 64 + 1; i++)
		CHECK(fputs("0123456789012345678901234567890123456789012345678901234567890123", f) >= 0);
	CHECK(fputs("\"}", f) >= 0 && fclose(f) == 0);
	put(e.bin1, "bridge", "#!/bin/sh\n", 0755);
	struct cni_status st = check(&e);
	EXPECT_NOT_READY(st, "is larger than");
}
