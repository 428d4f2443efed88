/*
 * store_image_query: reading image records: by exact id, by CRI reference
 * (id, tag, repo digest, unique id prefix, in that order) and lists. Each
 * call reads in one transaction, so an image is never seen half written.
 * Never logs; never writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "imaged/store_int.h"

static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? 2 * *cap : 8;
	void *p = reallocarray(*v, ncap, elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

static int query_id(struct store *s, const char *sql, const char *arg, sqlite3_stmt **ret)
{
	int r = store_db_prepare(s, sql, ret);

	if (r >= 0)
		sqlite3_bind_text(*ret, 1, arg, -1, SQLITE_STATIC);
	return r;
}

static int load_strings(struct store *s, const char *sql, const char *id,
			char ***ret_v, size_t *ret_n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, r = query_id(s, sql, id, &st);

	if (r < 0)
		return r;
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = grow((void **)ret_v, &cap, *ret_n, sizeof **ret_v);
		if (r >= 0 && !((*ret_v)[*ret_n] = store_db_col_strdup(st, 0, &r)) && r >= 0)
			r = -EIO;
		if (r >= 0)
			(*ret_n)++;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_db_errno(rc);
	sqlite3_finalize(st);
	return r;
}

static int load_layers(struct store *s, struct store_image *img)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, r = query_id(s, "SELECT chain_id, diff_id FROM image_layers WHERE image_id = ?1"
			     " ORDER BY idx", img->id, &st);

	if (r < 0)
		return r;
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = grow((void **)&img->layers, &cap, img->n_layers, sizeof *img->layers);
		if (r < 0)
			break;
		struct store_layer_ref *l = &img->layers[img->n_layers++];
		store_db_col_copy(st, 0, l->chain_id, sizeof l->chain_id);
		store_db_col_copy(st, 1, l->diff_id, sizeof l->diff_id);
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_db_errno(rc);
	sqlite3_finalize(st);
	return r;
}

static int load_blobs(struct store *s, struct store_image *img)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, r = query_id(s, "SELECT digest FROM image_blobs WHERE image_id = ?1"
			     " ORDER BY digest", img->id, &st);

	if (r < 0)
		return r;
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = grow((void **)&img->blobs, &cap, img->n_blobs, sizeof *img->blobs);
		if (r >= 0)
			store_db_col_copy(st, 0, img->blobs[img->n_blobs++], DIGEST_STR_SIZE);
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_db_errno(rc);
	sqlite3_finalize(st);
	return r;
}

static int load_annotations(struct store *s, struct store_image *img)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, r = query_id(s, "SELECT key, value FROM image_annotations WHERE image_id = ?1"
			     " ORDER BY key", img->id, &st);

	if (r < 0)
		return r;
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = grow((void **)&img->annotations, &cap, img->n_annotations,
			 sizeof *img->annotations);
		if (r < 0)
			break;
		struct store_kv *kv = &img->annotations[img->n_annotations++];
		kv->key = store_db_col_strdup(st, 0, &r);
		kv->value = store_db_col_strdup(st, 1, &r);
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_db_errno(rc);
	sqlite3_finalize(st);
	return r;
}

static int load_main(struct store *s, struct store_image *img)
{
	sqlite3_stmt *st;
	int rc, r = query_id(s, "SELECT manifest_digest, media_type, size, uid, username,"
			     " pinned, created FROM images WHERE id = ?1", img->id, &st);

	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_db_col_copy(st, 0, img->manifest_digest, sizeof img->manifest_digest);
		img->media_type = store_db_col_strdup(st, 1, &r);
		img->size = (uint64_t)sqlite3_column_int64(st, 2);
		img->uid = sqlite3_column_type(st, 3) == SQLITE_NULL ? STORE_UID_NONE
								     : sqlite3_column_int64(st, 3);
		img->username = store_db_col_strdup(st, 4, &r);
		img->pinned = sqlite3_column_int(st, 5) != 0;
		img->created = sqlite3_column_int64(st, 6);
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_db_errno(rc);
	}
	sqlite3_finalize(st);
	return r;
}

/* Inside a transaction. */
static int image_load(struct store *s, const char *id, struct store_image **ret)
{
	struct store_image *img = calloc(1, sizeof *img);
	int r;

	if (!img)
		return -ENOMEM;
	snprintf(img->id, sizeof img->id, "%s", id);
	r = load_main(s, img);
	if (r >= 0)
		r = load_strings(s, "SELECT tag FROM image_tags WHERE image_id = ?1 ORDER BY tag",
				 id, &img->repo_tags, &img->n_repo_tags);
	if (r >= 0)
		r = load_strings(s, "SELECT repo_digest FROM image_repo_digests WHERE image_id = ?1"
				 " ORDER BY repo_digest", id, &img->repo_digests, &img->n_repo_digests);
	if (r >= 0)
		r = load_layers(s, img);
	if (r >= 0)
		r = load_blobs(s, img);
	if (r >= 0)
		r = load_annotations(s, img);
	if (r < 0) {
		store_image_free(img);
		return r;
	}
	*ret = img;
	return 0;
}

/* 1 and the id of the only row sql (one text arg) returns; 0 if none;
 * -ENOTUNIQ if several. */
static int lookup_one(struct store *s, const char *sql, const char *arg,
		      char ret[DIGEST_STR_SIZE])
{
	sqlite3_stmt *st;
	int rc, r = query_id(s, sql, arg, &st);

	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_db_col_copy(st, 0, ret, DIGEST_STR_SIZE);
		rc = sqlite3_step(st);
		r = rc == SQLITE_ROW ? -ENOTUNIQ : rc == SQLITE_DONE ? 1 : store_db_errno(rc);
	} else {
		r = rc == SQLITE_DONE ? 0 : store_db_errno(rc);
	}
	sqlite3_finalize(st);
	return r;
}

/* "<hex prefix>" or "sha256:<hex prefix>" -> "sha256:<hex prefix>%" for LIKE
 * (hex only, so no LIKE metacharacters). 0 if ref is not an id prefix. */
static int id_prefix_pattern(const char *ref, char ret[DIGEST_STR_SIZE + 1])
{
	const char *hex = ref;
	size_t n;

	if (strncmp(ref, DIGEST_PREFIX, strlen(DIGEST_PREFIX)) == 0)
		hex += strlen(DIGEST_PREFIX);
	n = strnlen(hex, DIGEST_HEX_LEN + 1);
	if (n < STORE_ID_PREFIX_MIN || n > DIGEST_HEX_LEN ||
	    strspn(hex, "0123456789abcdef") != n)
		return 0;
	snprintf(ret, DIGEST_STR_SIZE + 1, "%s%s%%", DIGEST_PREFIX, hex);
	return 1;
}

static int resolve_ref(struct store *s, const char *ref, char ret[DIGEST_STR_SIZE])
{
	char pattern[DIGEST_STR_SIZE + 1];
	int r = 0;

	if (digest_valid(ref))
		r = lookup_one(s, "SELECT id FROM images WHERE id = ?1", ref, ret);
	if (r == 0)
		r = lookup_one(s, "SELECT image_id FROM image_tags WHERE tag = ?1", ref, ret);
	if (r == 0)
		r = lookup_one(s, "SELECT image_id FROM image_repo_digests WHERE repo_digest = ?1",
			       ref, ret);
	if (r == 0 && id_prefix_pattern(ref, pattern))
		r = lookup_one(s, "SELECT id FROM images WHERE id LIKE ?1 LIMIT 2", pattern, ret);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int store_image_get(struct store *s, const char *id, struct store_image **ret)
{
	if (!digest_valid(id))
		return -EINVAL;
	int r = store_db_begin(s);
	if (r < 0)
		return r;
	return store_db_end(s, image_load(s, id, ret));
}

int store_image_find(struct store *s, const char *ref, struct store_image **ret)
{
	char id[DIGEST_STR_SIZE];

	if (!ref || !*ref || strnlen(ref, STORE_REF_MAX + 1) > STORE_REF_MAX)
		return -EINVAL;
	int r = store_db_begin(s);
	if (r < 0)
		return r;
	r = resolve_ref(s, ref, id);
	if (r >= 0)
		r = image_load(s, id, ret);
	return store_db_end(s, r);
}

static int list_all(struct store *s, struct store_image ***v, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, r = store_db_prepare(s, "SELECT id FROM images ORDER BY id", &st);

	if (r < 0)
		return r;
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		char id[DIGEST_STR_SIZE];
		store_db_col_copy(st, 0, id, sizeof id);
		r = grow((void **)v, &cap, *n, sizeof **v);
		if (r >= 0)
			r = image_load(s, id, &(*v)[*n]);
		if (r >= 0)
			(*n)++;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_db_errno(rc);
	sqlite3_finalize(st);
	return r;
}

int store_image_list(struct store *s, const char *filter, struct store_image ***ret_v,
		     size_t *ret_n)
{
	struct store_image **v = NULL;
	size_t n = 0;
	char id[DIGEST_STR_SIZE];
	int r;

	if (filter && strnlen(filter, STORE_REF_MAX + 1) > STORE_REF_MAX)
		return -EINVAL;
	r = store_db_begin(s);
	if (r < 0)
		return r;
	if (!filter || !*filter) {
		r = list_all(s, &v, &n);
	} else {
		r = resolve_ref(s, filter, id);
		if (r == -ENOENT || r == -ENOTUNIQ)
			r = 0;          /* the filter matches nothing */
		else if (r >= 0 && (v = calloc(1, sizeof *v)))
			r = image_load(s, id, &v[n++]);
		else if (r >= 0)
			r = -ENOMEM;
	}
	r = store_db_end(s, r);
	if (r < 0) {
		store_image_list_free(v, n);
		return r;
	}
	*ret_v = v;
	*ret_n = n;
	return 0;
}
