/*
 * idmap: objects by their 64-hex id (struct pod, struct ctr): an open-
 * addressing hash table for exact ids, and a scan for unique prefixes.
 * The key is the object's own id string (idmap stores the pointer it is
 * given; the object must outlive its entry). Not thread-safe (state.c
 * holds its lock). Never logs.
 */
#pragma once
#include <stddef.h>

struct idmap {
	void **slots;           /* NULL empty, IDMAP_TOMB removed */
	const char **keys;
	size_t cap, n, used;    /* used: live + tombstones */
};

#define IDMAP_TOMB ((void *)1)

void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
/* -EEXIST when the id is there, -ENOMEM. */
int idmap_put(struct idmap *m, const char *id, void *obj);
void *idmap_get(const struct idmap *m, const char *id);
void idmap_del(struct idmap *m, const char *id);
/* The one object whose id starts with prefix: -ENOENT, -ENOTUNIQ. */
int idmap_find(const struct idmap *m, const char *prefix, void **ret);
/* Iterate: for (size_t i = 0; (obj = idmap_next(m, &i)); ) */
void *idmap_next(const struct idmap *m, size_t *i);
