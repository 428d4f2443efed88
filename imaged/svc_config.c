/*
 * svc_config: the image config blob, parsed with json-c (see svc_config.h).
 * Owns the checks on what the config claims: rootfs.type "layers", every
 * diff_id a sha256 digest, at most REGISTRY_LAYERS_MAX of them, a User that
 * is a string of sane length. Never trusts a field it did not check.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include "common/status.h"
#include "imaged/registry.h"
#include "imaged/svc_config.h"

static int bad(struct svc_error *err, const char *what)
{
	return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EPROTO,
			"the image config is not usable: %s", what);
}

static int diff_ids_parse(json_object *rootfs, struct svc_image_config *c,
			  struct svc_error *err)
{
	json_object *type, *ids;
	if (!json_object_is_type(rootfs, json_type_object) ||
	    !json_object_object_get_ex(rootfs, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    strcmp(json_object_get_string(type), "layers") != 0)
		return bad(err, "rootfs.type is not \"layers\"");
	if (!json_object_object_get_ex(rootfs, "diff_ids", &ids) ||
	    !json_object_is_type(ids, json_type_array))
		return bad(err, "rootfs.diff_ids is not a list");
	size_t n = json_object_array_length(ids);
	if (n > REGISTRY_LAYERS_MAX)
		return bad(err, "more rootfs.diff_ids than crisp accepts");
	c->diff_ids = calloc(n ? n : 1, sizeof *c->diff_ids);
	if (!c->diff_ids)
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *id = json_object_array_get_idx(ids, i);
		const char *s = json_object_is_type(id, json_type_string) ?
				json_object_get_string(id) : NULL;
		if (!s || !digest_valid(s))
			return bad(err, "a rootfs.diff_ids entry is not a sha256 digest");
		memcpy(c->diff_ids[i], s, DIGEST_STR_SIZE);
		c->n_diff_ids++;
	}
	return 0;
}

static int user_parse(json_object *root, struct svc_image_config *c, struct svc_error *err)
{
	json_object *config, *user;
	if (!json_object_object_get_ex(root, "config", &config) ||
	    json_object_is_type(config, json_type_null))
		return 0;
	if (!json_object_is_type(config, json_type_object))
		return bad(err, "\"config\" is not an object");
	if (!json_object_object_get_ex(config, "User", &user) ||
	    json_object_is_type(user, json_type_null))
		return 0;
	if (!json_object_is_type(user, json_type_string) ||
	    json_object_get_string_len(user) > (int)STORE_REF_MAX)
		return bad(err, "config.User is not a string of sane length");
	if (json_object_get_string_len(user) == 0)
		return 0;
	if (!(c->user = strdup(json_object_get_string(user))))
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	return 0;
}

int svc_config_parse(const char *buf, size_t len, struct svc_image_config *ret,
		     struct svc_error *err)
{
	struct svc_image_config c = { 0 };
	json_tokener *tok = json_tokener_new_ex(SVC_CONFIG_DEPTH);
	if (!tok)
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	json_object *root = len <= INT32_MAX ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
	size_t end = root ? json_tokener_get_parse_end(tok) : 0;
	bool complete = root && json_tokener_get_error(tok) == json_tokener_success &&
			end <= len && strspn(buf + end, " \t\r\n") == len - end;
	json_tokener_free(tok);
	int r;
	json_object *rootfs;
	if (!complete || !json_object_is_type(root, json_type_object))
		r = bad(err, "not a JSON object");
	else if (!json_object_object_get_ex(root, "rootfs", &rootfs))
		r = bad(err, "no rootfs");
	else if ((r = diff_ids_parse(rootfs, &c, err)) == 0)
		r = user_parse(root, &c, err);
	json_object_put(root);
	if (r < 0) {
		svc_config_clear(&c);
		return r;
	}
	*ret = c;
	return 0;
}

void svc_config_clear(struct svc_image_config *c)
{
	free(c->diff_ids);
	free(c->user);
	*c = (struct svc_image_config){ 0 };
}
