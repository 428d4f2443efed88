/*
 * image_config: an image config's runtime part for sandboxd (see
 * image_config.h). The JSON is the image's, so: the whole buffer must be one
 * object, each field has the type the image spec gives it or is absent
 * (null counts as absent), every list and string is capped, and no string
 * may hide a NUL byte. Never logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/status.h"
#include "imaged/image_config.h"

struct budget {
	size_t left;                    /* bytes of strings still allowed */
};

static int bad(struct svc_error *err, const char *what)
{
	return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "image config: %s", what);
}

/* A copy of string value v, within the caps; NULL with *r set on failure. */
static char *text(json_object *v, struct budget *b, int *r)
{
	size_t n = (size_t)json_object_get_string_len(v);
	const char *s = json_object_get_string(v);
	if (n > IMAGE_CONFIG_STRING_MAX || n > b->left) {
		*r = -E2BIG;
		return NULL;
	}
	if (strlen(s) != n) {
		*r = -EINVAL;
		return NULL;
	}
	b->left -= n;
	char *c = strdup(s);
	if (!c)
		*r = -ENOMEM;
	return c;
}

/* o[key]: absent or null (0, *ret NULL), or of type t. */
static int field(json_object *o, const char *key, json_type t, json_object **ret)
{
	json_object *v = NULL;
	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, t))
		return -EINVAL;
	*ret = v;
	return 0;
}

static int string_field(json_object *o, const char *key, struct budget *b, char **ret)
{
	json_object *v;
	int r = field(o, key, json_type_string, &v);
	if (r < 0 || !v)
		return r;
	*ret = text(v, b, &r);
	return *ret ? 0 : r;
}

static int list_field(json_object *o, const char *key, size_t max, struct budget *b,
		      char ***ret_v, size_t *ret_n)
{
	json_object *a;
	int r = field(o, key, json_type_array, &a);
	if (r < 0 || !a)
		return r;
	size_t n = json_object_array_length(a);
	if (n > max)
		return -E2BIG;
	char **v = calloc(n ? n : 1, sizeof *v);
	if (!v)
		return -ENOMEM;
	*ret_v = v;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_string))
			return -EINVAL;
		if (!(v[i] = text(e, b, &r)))
			return r;
		(*ret_n)++;
	}
	return 0;
}

/* Volumes is an object whose keys are the paths ({"/data": {}}). */
static int volumes_field(json_object *o, struct budget *b, Crisp__ImageRuntimeConfig *c)
{
	json_object *vol;
	int r = field(o, "Volumes", json_type_object, &vol);
	if (r < 0 || !vol)
		return r;
	size_t n = (size_t)json_object_object_length(vol);
	if (n > IMAGE_CONFIG_VOLUMES_MAX)
		return -E2BIG;
	c->volumes = calloc(n ? n : 1, sizeof *c->volumes);
	if (!c->volumes)
		return -ENOMEM;
	json_object_object_foreach(vol, key, val) {
		(void)val;
		json_object *k = json_object_new_string(key);
		if (!k)
			return -ENOMEM;
		c->volumes[c->n_volumes] = text(k, b, &r);
		json_object_put(k);
		if (!c->volumes[c->n_volumes])
			return r;
		c->n_volumes++;
	}
	return 0;
}

static int labels_field(json_object *o, struct budget *b, Crisp__ImageRuntimeConfig *c)
{
	json_object *lab;
	int r = field(o, "Labels", json_type_object, &lab);
	if (r < 0 || !lab)
		return r;
	size_t n = (size_t)json_object_object_length(lab);
	if (n > IMAGE_CONFIG_LABELS_MAX)
		return -E2BIG;
	c->labels = calloc(n ? n : 1, sizeof *c->labels);
	if (!c->labels)
		return -ENOMEM;
	json_object_object_foreach(lab, key, val) {
		if (!json_object_is_type(val, json_type_string))
			return -EINVAL;
		Crisp__ImageRuntimeConfig__LabelsEntry *e = calloc(1, sizeof *e);
		if (!e)
			return -ENOMEM;
		crisp__image_runtime_config__labels_entry__init(e);
		c->labels[c->n_labels++] = e;
		json_object *k = json_object_new_string(key);
		if (!k)
			return -ENOMEM;
		e->key = text(k, b, &r);
		json_object_put(k);
		if (!e->key || !(e->value = text(val, b, &r)))
			return r;
	}
	return 0;
}

static int parse_config(json_object *cfg, Crisp__ImageRuntimeConfig *c)
{
	struct budget b = { IMAGE_CONFIG_TOTAL_MAX };
	int r;
	if ((r = string_field(cfg, "User", &b, &c->user)) < 0 ||
	    (r = string_field(cfg, "WorkingDir", &b, &c->working_dir)) < 0 ||
	    (r = string_field(cfg, "StopSignal", &b, &c->stop_signal)) < 0 ||
	    (r = list_field(cfg, "Env", IMAGE_CONFIG_LIST_MAX, &b, &c->env, &c->n_env)) < 0 ||
	    (r = list_field(cfg, "Entrypoint", IMAGE_CONFIG_LIST_MAX, &b, &c->entrypoint,
			    &c->n_entrypoint)) < 0 ||
	    (r = list_field(cfg, "Cmd", IMAGE_CONFIG_LIST_MAX, &b, &c->cmd, &c->n_cmd)) < 0 ||
	    (r = volumes_field(cfg, &b, c)) < 0 ||
	    (r = labels_field(cfg, &b, c)) < 0)
		return r;
	for (size_t i = 0; i < c->n_env; i++)
		if (!strchr(c->env[i], '=') || c->env[i][0] == '=')
			return -EINVAL;
	return 0;
}

int image_config_parse(const char *buf, size_t len, Crisp__ImageRuntimeConfig *ret,
		       struct svc_error *err)
{
	crisp__image_runtime_config__init(ret);
	if (memchr(buf, '\0', len))
		return bad(err, "not JSON (a NUL byte)");
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
	bool whole = json_tokener_get_error(tok) == json_tokener_success &&
		     json_tokener_get_parse_end(tok) == len;
	json_tokener_free(tok);
	if (!root || !whole || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return bad(err, "not a JSON object");
	}
	json_object *cfg;
	int r = field(root, "config", json_type_object, &cfg);
	if (r == 0 && cfg)
		r = parse_config(cfg, ret);
	json_object_put(root);
	if (r < 0) {
		image_config_clear(ret);
		if (r == -ENOMEM)
			return svc_fail(err, CRISP_STATUS_INTERNAL, r, "out of memory");
		return r == -E2BIG ? svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
					      "image config: a field is over its cap") :
				     bad(err, "a field of \"config\" has the wrong type, a NUL "
					 "byte, or an Env entry without '='");
	}
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void image_config_clear(Crisp__ImageRuntimeConfig *c)
{
	if (c->user != protobuf_c_empty_string)
		free(c->user);
	if (c->working_dir != protobuf_c_empty_string)
		free(c->working_dir);
	if (c->stop_signal != protobuf_c_empty_string)
		free(c->stop_signal);
	strv_free(c->env, c->n_env);
	strv_free(c->entrypoint, c->n_entrypoint);
	strv_free(c->cmd, c->n_cmd);
	strv_free(c->volumes, c->n_volumes);
	for (size_t i = 0; i < c->n_labels; i++) {
		free(c->labels[i]->key);
		free(c->labels[i]->value);
		free(c->labels[i]);
	}
	free(c->labels);
	crisp__image_runtime_config__init(c);
}
