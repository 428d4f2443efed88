/*
 * test_cni_lib: see test_cni_lib.h. Test code only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/unit/test_cni_lib.h"
#include "tests/unit/unit.h"

void tc_env_init(struct tc_env *e)
{
	memset(e, 0, sizeof *e);
	snprintf(e->conf, sizeof e->conf, "%s/net.d", unit_tmpdir());
	snprintf(e->bin, sizeof e->bin, "%s/bin", unit_tmpdir());
	snprintf(e->log, sizeof e->log, "%s/log", unit_tmpdir());
	snprintf(e->netns, sizeof e->netns, "%s/netns", unit_tmpdir());
	CHECK(mkdir(e->conf, 0755) == 0 && mkdir(e->bin, 0755) == 0 && mkdir(e->log, 0755) == 0);
	tc_put(unit_tmpdir(), "netns", "", 0644);
	e->s = (struct cni_settings){
		.conf_dir = e->conf, .bin_dirs = e->bin, .default_bridge = "crt0",
		.default_subnet = "10.201.7.0/24", .ipam_dir = "/var/lib/test-ipam",
		.timeout_ms = 5000,
	};
}

void tc_put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
	CHECK(chmod(p, mode) == 0);
}

void tc_plugin(const struct tc_env *e, const char *type, const char *body)
{
	static unsigned n;
	char def[512], text[8192];
	n++;
	snprintf(def, sizeof def, "echo '{\"cniVersion\": \"1.0.0\", \"interfaces\": "
		 "[{\"name\": \"%s\"}], \"ips\": [{\"address\": \"10.1.0.%u/24\"}]}'", type, n);
	snprintf(text, sizeof text,
		 "#!/bin/sh\n"
		 "log='%s'\n"
		 "echo \"$CNI_COMMAND %s\" >> \"$log/calls\"\n"
		 "cat > \"$log/%s.$CNI_COMMAND.stdin\"\n"
		 "env > \"$log/%s.$CNI_COMMAND.env\"\n"
		 "%s\n", e->log, type, type, type, body ? body : def);
	tc_put(e->bin, type, text, 0755);
}

char *tc_log(const struct tc_env *e, const char *name)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", e->log, name);
	FILE *f = fopen(p, "r");
	if (!f)
		return strdup("");
	char *buf = NULL;
	size_t cap = 0, len = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			CHECK(buf);
		}
		size_t n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

struct json_object *tc_stdin(const struct tc_env *e, const char *type, const char *command)
{
	char name[256];
	snprintf(name, sizeof name, "%s.%s.stdin", type, command);
	char *text = tc_log(e, name);
	struct json_object *o = json_tokener_parse(text);
	if (!o)
		fprintf(stderr, "  %s: not JSON: %.200s\n", name, text);
	free(text);
	CHECK(o && json_object_is_type(o, json_type_object));
	return o;
}

char *tc_env_var(const struct tc_env *e, const char *type, const char *command, const char *var)
{
	char name[256];
	snprintf(name, sizeof name, "%s.%s.env", type, command);
	char *text = tc_log(e, name), *found = NULL;
	size_t vl = strlen(var);
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(line, var, vl) == 0 && line[vl] == '=') {
			found = strdup(line + vl + 1);
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return found;
}

struct json_object *tc_get(struct json_object *obj, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	char *save = NULL;
	for (char *k = strtok_r(buf, ".", &save); k && obj; k = strtok_r(NULL, ".", &save)) {
		struct json_object *v = NULL;
		if (json_object_is_type(obj, json_type_array))
			v = json_object_array_get_idx(obj, (size_t)atoi(k));
		else if (!json_object_object_get_ex(obj, k, &v))
			v = NULL;
		obj = v;
	}
	return obj;
}

struct cni_net *tc_net(const char *json)
{
	struct cni_net *n = calloc(1, sizeof *n);
	CHECK(n);
	n->file = strdup("test");
	n->name = strdup("test");
	n->json = strdup(json);
	CHECK(n->file && n->name && n->json);
	return n;
}
