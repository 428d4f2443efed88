/*
 * store_gc: garbage collection and crash recovery of the store.
 *
 * GC (exclusive gc_lock, so no commit can slip in between): in one
 * transaction, find every blob and layer that no image and no lease holds
 * (a layer below a held layer is held too) and delete their rows; after the
 * commit, unlink the blobs and move the layer trees into tmp/, then (lock
 * dropped) remove those trees. A kill -9 anywhere leaves at worst files
 * without rows, which recovery removes.
 *
 * Recovery (store_open, before any other thread): drop the temporary leases
 * of the previous run, rows whose file is gone (and the images that named
 * them: they can no longer run), and files that have no row.
 * Never logs: it counts what it did in the caller's report.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "imaged/store_int.h"

struct gc_item {
	char digest[DIGEST_STR_SIZE];   /* digest or chain id */
	char tmp[STORE_TMP_NAME_MAX];   /* a layer moved into tmp/ */
	uint64_t size;
};

struct gc_list {
	struct gc_item *v;
	size_t n, cap;
};

/* Rows of (id text, size) from sql. */
static int gc_collect(struct store *s, const char *sql, struct gc_list *l)
{
	sqlite3_stmt *st;
	int rc, r = store_db_prepare(s, sql, &st);

	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 16;
			struct gc_item *v = reallocarray(l->v, cap, sizeof *v);
			if (!v) {
				r = -ENOMEM;
				break;
			}
			l->v = v;
			l->cap = cap;
		}
		struct gc_item *it = &l->v[l->n++];
		memset(it, 0, sizeof *it);
		store_db_col_copy(st, 0, it->digest, sizeof it->digest);
		it->size = (uint64_t)sqlite3_column_int64(st, 1);
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_db_errno(rc);
	sqlite3_finalize(st);
	return r;
}

static int gc_delete_rows(struct store *s, const char *sql, const struct gc_list *l)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < l->n; i++)
		r = store_db_exec(s, sql, l->v[i].digest, NULL);
	return r;
}

static int gc_pick(struct store *s, struct gc_list *blobs, struct gc_list *layers)
{
	int r = store_db_begin(s);

	if (r < 0)
		return r;
	r = gc_collect(s, "SELECT digest, size FROM blobs b"
		       " WHERE NOT EXISTS (SELECT 1 FROM image_blobs i WHERE i.digest = b.digest)"
		       " AND NOT EXISTS (SELECT 1 FROM lease_blobs l WHERE l.digest = b.digest)",
		       blobs);
	if (r >= 0)
		r = gc_collect(s, "WITH RECURSIVE held(chain_id) AS ("
			       "  SELECT chain_id FROM (SELECT chain_id FROM image_layers"
			       "   UNION SELECT chain_id FROM lease_layers)"
			       "  UNION SELECT l.parent FROM layers l JOIN held h"
			       "   ON l.chain_id = h.chain_id WHERE l.parent IS NOT NULL)"
			       " SELECT chain_id, size FROM layers"
			       " WHERE chain_id NOT IN (SELECT chain_id FROM held)", layers);
	if (r >= 0)
		r = gc_delete_rows(s, "DELETE FROM blobs WHERE digest = ?1", blobs);
	if (r >= 0)
		r = gc_delete_rows(s, "DELETE FROM layers WHERE chain_id = ?1", layers);
	return store_db_end(s, r);
}

/* Rows are gone: unlink blobs, move layer trees aside. First error wins,
 * but every item is tried (a leftover is an orphan for the next open). */
static int gc_unlink(struct store *s, struct gc_list *blobs, struct gc_list *layers)
{
	int r = 0, q;

	for (size_t i = 0; i < blobs->n; i++)
		if (unlinkat(s->blobs_fd, STORE_HEX(blobs->v[i].digest), 0) < 0 &&
		    errno != ENOENT && r == 0)
			r = -errno;
	for (size_t i = 0; i < layers->n; i++) {
		struct gc_item *it = &layers->v[i];
		q = store_fs_tmp_name(s, "gc", it->tmp);
		if (q >= 0 && renameat(s->layers_fd, STORE_HEX(it->digest), s->tmp_fd, it->tmp) < 0)
			q = errno == ENOENT ? 0 : -errno;
		if (q < 0) {
			it->tmp[0] = '\0';
			if (r == 0)
				r = q;
		}
	}
	q = store_fs_fsync_dir(s->blobs_fd);
	if (q >= 0)
		q = store_fs_fsync_dir(s->layers_fd);
	return r < 0 ? r : q;
}

int store_gc(struct store *s, struct store_gc_stats *ret_stats)
{
	struct gc_list blobs = { 0 }, layers = { 0 };
	struct store_gc_stats stats = { 0 };
	int r, q;

	pthread_rwlock_wrlock(&s->gc_lock);
	r = gc_pick(s, &blobs, &layers);
	if (r >= 0 && s->gc_test_hook)
		s->gc_test_hook(s->gc_test_data);
	if (r >= 0)
		r = gc_unlink(s, &blobs, &layers);
	pthread_rwlock_unlock(&s->gc_lock);
	for (size_t i = 0; i < layers.n; i++) {
		q = layers.v[i].tmp[0] ? store_fs_remove_tree(s->tmp_fd, layers.v[i].tmp) : 0;
		if (q < 0 && q != -ENOENT && r >= 0)
			r = q;
		stats.bytes_freed += layers.v[i].size;
	}
	for (size_t i = 0; i < blobs.n; i++)
		stats.bytes_freed += blobs.v[i].size;
	stats.blobs_removed = blobs.n;
	stats.layers_removed = layers.n;
	free(blobs.v);
	free(layers.v);
	if (blobs.n || layers.n)
		store_changed(s);
	if (r >= 0 && ret_stats)
		*ret_stats = stats;
	return r < 0 ? r : 0;
}

/* ---- recovery ---- */

struct content_kind {
	const char *all_rows;           /* SELECT id, size */
	const char *count_row;          /* SELECT COUNT(*) ... = ?1 */
	const char *drop_images;        /* DELETE images naming ?1 */
	const char *drop_holds;
	const char *drop_row;
	bool is_layer;
};

static const struct content_kind kind_blob = {
	"SELECT digest, size FROM blobs",
	"SELECT COUNT(*) FROM blobs WHERE digest = ?1",
	"DELETE FROM images WHERE id IN (SELECT image_id FROM image_blobs WHERE digest = ?1)",
	"DELETE FROM lease_blobs WHERE digest = ?1",
	"DELETE FROM blobs WHERE digest = ?1",
	false,
};

static const struct content_kind kind_layer = {
	"SELECT chain_id, size FROM layers",
	"SELECT COUNT(*) FROM layers WHERE chain_id = ?1",
	"DELETE FROM images WHERE id IN (SELECT image_id FROM image_layers WHERE chain_id = ?1)",
	"DELETE FROM lease_layers WHERE chain_id = ?1",
	"DELETE FROM layers WHERE chain_id = ?1",
	true,
};

static bool content_present(struct store *s, const struct content_kind *k, const char *id)
{
	char path[DIGEST_HEX_LEN + sizeof "/" STORE_LAYER_DIFF];
	struct stat st;

	snprintf(path, sizeof path, "%s%s", STORE_HEX(id), k->is_layer ? "/" STORE_LAYER_DIFF : "");
	if (fstatat(k->is_layer ? s->layers_fd : s->blobs_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return k->is_layer ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

/* Rows whose file is gone. */
static int recover_rows(struct store *s, const struct content_kind *k, uint64_t *missing,
			uint64_t *images_dropped)
{
	struct gc_list rows = { 0 };
	int r = store_db_begin(s);

	if (r < 0)
		return r;
	r = gc_collect(s, k->all_rows, &rows);
	for (size_t i = 0; r >= 0 && i < rows.n; i++) {
		const char *id = rows.v[i].digest;
		if (digest_valid(id) && content_present(s, k, id))
			continue;
		r = store_db_exec(s, k->drop_images, id, NULL);
		if (r >= 0)
			*images_dropped += (uint64_t)r;
		if (r >= 0)
			r = store_db_exec(s, k->drop_holds, id, NULL);
		if (r >= 0)
			r = store_db_exec(s, k->drop_row, id, NULL);
		if (r >= 0)
			(*missing)++;
	}
	free(rows.v);
	return store_db_end(s, r);
}

static int row_exists(struct store *s, const struct content_kind *k, const char *name)
{
	char digest[DIGEST_STR_SIZE];
	int64_t n = 0;
	int r;

	if (snprintf(digest, sizeof digest, "%s%s", DIGEST_PREFIX, name) >= (int)sizeof digest ||
	    !digest_valid(digest))
		return 0;
	r = store_db_begin(s);
	if (r < 0)
		return r;
	r = store_db_end(s, store_db_int(s, k->count_row, digest, NULL, &n));
	return r < 0 ? r : n > 0;
}

/* Files that have no row. */
static int recover_files(struct store *s, const struct content_kind *k, uint64_t *orphans)
{
	int dirfd = k->is_layer ? s->layers_fd : s->blobs_fd;
	int r = 0, dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		r = -errno;
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = row_exists(s, k, de->d_name);
		if (r != 0)
			continue;
		r = k->is_layer ? store_fs_discard(s, dirfd, de->d_name)
				: store_fs_remove_tree(dirfd, de->d_name);
		if (r == -ENOENT)
			r = 0;
		if (r >= 0)
			(*orphans)++;
	}
	if (r >= 0 && !de && errno)
		r = -errno;
	closedir(d);
	return r < 0 ? r : 0;
}

_Static_assert(STORE_LEASE_TEMPORARY == 1, "the SQL below tests bit 1");

int store_gc_recover(struct store *s, struct store_open_report *rep)
{
	int r = store_db_begin(s);

	if (r < 0)
		return r;
	r = store_db_exec(s, "DELETE FROM leases WHERE (flags & 1) != 0", NULL, NULL);
	if (r >= 0)
		rep->leases_dropped = (uint64_t)r;
	r = store_db_end(s, r);
	if (r >= 0)
		r = recover_rows(s, &kind_blob, &rep->missing_blobs, &rep->images_dropped);
	if (r >= 0)
		r = recover_rows(s, &kind_layer, &rep->missing_layers, &rep->images_dropped);
	if (r >= 0)
		r = recover_files(s, &kind_blob, &rep->orphan_blobs);
	if (r >= 0)
		r = recover_files(s, &kind_layer, &rep->orphan_layers);
	return r < 0 ? r : 0;
}
