/*
 * arena: blocks of 64 KiB (or one of the size asked, when larger), each
 * handed out front to back. See arena.h. Never logs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sandboxd/arena.h"

#define ARENA_BLOCK (64 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	max_align_t data[];
};

void *arena_alloc(struct arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (a->max && a->used + size > a->max) {
		a->failed = -E2BIG;
		return NULL;
	}
	struct arena_block *b = a->head;
	if (!b || b->size - b->used < size) {
		size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
		b = malloc(sizeof *b + cap);
		if (!b) {
			a->failed = -ENOMEM;
			return NULL;
		}
		b->size = cap;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	a->used += size;
	memset(p, 0, size);
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s) + 1;
	char *c = arena_alloc(a, n);
	if (c)
		memcpy(c, s, n);
	return c;
}

struct arena_defer {
	struct arena_defer *next;
	void (*fn)(void *x, void *y);
	void *x, *y;
};

int arena_defer(struct arena *a, void (*fn)(void *x, void *y), void *x, void *y)
{
	struct arena_defer *d = malloc(sizeof *d);
	if (!d) {
		fn(x, y);
		a->failed = -ENOMEM;
		return -ENOMEM;
	}
	*d = (struct arena_defer){ a->defers, fn, x, y };
	a->defers = d;
	return 0;
}

void arena_free(struct arena *a)
{
	while (a->defers) {
		struct arena_defer *d = a->defers;
		a->defers = d->next;
		d->fn(d->x, d->y);
		free(d);
	}
	struct arena_block *b = a->head;
	while (b) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	*a = (struct arena){ 0 };
}
