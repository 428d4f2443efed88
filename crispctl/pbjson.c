/*
 * pbjson: a protobuf-c message as JSON (json-c), the way crictl prints CRI
 * messages (protojson with EmitDefaultValues): lowerCamelCase names,
 * scalars even when zero, empty lists and maps, unset messages left out,
 * enums by name, 64-bit integers as strings, bytes as base64, maps as
 * objects. Driven by the descriptors alone, so it fits every CRI message.
 * Also the pretty printer. No calls, no state; NULL means out of memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "crispctl/crispctl.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static struct json_object *base64(const ProtobufCBinaryData *d)
{
	size_t n = (d->len + 2) / 3 * 4;
	char *s = malloc(n + 1), *p = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < d->len; i += 3) {
		uint32_t v = (uint32_t)d->data[i] << 16;
		if (i + 1 < d->len)
			v |= (uint32_t)d->data[i + 1] << 8;
		if (i + 2 < d->len)
			v |= d->data[i + 2];
		*p++ = b64[(v >> 18) & 63];
		*p++ = b64[(v >> 12) & 63];
		*p++ = i + 1 < d->len ? b64[(v >> 6) & 63] : '=';
		*p++ = i + 2 < d->len ? b64[v & 63] : '=';
	}
	*p = '\0';
	struct json_object *o = json_object_new_string_len(s, (int)(p - s));
	free(s);
	return o;
}

void ctl_json_name(const char *proto_name, char *buf, size_t len)
{
	size_t o = 0;
	bool up = false;
	for (const char *p = proto_name; *p && o + 1 < len; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		buf[o++] = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		up = false;
	}
	buf[o] = '\0';
}

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;       /* 32-bit ints, float, enum */
	}
}

static struct json_object *int64_string(long long v, bool is_unsigned)
{
	char buf[32];
	if (is_unsigned)
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
	else
		snprintf(buf, sizeof buf, "%lld", v);
	return json_object_new_string(buf);
}

/* One value of field f at p (a scalar, a string, bytes or a message). */
static struct json_object *value(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
		return json_object_new_int(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
		return json_object_new_int64(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
		return int64_string((long long)*(const int64_t *)p, false);
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		return int64_string((long long)*(const uint64_t *)p, true);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_object_new_double(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_object_new_double(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_object_new_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		return ev ? json_object_new_string(ev->name) : json_object_new_int(v);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return json_object_new_string(s ? s : "");
	}
	case PROTOBUF_C_TYPE_BYTES:
		return base64(p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		return m ? ctl_pb_json(m) : json_object_new_object();
	}
	}
	return NULL;
}

/* A map field: its entries (messages with key and value) as an object. */
static bool is_map(const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	size_t n = d ? strlen(d->name) : 0;
	return f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE &&
	       n > 5 && !strcmp(d->name + n - 5, "Entry") && d->n_fields == 2 &&
	       !strcmp(d->fields[0].name, "key") && !strcmp(d->fields[1].name, "value");
}

static struct json_object *map(const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *v,
			       size_t n)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; o && i < n; i++) {
		const char *e = (const char *)v[i];
		struct json_object *k = value(&d->fields[0], e + d->fields[0].offset);
		struct json_object *val = value(&d->fields[1], e + d->fields[1].offset);
		if (!k || !val || json_object_object_add(o, json_object_get_string(k), val) < 0) {
			json_object_put(val);
			json_object_put(o);
			o = NULL;
		}
		json_object_put(k);
	}
	return o;
}

/* Whether a singular field is set enough to be printed. */
static bool present(const ProtobufCFieldDescriptor *f, const char *m)
{
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(m + f->quantifier_offset) == f->id;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(ProtobufCMessage *const *)(m + f->offset) != NULL;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
	    f->type != PROTOBUF_C_TYPE_STRING)
		return *(const protobuf_c_boolean *)(m + f->quantifier_offset);
	return true;
}

struct json_object *ctl_pb_json(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *m = (const char *)msg;
	struct json_object *o = json_object_new_object();
	for (unsigned i = 0; o && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		struct json_object *v;
		char name[128];
		ctl_json_name(f->name, name, sizeof name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(m + f->quantifier_offset);
			const char *arr = *(char *const *)(m + f->offset);
			if (is_map(f)) {
				v = map(f, (ProtobufCMessage *const *)arr, n);
			} else {
				v = json_object_new_array();
				for (size_t k = 0; v && k < n; k++) {
					struct json_object *e = value(f, arr + k * elem_size(f->type));
					if (!e || json_object_array_add(v, e) < 0) {
						json_object_put(e);
						json_object_put(v);
						v = NULL;
					}
				}
			}
		} else if (!present(f, m)) {
			continue;
		} else {
			v = value(f, m + f->offset);
		}
		if (!v || json_object_object_add(o, name, v) < 0) {
			json_object_put(v);
			json_object_put(o);
			o = NULL;
		}
	}
	return o;
}

int ctl_json_print(struct json_object *o, FILE *f)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	fprintf(f, "%s\n", s);
	return 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct json_object *ctl_inspect_json(const ProtobufCMessage *status, void *const *info,
				     size_t n_info)
{
	const char **keys = calloc(n_info + 1, sizeof *keys);
	struct json_object *o = json_object_new_object();
	size_t n = 0;
	if (!keys || !o)
		goto fail;
	keys[n++] = "status";
	for (size_t i = 0; i < n_info; i++) {
		const ProtobufCMessage *e = info[i];
		const char *k = *(char *const *)((const char *)e + e->descriptor->fields[0].offset);
		if (k && strcmp(k, "status"))
			keys[n++] = k;
	}
	qsort(keys, n, sizeof *keys, by_str);
	for (size_t i = 0; i < n; i++) {
		struct json_object *v;
		if (!strcmp(keys[i], "status")) {
			v = ctl_pb_json(status);
		} else {
			const char *s = ctl_map_get(info, n_info, keys[i]);
			v = s && *s == '{' ? json_tokener_parse(s) : NULL;
			if (!v && s) {
				/* a plain string: without its quotes, as crictl */
				size_t len = strlen(s);
				while (len && s[len - 1] == '"')
					len--;
				while (len && *s == '"') {
					s++;
					len--;
				}
				v = json_object_new_string_len(s, (int)len);
			}
		}
		if (!v || json_object_object_add(o, keys[i], v) < 0) {
			json_object_put(v);
			goto fail;
		}
	}
	free(keys);
	return o;
fail:
	free(keys);
	json_object_put(o);
	return NULL;
}
