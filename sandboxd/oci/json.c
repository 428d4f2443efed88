/*
 * oci/json: the few json-c calls the spec builder makes, with their out of
 * memory cases turned into -ENOMEM (json-c quietly stores a NULL value as
 * JSON null). Owns nothing else; never logs.
 */
#include <errno.h>
#include "sandboxd/oci/spec_int.h"

int ocispec_set(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int ocispec_set_str(json_object *o, const char *key, const char *v)
{
	return ocispec_set(o, key, json_object_new_string(v));
}

int ocispec_set_int(json_object *o, const char *key, int64_t v)
{
	return ocispec_set(o, key, json_object_new_int64(v));
}

int ocispec_set_bool(json_object *o, const char *key, bool v)
{
	return ocispec_set(o, key, json_object_new_boolean(v));
}

int ocispec_push(json_object *a, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int ocispec_push_str(json_object *a, const char *v)
{
	return ocispec_push(a, json_object_new_string(v));
}

json_object *ocispec_child(json_object *o, const char *key, bool array)
{
	json_object *c = NULL;
	if (json_object_object_get_ex(o, key, &c) && c)
		return c;
	c = array ? json_object_new_array() : json_object_new_object();
	if (ocispec_set(o, key, c) < 0)
		return NULL;
	return c;
}

json_object *ocispec_str_array(const char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	if (!a)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (ocispec_push_str(a, v[i]) < 0) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

int ocispec_nomem(struct ocispec *s)
{
	return crisp_fail(s->err, CRISP_STATUS_RESOURCE_EXHAUSTED, -ENOMEM,
			  "building the OCI spec: out of memory");
}
