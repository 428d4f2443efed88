/*
 * cni_status: the pod network's readiness from the CNI configuration
 * (sandboxd/cni/status.h). Picks the file as libcni does: the first name,
 * in byte order, in cni_conf_dir ending in .conf, .conflist or .json (a
 * directory of such a name is skipped). Valid when it is a JSON object of at
 * most CNI_CONF_MAX bytes with a "cniVersion" and a "name", and either a
 * "type" (.conf, .json) or a non-empty "plugins" array of objects that each
 * have a "type" (.conflist); and every plugin type is an executable file in
 * one of cni_bin_dirs. Never runs a plugin; never logs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "common/fsutil.h"
#include "sandboxd/cni/status.h"

#define CNI_MAX_PLUGINS 64

static void not_ready(struct cni_status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void not_ready(struct cni_status *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof st->message, fmt, ap);
	va_end(ap);
	st->ready = false;
	st->reason = CNI_STATUS_REASON_NOT_READY;
}

static bool has_ext(const char *name, const char *ext)
{
	size_t n = strlen(name), e = strlen(ext);
	return n > e && strcmp(name + n - e, ext) == 0;
}

static int is_conf_name(const struct dirent *d)
{
	return has_ext(d->d_name, ".conf") || has_ext(d->d_name, ".conflist") ||
	       has_ext(d->d_name, ".json");
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* The first config file in dir into st->config_file; false (with the
 * message set) when there is none. */
static bool pick_file(const char *dir, struct cni_status *st)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, is_conf_name, by_name);
	if (n < 0) {
		not_ready(st, "cannot read the CNI config directory %s: %s", dir, strerror(errno));
		return false;
	}
	bool found = false;
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat s;
		if (!found && fs_path_join(path, sizeof path, dir, list[i]->d_name) == 0 &&
		    !(stat(path, &s) == 0 && S_ISDIR(s.st_mode))) {
			snprintf(st->config_file, sizeof st->config_file, "%s", path);
			found = true;
		}
		free(list[i]);
	}
	free(list);
	if (!found)
		not_ready(st, "no CNI configuration file in %s (looked for *.conf, *.conflist, "
			  "*.json)", dir);
	return found;
}

/* obj[key] as a non-empty string, or NULL. */
static const char *get_string(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	const char *s = json_object_get_string(v);
	return s && *s ? s : NULL;
}

/* Find the plugin binary type in the colon-separated bin_dirs. */
static bool find_plugin(const char *type, const char *bin_dirs, struct cni_status *st)
{
	if (strchr(type, '/') || strcmp(type, ".") == 0 || strcmp(type, "..") == 0) {
		not_ready(st, "%s: plugin type \"%.64s\" is not a plain name", st->config_file, type);
		return false;
	}
	char *dirs = strdup(bin_dirs);
	if (!dirs) {
		not_ready(st, "out of memory");
		return false;
	}
	char *save = NULL, not_exec[PATH_MAX] = "";
	bool ok = false;
	for (char *d = strtok_r(dirs, ":", &save); d && !ok; d = strtok_r(NULL, ":", &save)) {
		char path[PATH_MAX];
		if (fs_path_join(path, sizeof path, d, type) < 0)
			continue;
		int r = fs_check_executable(AT_FDCWD, path);
		ok = r == 0;
		if (r == -EACCES && !not_exec[0])
			snprintf(not_exec, sizeof not_exec, "%s", path);
	}
	free(dirs);
	if (ok)
		return true;
	if (not_exec[0])
		not_ready(st, "CNI plugin %s (named in %s) is not executable", not_exec,
			  st->config_file);
	else
		not_ready(st, "CNI plugin \"%.64s\" (named in %s) not found in %s", type,
			  st->config_file, bin_dirs);
	return false;
}

/* Every plugin's type, in order, into types (pointers into conf). */
static size_t plugin_types(struct json_object *conf, bool list, const char **types,
			   struct cni_status *st)
{
	if (!list) {
		types[0] = get_string(conf, "type");
		if (!types[0])
			not_ready(st, "%s has no \"type\"%s", st->config_file,
				  json_object_object_get_ex(conf, "plugins", NULL) ?
				  " (a file with a \"plugins\" list must be named *.conflist)" : "");
		return types[0] ? 1 : 0;
	}
	struct json_object *plugins = NULL;
	if (!json_object_object_get_ex(conf, "plugins", &plugins) ||
	    !json_object_is_type(plugins, json_type_array) ||
	    json_object_array_length(plugins) == 0) {
		not_ready(st, "%s has no \"plugins\" list (or it is empty)", st->config_file);
		return 0;
	}
	size_t n = json_object_array_length(plugins);
	if (n > CNI_MAX_PLUGINS) {
		not_ready(st, "%s lists more than %d plugins", st->config_file, CNI_MAX_PLUGINS);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(plugins, i);
		types[i] = json_object_is_type(p, json_type_object) ? get_string(p, "type") : NULL;
		if (!types[i]) {
			not_ready(st, "%s: plugin %zu of %zu has no \"type\"", st->config_file,
				  i + 1, n);
			return 0;
		}
	}
	return n;
}

/* Parse buf as one JSON object (and nothing after it). */
static struct json_object *parse_object(const char *buf, size_t len, struct cni_status *st)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok) {
		not_ready(st, "out of memory");
		return NULL;
	}
	struct json_object *obj = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!obj || e != json_tokener_success) {
		not_ready(st, "%s is not valid JSON: %s", st->config_file,
			  e == json_tokener_continue ? "unexpected end of file" :
			  json_tokener_error_desc(e));
		json_object_put(obj);
		return NULL;
	}
	if (strspn(buf + end, " \t\r\n") != len - end) {
		not_ready(st, "%s is not valid JSON: data after the object", st->config_file);
		json_object_put(obj);
		return NULL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		not_ready(st, "%s is not a JSON object", st->config_file);
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static void check_conf(struct json_object *conf, const char *bin_dirs, struct cni_status *st)
{
	const char *name = get_string(conf, "name");
	if (name)
		snprintf(st->network_name, sizeof st->network_name, "%s", name);
	if (!get_string(conf, "cniVersion")) {
		not_ready(st, "%s has no \"cniVersion\"", st->config_file);
		return;
	}
	if (!name) {
		not_ready(st, "%s has no \"name\"", st->config_file);
		return;
	}
	const char *types[CNI_MAX_PLUGINS];
	size_t n = plugin_types(conf, has_ext(st->config_file, ".conflist"), types, st);
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (!find_plugin(types[i], bin_dirs, st))
			return;
	st->ready = true;
	st->reason = "";
	st->message[0] = '\0';
}

int cni_status_check(const char *conf_dir, const char *bin_dirs, struct cni_status *ret)
{
	struct cni_status st = { .reason = "" };
	if (pick_file(conf_dir, &st)) {
		char *buf = NULL;
		size_t len = 0;
		int r = fs_read_file(AT_FDCWD, st.config_file, CNI_CONF_MAX, &buf, &len);
		if (r == -EFBIG)
			not_ready(&st, "%s is larger than %u bytes", st.config_file, CNI_CONF_MAX);
		else if (r < 0)
			not_ready(&st, "cannot read %s: %s", st.config_file, strerror(-r));
		struct json_object *conf = r == 0 ? parse_object(buf, len, &st) : NULL;
		if (conf)
			check_conf(conf, bin_dirs, &st);
		json_object_put(conf);
		free(buf);
	}
	*ret = st;
	return 0;
}
