/*
 * arena: memory for one answer. The CRI answers sandboxd builds (statuses,
 * lists) are trees of small protobuf-c structs and strings; they are
 * allocated here and freed together once the answer is sent. Never logs.
 */
#pragma once
#include <stddef.h>

struct arena_defer;

struct arena {
	struct arena_block *head;
	struct arena_defer *defers;     /* run by arena_free, last first */
	size_t used;                    /* bytes handed out, for a cap */
	size_t max;                     /* 0: no cap */
	int failed;                     /* an allocation failed: -ENOMEM or -E2BIG */
};

/* Zeroed memory; NULL (and a->failed set) when it fails. */
void *arena_alloc(struct arena *a, size_t size);
#define arena_new(a, type) ((type *)arena_alloc((a), sizeof(type)))
char *arena_strdup(struct arena *a, const char *s);     /* NULL s: "" */
/* Run fn(x, y) when the arena is freed (e.g. drop the references of the
 * objects an answer points into). -ENOMEM (fn run at once) on failure. */
int arena_defer(struct arena *a, void (*fn)(void *x, void *y), void *x, void *y);
void arena_free(struct arena *a);
