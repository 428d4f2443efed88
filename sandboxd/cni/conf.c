/*
 * cni/conf: which network is in use, and loading it. cni_net_pick is the
 * one place that decides it, for cni_net_load and for the status check
 * alike: the first name, in byte order, in cni_conf_dir ending in .conf,
 * .conflist or .json that is not a directory (as libcni's ConfFiles, which
 * also takes a missing directory for an empty one), else crisp's default
 * conflist (default.c). A file is valid when it is a JSON object of at most
 * CNI_CONF_MAX bytes with a "cniVersion" and a "name", and either a "type"
 * (.conf, .json: turned into a list of one, as libcni's ConfListFromConf)
 * or a non-empty "plugins" array of objects that each have a "type"
 * (.conflist); and every plugin type is an executable file in one of
 * cni_bin_dirs. A bad file is an error naming it, never a reason to fall
 * back to the default. Never runs a plugin; never logs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "common/fsutil.h"
#include "common/status.h"
#include "sandboxd/cni/cni_int.h"

#define BAD(err, ...) crisp_fail((err), CRISP_STATUS_FAILED_PRECONDITION, -EINVAL, __VA_ARGS__)

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

int cni_net_pick(const struct cni_settings *s, char *ret_path, size_t len,
		 struct crisp_error *err)
{
	struct dirent **list = NULL;
	int n = scandir(s->conf_dir, &list, is_conf_name, by_name);
	if (n < 0 && errno == ENOENT)
		return 0;
	if (n < 0)
		return crisp_fail_errno(err, -errno, "cannot read the CNI config directory %s",
					s->conf_dir);
	int found = 0;
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;
		if (!found && fs_path_join(path, sizeof path, s->conf_dir, list[i]->d_name) == 0 &&
		    !(stat(path, &st) == 0 && S_ISDIR(st.st_mode)) &&
		    snprintf(ret_path, len, "%s", path) < (int)len)
			found = 1;
		free(list[i]);
	}
	free(list);
	return found;
}

const char *cni_json_string(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	const char *s = json_object_get_string(v);
	return s && *s ? s : NULL;
}

int cni_json_parse_object(const char *buf, size_t len, struct json_object **ret,
			  const char **ret_why)
{
	*ret_why = "out of memory";
	if (len > INT_MAX)
		return -EFBIG;
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	struct json_object *obj = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!obj || e != json_tokener_success) {
		*ret_why = e == json_tokener_continue ? "unexpected end of file" :
			   json_tokener_error_desc(e);
		json_object_put(obj);
		return -EBADMSG;
	}
	if (strspn(buf + end, " \t\r\n") != len - end) {
		*ret_why = "data after the object";
		json_object_put(obj);
		return -EBADMSG;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		*ret_why = "not a JSON object";
		json_object_put(obj);
		return -EBADMSG;
	}
	*ret = obj;
	return 0;
}

char *cni_json_text(struct json_object *obj)
{
	const char *t = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	return t ? strdup(t) : NULL;
}

/* The plugins of a .conflist, checked. */
static int check_plugins_list(struct json_object *conf, const char *path, struct crisp_error *err)
{
	struct json_object *plugins = NULL;
	if (!json_object_object_get_ex(conf, "plugins", &plugins) ||
	    !json_object_is_type(plugins, json_type_array) ||
	    json_object_array_length(plugins) == 0)
		return BAD(err, "%s has no \"plugins\" list (or it is empty)", path);
	size_t n = json_object_array_length(plugins);
	if (n > CNI_MAX_PLUGINS)
		return BAD(err, "%s lists more than %d plugins", path, CNI_MAX_PLUGINS);
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(plugins, i);
		if (!json_object_is_type(p, json_type_object) || !cni_json_string(p, "type"))
			return BAD(err, "%s: plugin %zu of %zu has no \"type\"", path, i + 1, n);
	}
	return 0;
}

/* A .conf's object as {cniVersion, name, plugins: [conf]} (takes conf). */
static struct json_object *list_of_one(struct json_object *conf)
{
	struct json_object *list = json_object_new_object();
	struct json_object *plugins = json_object_new_array();
	if (!list || !plugins ||
	    json_object_object_add(list, "cniVersion",
				   json_object_new_string(cni_json_string(conf, "cniVersion"))) < 0 ||
	    json_object_object_add(list, "name",
				   json_object_new_string(cni_json_string(conf, "name"))) < 0 ||
	    json_object_array_add(plugins, conf) < 0) {
		json_object_put(list);
		json_object_put(plugins);
		json_object_put(conf);
		return NULL;
	}
	json_object_object_add(list, "plugins", plugins);
	return list;
}

static int check_shape(struct json_object *conf, const char *path, struct crisp_error *err)
{
	if (!cni_json_string(conf, "cniVersion"))
		return BAD(err, "%s has no \"cniVersion\"", path);
	if (!cni_json_string(conf, "name"))
		return BAD(err, "%s has no \"name\"", path);
	if (has_ext(path, ".conflist"))
		return check_plugins_list(conf, path, err);
	if (!cni_json_string(conf, "type"))
		return BAD(err, "%s has no \"type\"%s", path,
			   json_object_object_get_ex(conf, "plugins", NULL) ?
			   " (a file with a \"plugins\" list must be named *.conflist)" : "");
	return 0;
}

int cni_conf_read(const char *path, struct json_object **ret_list, struct crisp_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int r = fs_read_file(AT_FDCWD, path, CNI_CONF_MAX, &buf, &len);
	if (r == -EFBIG)
		return BAD(err, "%s is larger than %u bytes", path, CNI_CONF_MAX);
	if (r < 0)
		return crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, r, "cannot read %s: %s",
				  path, strerror(-r));
	struct json_object *conf = NULL;
	const char *why = NULL;
	r = cni_json_parse_object(buf, len, &conf, &why);
	free(buf);
	if (r == -EBADMSG && strcmp(why, "not a JSON object") == 0)
		return BAD(err, "%s is not a JSON object", path);
	if (r < 0)
		return BAD(err, "%s is not valid JSON: %s", path, why);
	r = check_shape(conf, path, err);
	if (r < 0) {
		json_object_put(conf);
		return r;
	}
	if (!has_ext(path, ".conflist")) {
		conf = list_of_one(conf);
		if (!conf)
			return crisp_fail_errno(err, -ENOMEM, "reading %s", path);
	}
	*ret_list = conf;
	return 0;
}

int cni_conf_check_plugins(struct json_object *list, const char *file, const char *bin_dirs,
			   struct crisp_error *err)
{
	struct json_object *plugins = NULL;
	json_object_object_get_ex(list, "plugins", &plugins);
	size_t n = json_object_array_length(plugins);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		const char *type = cni_json_string(json_object_array_get_idx(plugins, i), "type");
		int r = cni_plugin_find_err(bin_dirs, type, file, path, sizeof path, err);
		if (r == -EINVAL && err)        /* the config's fault */
			err->code = CRISP_STATUS_FAILED_PRECONDITION;
		if (r < 0)
			return r;
	}
	return 0;
}

static int net_new(const char *file, struct json_object *list, bool is_default,
		   struct cni_net **ret, struct crisp_error *err)
{
	struct cni_net *n = calloc(1, sizeof *n);
	if (n) {
		n->file = strdup(file);
		n->name = strdup(cni_json_string(list, "name"));
		n->json = cni_json_text(list);
		n->is_default = is_default;
	}
	if (!n || !n->file || !n->name || !n->json) {
		cni_net_free(n);
		return crisp_fail_errno(err, -ENOMEM, "loading the CNI network");
	}
	*ret = n;
	return 0;
}

int cni_net_load(const struct cni_settings *s, struct cni_net **ret, struct crisp_error *err)
{
	char file[PATH_MAX];
	struct json_object *list = NULL;
	int r = cni_net_pick(s, file, sizeof file, err);
	if (r < 0)
		return r;
	bool is_default = r == 0;
	if (is_default) {
		file[0] = '\0';
		r = cni_default_check_plugins(s->bin_dirs, err);
		if (r < 0) {
			char why[sizeof err->msg];
			snprintf(why, sizeof why, "%s", err->msg);
			return crisp_fail(err, err->code, r, "no CNI configuration file in %s, and "
					  "crisp's default network cannot be used: %s", s->conf_dir,
					  why);
		}
		r = cni_default_conflist(s, &list, err);
	} else {
		r = cni_conf_read(file, &list, err);
		if (r == 0)
			r = cni_conf_check_plugins(list, file, s->bin_dirs, err);
	}
	if (r == 0)
		r = net_new(file, list, is_default, ret, err);
	json_object_put(list);
	return r;
}

void cni_net_free(struct cni_net *n)
{
	if (!n)
		return;
	free(n->file);
	free(n->name);
	free(n->json);
	free(n);
}

const char *cni_net_name(const struct cni_net *n)
{
	return n->name;
}

const char *cni_net_file(const struct cni_net *n)
{
	return n->file;
}

bool cni_net_is_default(const struct cni_net *n)
{
	return n->is_default;
}
