/*
 * idmap: see idmap.h. Linear probing on the first 16 hex digits of the id
 * (ids are random, so that is a good hash); grows at 1/2 load. Never logs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sandboxd/state/idmap.h"

static uint64_t hash(const char *id)
{
	uint64_t h = 1469598103934665603ull;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return h;
}

void idmap_init(struct idmap *m)
{
	*m = (struct idmap){ 0 };
}

void idmap_free(struct idmap *m)
{
	free(m->slots);
	free(m->keys);
	idmap_init(m);
}

static int grow(struct idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	while (cap < m->n * 4)
		cap *= 2;
	struct idmap g = { calloc(cap, sizeof *g.slots), calloc(cap, sizeof *g.keys), cap, 0, 0 };
	if (!g.slots || !g.keys) {
		free(g.slots);
		free(g.keys);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i] && m->slots[i] != IDMAP_TOMB)
			idmap_put(&g, m->keys[i], m->slots[i]);
	free(m->slots);
	free(m->keys);
	*m = g;
	return 0;
}

int idmap_put(struct idmap *m, const char *id, void *obj)
{
	if (idmap_get(m, id))
		return -EEXIST;
	if ((m->used + 1) * 2 > m->cap) {
		int r = grow(m);
		if (r < 0)
			return r;
	}
	for (size_t i = hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i] || m->slots[i] == IDMAP_TOMB) {
			if (!m->slots[i])
				m->used++;
			m->slots[i] = obj;
			m->keys[i] = id;
			m->n++;
			return 0;
		}
	}
}

static size_t slot_of(const struct idmap *m, const char *id)
{
	if (!m->cap)
		return SIZE_MAX;
	for (size_t i = hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i])
			return SIZE_MAX;
		if (m->slots[i] != IDMAP_TOMB && strcmp(m->keys[i], id) == 0)
			return i;
	}
}

void *idmap_get(const struct idmap *m, const char *id)
{
	size_t i = slot_of(m, id);
	return i == SIZE_MAX ? NULL : m->slots[i];
}

void idmap_del(struct idmap *m, const char *id)
{
	size_t i = slot_of(m, id);
	if (i == SIZE_MAX)
		return;
	m->slots[i] = IDMAP_TOMB;
	m->keys[i] = NULL;
	m->n--;
}

int idmap_find(const struct idmap *m, const char *prefix, void **ret)
{
	void *o = idmap_get(m, prefix);
	if (o) {
		*ret = o;
		return 0;
	}
	size_t len = strlen(prefix);
	void *found = NULL;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i] || m->slots[i] == IDMAP_TOMB || strncmp(m->keys[i], prefix, len))
			continue;
		if (found)
			return -ENOTUNIQ;
		found = m->slots[i];
	}
	if (!found)
		return -ENOENT;
	*ret = found;
	return 0;
}

void *idmap_next(const struct idmap *m, size_t *i)
{
	for (; *i < m->cap; (*i)++)
		if (m->slots[*i] && m->slots[*i] != IDMAP_TOMB)
			return m->slots[(*i)++];
	return NULL;
}
