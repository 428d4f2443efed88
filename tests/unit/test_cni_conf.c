/*
 * test_cni_conf: sandboxd/cni/conf.c and default.c: which network
 * cni_net_load picks (byte order of names, .conf turned into a list of
 * one, a bad file is an error naming it and never the default) and crisp's
 * default conflist rendered from the settings.
 */
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/status.h"
#include "tests/unit/test_cni_lib.h"
#include "tests/unit/unit.h"

static void default_plugins(const struct tc_env *e)
{
	static const char *const names[] = { "bridge", "host-local", "portmap", "bandwidth",
					     "loopback" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		tc_put(e->bin, names[i], "#!/bin/sh\n", 0755);
}

static struct json_object *parsed(const struct cni_net *n)
{
	struct json_object *o = json_tokener_parse(n->json);
	CHECK(o);
	return o;
}

static const char *str_at(struct json_object *o, const char *path)
{
	struct json_object *v = tc_get(o, path);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

TEST(cni_conf_first_file_in_byte_order)
{
	struct tc_env e;
	tc_env_init(&e);
	default_plugins(&e);
	tc_put(e.bin, "ptp", "#!/bin/sh\n", 0755);
	tc_put(e.conf, "b.conf", "{\"cniVersion\": \"0.4.0\", \"name\": \"b\", \"type\": \"ptp\"}",
	       0644);
	tc_put(e.conf, "a.conflist", "{\"cniVersion\": \"0.4.0\", \"name\": \"a\", \"plugins\": "
	       "[{\"type\": \"ptp\"}]}", 0644);
	tc_put(e.conf, "Z.json", "{\"cniVersion\": \"0.3.1\", \"name\": \"Z\", \"type\": \"ptp\"}",
	       0644);
	tc_put(e.conf, "0.conf.bak", "not json", 0644);          /* not a config name */
	char dir[600];
	snprintf(dir, sizeof dir, "%s/0.conf", e.conf);
	CHECK(mkdir(dir, 0755) == 0);                           /* a directory: skipped */

	char path[PATH_MAX];
	struct crisp_error err = { 0, "" };
	CHECK(cni_net_pick(&e.s, path, sizeof path, &err) == 1);
	CHECK(strstr(path, "/net.d/Z.json"));                   /* 'Z' < 'a' < 'b' */

	struct cni_net *n = NULL;
	CHECK_RC(cni_net_load(&e.s, &n, &err));
	CHECK(strcmp(cni_net_name(n), "Z") == 0 && strstr(cni_net_file(n), "/net.d/Z.json"));
	CHECK(!cni_net_is_default(n));
	cni_net_free(n);

	CHECK(unlink(path) == 0);
	CHECK_RC(cni_net_load(&e.s, &n, &err));
	CHECK(strcmp(cni_net_name(n), "a") == 0);
	cni_net_free(n);
}

TEST(cni_conf_single_plugin_becomes_a_list)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_put(e.bin, "bridge", "#!/bin/sh\n", 0755);
	tc_put(e.conf, "10-one.conf", "{\"cniVersion\": \"0.3.1\", \"name\": \"one\", \"type\": "
	       "\"bridge\", \"bridge\": \"br9\", \"ipam\": {\"type\": \"host-local\"}}", 0644);
	struct crisp_error err = { 0, "" };
	struct cni_net *n = NULL;
	CHECK_RC(cni_net_load(&e.s, &n, &err));
	struct json_object *o = parsed(n);
	CHECK(strcmp(str_at(o, "name"), "one") == 0 && strcmp(str_at(o, "cniVersion"), "0.3.1") == 0);
	CHECK(json_object_array_length(tc_get(o, "plugins")) == 1);
	CHECK(strcmp(str_at(o, "plugins.0.type"), "bridge") == 0);
	CHECK(strcmp(str_at(o, "plugins.0.bridge"), "br9") == 0);
	CHECK(strcmp(str_at(o, "plugins.0.ipam.type"), "host-local") == 0);
	json_object_put(o);
	cni_net_free(n);
}

TEST(cni_conf_bad_file_is_an_error_not_the_default)
{
	struct tc_env e;
	tc_env_init(&e);
	default_plugins(&e);            /* the default could run: still not used */
	static const struct { const char *name, *text, *words; } cases[] = {
		{ "10-x.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": ", "is not valid JSON" },
		{ "10-x.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", \"plugins\": "
		  "[{\"type\": \"nosuch\"}]}", "CNI plugin \"nosuch\"" },
		{ "10-x.conf", "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", \"type\": \"..\"}",
		  "not a plain name" },
		{ "10-x.json", "{\"name\": \"x\", \"type\": \"bridge\"}", "has no \"cniVersion\"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tc_put(e.conf, cases[i].name, cases[i].text, 0644);
		struct crisp_error err = { 0, "" };
		struct cni_net *n = NULL;
		int r = cni_net_load(&e.s, &n, &err);
		if (r >= 0 || !strstr(err.msg, cases[i].words) || !strstr(err.msg, cases[i].name))
			fprintf(stderr, "  case %zu: r=%d %s\n", i, r, err.msg);
		CHECK(r < 0 && n == NULL && err.code == CRISP_STATUS_FAILED_PRECONDITION);
		CHECK(strstr(err.msg, cases[i].words) && strstr(err.msg, cases[i].name));
		char p[1024];
		snprintf(p, sizeof p, "%s/%s", e.conf, cases[i].name);
		CHECK(unlink(p) == 0);
	}
}

TEST(cni_conf_default_network)
{
	struct tc_env e;
	tc_env_init(&e);
	struct crisp_error err = { 0, "" };
	struct cni_net *n = NULL;
	/* without its plugins it cannot be used, and says which is missing */
	CHECK(cni_net_load(&e.s, &n, &err) < 0 && n == NULL);
	CHECK(err.code == CRISP_STATUS_FAILED_PRECONDITION);
	CHECK(strstr(err.msg, "no CNI configuration file in") && strstr(err.msg, "\"bridge\""));

	default_plugins(&e);
	char path[PATH_MAX];
	CHECK(cni_net_pick(&e.s, path, sizeof path, &err) == 0);
	CHECK_RC(cni_net_load(&e.s, &n, &err));
	CHECK(cni_net_is_default(n) && strcmp(cni_net_file(n), "") == 0);
	CHECK(strcmp(cni_net_name(n), "crisp") == 0);
	struct json_object *o = parsed(n);
	CHECK(strcmp(str_at(o, "cniVersion"), "1.0.0") == 0 && strcmp(str_at(o, "name"), "crisp") == 0);
	CHECK(json_object_array_length(tc_get(o, "plugins")) == 3);
	CHECK(strcmp(str_at(o, "plugins.0.type"), "bridge") == 0);
	CHECK(strcmp(str_at(o, "plugins.0.bridge"), "crt0") == 0);
	CHECK(json_object_get_boolean(tc_get(o, "plugins.0.isGateway")));
	CHECK(json_object_get_boolean(tc_get(o, "plugins.0.ipMasq")));
	CHECK(json_object_get_boolean(tc_get(o, "plugins.0.hairpinMode")));
	CHECK(strcmp(str_at(o, "plugins.0.ipam.type"), "host-local") == 0);
	CHECK(strcmp(str_at(o, "plugins.0.ipam.ranges.0.0.subnet"), "10.201.7.0/24") == 0);
	CHECK(strcmp(str_at(o, "plugins.0.ipam.routes.0.dst"), "0.0.0.0/0") == 0);
	CHECK(strcmp(str_at(o, "plugins.0.ipam.dataDir"), "/var/lib/test-ipam") == 0);
	CHECK(strcmp(str_at(o, "plugins.1.type"), "portmap") == 0);
	CHECK(json_object_get_boolean(tc_get(o, "plugins.1.capabilities.portMappings")));
	CHECK(json_object_get_boolean(tc_get(o, "plugins.1.snat")));
	CHECK(strcmp(str_at(o, "plugins.2.type"), "bandwidth") == 0);
	CHECK(json_object_get_boolean(tc_get(o, "plugins.2.capabilities.bandwidth")));
	json_object_put(o);
	cni_net_free(n);

	/* an IPv6 subnet routes ::/0; no ipam_dir: host-local's own default */
	e.s.default_subnet = "fd00:67::/64";
	e.s.ipam_dir = NULL;
	CHECK_RC(cni_net_load(&e.s, &n, &err));
	o = parsed(n);
	CHECK(strcmp(str_at(o, "plugins.0.ipam.ranges.0.0.subnet"), "fd00:67::/64") == 0);
	CHECK(strcmp(str_at(o, "plugins.0.ipam.routes.0.dst"), "::/0") == 0);
	CHECK(tc_get(o, "plugins.0.ipam.dataDir") == NULL);
	json_object_put(o);
	cni_net_free(n);

	/* the conf dir may not exist at all (a fresh machine) */
	char missing[600];
	snprintf(missing, sizeof missing, "%s/nonexistent", e.conf);
	e.s.conf_dir = missing;
	CHECK_RC(cni_net_load(&e.s, &n, &err));
	CHECK(cni_net_is_default(n));
	cni_net_free(n);

	/* settings it cannot render */
	static const char *const bad_subnets[] = { "10.0.0.0", "10.0.0.0/33", "x/8", "", "::/129" };
	for (size_t i = 0; i < sizeof bad_subnets / sizeof bad_subnets[0]; i++) {
		e.s.default_subnet = bad_subnets[i];
		CHECK(cni_net_load(&e.s, &n, &err) < 0 && err.code == CRISP_STATUS_INVALID_ARGUMENT);
	}
	e.s.default_subnet = "10.0.0.0/8";
	e.s.default_bridge = "a-bridge-name-too-long";
	CHECK(cni_net_load(&e.s, &n, &err) < 0 && strstr(err.msg, "not a bridge name"));
}

TEST(cni_conf_unreadable_dir)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_put(e.conf, "file", "", 0644);
	char notdir[600];
	snprintf(notdir, sizeof notdir, "%s/file", e.conf);
	e.s.conf_dir = notdir;
	char path[PATH_MAX];
	struct crisp_error err = { 0, "" };
	CHECK(cni_net_pick(&e.s, path, sizeof path, &err) < 0);
	CHECK(strstr(err.msg, "cannot read the CNI config directory"));
}
