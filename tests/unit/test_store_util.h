/*
 * test_store_util: helpers shared by the store tests (tests/unit/test_store*.c):
 * a store in the test's tmp dir, blobs and layers made from strings, and
 * counting what a directory holds. Test code only.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "imaged/store.h"

/* ROOT = unit_tmpdir(); CHECKs that the open works. */
struct store *ts_open(void);
/* "sha256:<hex>" of a string. */
void ts_digest_of(const char *text, char ret[DIGEST_STR_SIZE]);
/* Puts the string as a blob; ret gets its digest. */
void ts_blob(struct store *s, const char *text, const char *lease, char ret[DIGEST_STR_SIZE]);
/* Commits a layer holding one file "f" with the given content, on parent
 * (chain id or NULL); ret gets its chain id (its diff id is made up from
 * the content). */
void ts_layer(struct store *s, const char *content, const char *parent, const char *lease,
	      char ret[DIGEST_STR_SIZE]);
/* Entries in ROOT/images/<sub> (not counting . and ..), -1 if absent. */
int ts_count(const char *sub);
/* true if ROOT/images/<rel> exists (lstat). */
bool ts_exists(const char *rel);
