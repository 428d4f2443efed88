/*
 * answer: helpers for the CRI answers sandboxd builds in an arena: copies
 * of protobuf-c string maps (labels, annotations, info) into another map
 * type, and holding the pods' and containers' references until the arena
 * is freed (answers point into their immutable configs). Never logs.
 */
#pragma once
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>
#include "sandboxd/arena.h"
#include "sandboxd/state/state.h"

/* A map of n entries of any protobuf-c map type (src) as entries of map
 * type desc; the strings are shared, not copied. */
void *answer_map(struct arena *a, void *const *src, size_t n,
		 const ProtobufCMessageDescriptor *desc, size_t *ret_n);
/* A one-entry map {key: value} of type desc (value copied). */
void *answer_map1(struct arena *a, const char *key, const char *value,
		  const ProtobufCMessageDescriptor *desc, size_t *ret_n);
/* Keep these until a is freed. The arrays (from state_*_all) are taken:
 * they may move, so the caller must not touch them after the call. */
void answer_hold_pod(struct arena *a, struct state *st, struct pod *p);
void answer_hold_ctr(struct arena *a, struct state *st, struct ctr *c);
void answer_hold_pods(struct arena *a, struct state *st, struct pod **v, size_t n);
void answer_hold_ctrs(struct arena *a, struct state *st, struct ctr **v, size_t n);
