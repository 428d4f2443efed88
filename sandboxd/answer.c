/*
 * answer: see answer.h. Every protobuf-c map entry is a message with the
 * key and value strings right after its base, whatever the map. Never logs.
 */
#include <errno.h>
#include <stdlib.h>
#include "sandboxd/answer.h"

struct kv_entry {
	ProtobufCMessage base;
	char *key;
	char *value;
};

void *answer_map(struct arena *a, void *const *src, size_t n,
		 const ProtobufCMessageDescriptor *desc, size_t *ret_n)
{
	struct kv_entry **v = arena_alloc(a, (n ? n : 1) * sizeof *v);
	*ret_n = 0;
	for (size_t i = 0; v && i < n; i++) {
		const struct kv_entry *s = src[i];
		struct kv_entry *e = arena_alloc(a, desc->sizeof_message);
		if (!e)
			return NULL;
		protobuf_c_message_init(desc, e);
		e->key = s->key;
		e->value = s->value;
		v[i] = e;
	}
	if (v)
		*ret_n = n;
	return v;
}

void *answer_map1(struct arena *a, const char *key, const char *value,
		  const ProtobufCMessageDescriptor *desc, size_t *ret_n)
{
	struct kv_entry e = { .key = (char *)key, .value = arena_strdup(a, value) };
	void *src[1] = { &e };
	return e.value ? answer_map(a, src, 1, desc, ret_n) : NULL;
}

static void put_pod(void *st, void *p)
{
	state_pod_put(st, p);
}

static void put_ctr(void *st, void *c)
{
	state_ctr_put(st, c);
}

/* The arrays are NULL-terminated copies, so that one pointer says it all. */
static void put_pods(void *st, void *v)
{
	struct pod **pv = v;
	size_t n = 0;
	while (pv[n])
		n++;
	state_pods_put_all(st, pv, n);
}

static void put_ctrs(void *st, void *v)
{
	struct ctr **cv = v;
	size_t n = 0;
	while (cv[n])
		n++;
	state_ctrs_put_all(st, cv, n);
}

void answer_hold_pod(struct arena *a, struct state *st, struct pod *p)
{
	arena_defer(a, put_pod, st, p);
}

void answer_hold_ctr(struct arena *a, struct state *st, struct ctr *c)
{
	arena_defer(a, put_ctr, st, c);
}

void answer_hold_pods(struct arena *a, struct state *st, struct pod **v, size_t n)
{
	struct pod **nv = realloc(v, (n + 1) * sizeof *nv);
	if (!nv) {
		state_pods_put_all(st, v, n);
		a->failed = -ENOMEM;
		return;
	}
	nv[n] = NULL;
	arena_defer(a, put_pods, st, nv);
}

void answer_hold_ctrs(struct arena *a, struct state *st, struct ctr **v, size_t n)
{
	struct ctr **nv = realloc(v, (n + 1) * sizeof *nv);
	if (!nv) {
		state_ctrs_put_all(st, v, n);
		a->failed = -ENOMEM;
		return;
	}
	nv[n] = NULL;
	arena_defer(a, put_ctrs, st, nv);
}
