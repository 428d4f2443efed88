/*
 * pbmap: protobuf-c map<string,string> fields (labels, annotations,
 * label selectors, info), which protoc-c makes repeated "...Entry"
 * messages of a type of their own per field: built from KEY=VALUE pairs
 * for a request, read by key from an answer. Works through the entry's
 * descriptor (its fields "key" and "value"), so one helper serves every
 * map. Nothing else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crispctl/crispctl.h"

static const ProtobufCFieldDescriptor *entry_field(const ProtobufCMessageDescriptor *d,
						   const char *name)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
	return f && f->type == PROTOBUF_C_TYPE_STRING ? f : NULL;
}

int ctl_map_new(const ProtobufCMessageDescriptor *entry, const struct ctl_kv *kv, size_t n,
		void ***ret)
{
	const ProtobufCFieldDescriptor *fk = entry_field(entry, "key");
	const ProtobufCFieldDescriptor *fv = entry_field(entry, "value");
	if (!fk || !fv)
		return -EINVAL;
	size_t ptrs = (n ? n : 1) * sizeof(void *);
	ptrs = (ptrs + 15) / 16 * 16;
	char *block = calloc(1, ptrs + n * entry->sizeof_message);
	if (!block)
		return -ENOMEM;
	void **v = (void **)block;
	for (size_t i = 0; i < n; i++) {
		char *e = block + ptrs + i * entry->sizeof_message;
		protobuf_c_message_init(entry, e);
		*(const char **)(e + fk->offset) = kv[i].key;
		*(const char **)(e + fv->offset) = kv[i].value;
		v[i] = e;
	}
	*ret = v;
	return 0;
}

void ctl_map_free(void **entries)
{
	free(entries);
}

const char *ctl_map_get(void *const *entries, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		const ProtobufCMessage *m = entries[i];
		const ProtobufCFieldDescriptor *fk = entry_field(m->descriptor, "key");
		const ProtobufCFieldDescriptor *fv = entry_field(m->descriptor, "value");
		if (!fk || !fv)
			return NULL;
		const char *k = *(char *const *)((const char *)m + fk->offset);
		if (k && !strcmp(k, key))
			return *(char *const *)((const char *)m + fv->offset);
	}
	return NULL;
}

bool ctl_map_has_all(void *const *entries, size_t n, const struct ctl_kv *want, size_t n_want)
{
	for (size_t i = 0; i < n_want; i++) {
		const char *v = ctl_map_get(entries, n, want[i].key);
		if (!v || strcmp(v, want[i].value))
			return false;
	}
	return true;
}
