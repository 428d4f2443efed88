/*
 * store_image: writing image records: insert/update (with the tags and
 * repo digests that move to it), tag, pin, remove, and the CRI reading of a
 * config's User. An image only names content already in the store (the
 * foreign keys refuse anything else) and its size is computed here from its
 * blobs' recorded sizes (the content size, as containerd's CRI reports).
 * Reading is in store_image_query.c. Never logs; never touches files.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "imaged/store_int.h"

static bool str_ok(const char *s, size_t max)
{
	return s && *s && strnlen(s, max + 1) <= max;
}

static int image_validate(const struct store_image *img)
{
	if (!digest_valid(img->id) || !digest_valid(img->manifest_digest))
		return -EINVAL;
	if ((img->media_type && strnlen(img->media_type, STORE_REF_MAX + 1) > STORE_REF_MAX) ||
	    (img->username && !str_ok(img->username, STORE_REF_MAX)))
		return -E2BIG;
	if (img->n_repo_tags > STORE_IMAGE_LIST_MAX || img->n_repo_digests > STORE_IMAGE_LIST_MAX ||
	    img->n_layers > STORE_IMAGE_LIST_MAX || img->n_blobs > STORE_IMAGE_LIST_MAX ||
	    img->n_annotations > STORE_ANNOTATIONS_MAX)
		return -E2BIG;
	for (size_t i = 0; i < img->n_repo_tags; i++)
		if (!str_ok(img->repo_tags[i], STORE_REF_MAX))
			return -EINVAL;
	for (size_t i = 0; i < img->n_repo_digests; i++)
		if (!str_ok(img->repo_digests[i], STORE_REF_MAX))
			return -EINVAL;
	for (size_t i = 0; i < img->n_layers; i++)
		if (!digest_valid(img->layers[i].chain_id) || !digest_valid(img->layers[i].diff_id))
			return -EINVAL;
	for (size_t i = 0; i < img->n_blobs; i++)
		if (!digest_valid(img->blobs[i]))
			return -EINVAL;
	for (size_t i = 0; i < img->n_annotations; i++)
		if (!str_ok(img->annotations[i].key, STORE_ANNOTATION_KEY_MAX) ||
		    !img->annotations[i].value ||
		    strnlen(img->annotations[i].value, STORE_ANNOTATION_VALUE_MAX + 1) >
			    STORE_ANNOTATION_VALUE_MAX)
			return -EINVAL;
	return 0;
}

/* Step a prepared statement to its end and finalize it. */
static int step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	int r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_db_errno(rc);

	sqlite3_finalize(st);
	return r;
}

static int image_upsert(struct store *s, const struct store_image *img)
{
	sqlite3_stmt *st;
	int r = store_db_prepare(s,
		"INSERT INTO images (id, manifest_digest, media_type, size, uid, username,"
		" pinned, created) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)"
		" ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest,"
		" media_type = excluded.media_type, uid = excluded.uid,"
		" username = excluded.username, pinned = excluded.pinned", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, img->manifest_digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, img->media_type ? img->media_type : "", -1, SQLITE_STATIC);
	if (img->uid >= 0)
		sqlite3_bind_int64(st, 4, img->uid);
	if (img->username)
		sqlite3_bind_text(st, 5, img->username, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, img->pinned);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
	return step_done(s, st);
}

static int image_layers_put(struct store *s, const struct store_image *img)
{
	int r = store_db_exec(s, "DELETE FROM image_layers WHERE image_id = ?1", img->id, NULL);

	for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
		sqlite3_stmt *st;
		r = store_db_prepare(s, "INSERT INTO image_layers (image_id, idx, chain_id, diff_id)"
				     " VALUES (?1, ?2, ?3, ?4)", &st);
		if (r < 0)
			break;
		sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		sqlite3_bind_text(st, 3, img->layers[i].chain_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, img->layers[i].diff_id, -1, SQLITE_STATIC);
		r = step_done(s, st);
	}
	return r;
}

static int image_blobs_put(struct store *s, const struct store_image *img)
{
	static const char sql[] = "INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?1, ?2)";
	int r = store_db_exec(s, "DELETE FROM image_blobs WHERE image_id = ?1", img->id, NULL);

	/* its config and manifest are always among its blobs */
	if (r >= 0)
		r = store_db_exec(s, sql, img->id, img->id);
	if (r >= 0)
		r = store_db_exec(s, sql, img->id, img->manifest_digest);
	for (size_t i = 0; r >= 0 && i < img->n_blobs; i++)
		r = store_db_exec(s, sql, img->id, img->blobs[i]);
	return r;
}

static int image_annotations_put(struct store *s, const struct store_image *img)
{
	int r = store_db_exec(s, "DELETE FROM image_annotations WHERE image_id = ?1", img->id, NULL);

	for (size_t i = 0; r >= 0 && i < img->n_annotations; i++) {
		sqlite3_stmt *st;
		r = store_db_prepare(s, "INSERT OR REPLACE INTO image_annotations"
				     " (image_id, key, value) VALUES (?1, ?2, ?3)", &st);
		if (r < 0)
			break;
		sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, img->annotations[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, img->annotations[i].value, -1, SQLITE_STATIC);
		r = step_done(s, st);
	}
	return r;
}

static int tag_move(struct store *s, const char *id, const char *tag)
{
	return store_db_exec(s, "INSERT INTO image_tags (tag, image_id) VALUES (?2, ?1)"
			     " ON CONFLICT(tag) DO UPDATE SET image_id = excluded.image_id",
			     id, tag);
}

static int repo_digest_move(struct store *s, const char *id, const char *ref)
{
	return store_db_exec(s, "INSERT INTO image_repo_digests (repo_digest, image_id)"
			     " VALUES (?2, ?1) ON CONFLICT(repo_digest)"
			     " DO UPDATE SET image_id = excluded.image_id", id, ref);
}

static int image_size_update(struct store *s, struct store_image *img)
{
	sqlite3_stmt *st;
	int r = store_db_exec(s, "UPDATE images SET size = (SELECT COALESCE(SUM(b.size), 0)"
			      " FROM image_blobs ib JOIN blobs b ON b.digest = ib.digest"
			      " WHERE ib.image_id = ?1) WHERE id = ?1", img->id, NULL);

	if (r < 0)
		return r;
	r = store_db_prepare(s, "SELECT size, created FROM images WHERE id = ?1", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		img->size = (uint64_t)sqlite3_column_int64(st, 0);
		img->created = sqlite3_column_int64(st, 1);
	} else {
		r = -EIO;
	}
	sqlite3_finalize(st);
	return r;
}

int store_image_put(struct store *s, struct store_image *img)
{
	int r = image_validate(img);

	if (r < 0)
		return r;
	r = store_db_begin(s);
	if (r < 0)
		return r;
	r = image_upsert(s, img);
	if (r >= 0)
		r = image_layers_put(s, img);
	if (r >= 0)
		r = image_blobs_put(s, img);
	if (r >= 0)
		r = image_annotations_put(s, img);
	for (size_t i = 0; r >= 0 && i < img->n_repo_tags; i++)
		r = tag_move(s, img->id, img->repo_tags[i]);
	for (size_t i = 0; r >= 0 && i < img->n_repo_digests; i++)
		r = repo_digest_move(s, img->id, img->repo_digests[i]);
	if (r >= 0)
		r = image_size_update(s, img);
	r = store_db_end(s, r);
	store_changed(s);
	return r < 0 ? r : 0;
}

int store_image_tag(struct store *s, const char *id, const char *tag)
{
	if (!digest_valid(id) || !str_ok(tag, STORE_REF_MAX))
		return -EINVAL;
	int r = store_db_begin(s);
	if (r < 0)
		return r;
	r = store_db_end(s, tag_move(s, id, tag));     /* FK: -ENOENT without the image */
	return r < 0 ? r : 0;
}

int store_image_set_pinned(struct store *s, const char *id, bool pinned)
{
	if (!digest_valid(id))
		return -EINVAL;
	int r = store_db_begin(s);
	if (r < 0)
		return r;
	r = store_db_exec(s, pinned ? "UPDATE images SET pinned = 1 WHERE id = ?1"
				    : "UPDATE images SET pinned = 0 WHERE id = ?1", id, NULL);
	r = store_db_end(s, r);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int store_image_remove(struct store *s, const char *id)
{
	if (!digest_valid(id))
		return -EINVAL;
	int r = store_db_begin(s);
	if (r < 0)
		return r;
	/* ON DELETE CASCADE takes its tags, repo digests, layer and blob refs */
	r = store_db_end(s, store_db_exec(s, "DELETE FROM images WHERE id = ?1", id, NULL));
	store_changed(s);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int store_image_set_user(struct store_image *img, const char *config_user)
{
	size_t n;
	bool numeric = true;
	int64_t uid = 0;

	if (!config_user || !*config_user) {
		free(img->username);
		img->username = NULL;
		img->uid = STORE_UID_NONE;
		return 0;
	}
	if (strnlen(config_user, STORE_REF_MAX + 1) > STORE_REF_MAX)
		return -E2BIG;
	n = strcspn(config_user, ":");
	if (n == 0)
		return -EINVAL;                 /* ":group" names no user */
	for (size_t i = 0; i < n && numeric; i++)
		numeric = config_user[i] >= '0' && config_user[i] <= '9';
	for (size_t i = 0; i < n && numeric; i++) {
		uid = uid * 10 + (config_user[i] - '0');
		if (uid > UINT32_MAX - 1)       /* (uid_t)-1 is not a uid */
			return -ERANGE;
	}
	char *name = numeric ? NULL : strndup(config_user, n);
	if (!numeric && !name)
		return -ENOMEM;
	free(img->username);
	img->username = name;
	img->uid = numeric ? uid : STORE_UID_NONE;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void store_image_free(struct store_image *img)
{
	if (!img)
		return;
	free(img->media_type);
	free(img->username);
	strv_free(img->repo_tags, img->n_repo_tags);
	strv_free(img->repo_digests, img->n_repo_digests);
	free(img->layers);
	free(img->blobs);
	for (size_t i = 0; i < img->n_annotations; i++) {
		free(img->annotations[i].key);
		free(img->annotations[i].value);
	}
	free(img->annotations);
	free(img);
}

void store_image_list_free(struct store_image **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_image_free(v[i]);
	free(v);
}
