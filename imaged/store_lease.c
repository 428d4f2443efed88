/*
 * store_lease: leases, persisted in images.db: a named holder of blobs and
 * layers that GC must keep whatever happens to the images that brought them
 * (sandboxd's lease on a container's layers; a pull's temporary lease on
 * what it has committed so far). A lease holds content, not images: adding
 * an image copies its blob and layer references into the lease. Every call
 * is one transaction. Never logs; never touches files.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "imaged/store_int.h"

static bool lease_id_ok(const char *id)
{
	size_t n;

	if (!id || !*id)
		return false;
	n = strnlen(id, STORE_LEASE_ID_MAX + 1);
	if (n > STORE_LEASE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
			return false;   /* printable ASCII, no spaces */
	return true;
}

int store_lease_create(struct store *s, const char *id, const char *holder, unsigned flags)
{
	sqlite3_stmt *st;
	int rc, r;

	if (!lease_id_ok(id) || !holder ||
	    strnlen(holder, STORE_LEASE_HOLDER_MAX + 1) > STORE_LEASE_HOLDER_MAX ||
	    (flags & ~(unsigned)STORE_LEASE_TEMPORARY))
		return -EINVAL;
	r = store_db_begin(s);
	if (r < 0)
		return r;
	r = store_db_prepare(s, "INSERT INTO leases (id, holder, flags, created)"
			     " VALUES (?1, ?2, ?3, ?4)", &st);
	if (r >= 0) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, holder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, flags);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
		rc = sqlite3_step(st);
		r = rc == SQLITE_DONE ? 0 : store_db_errno(rc);    /* PK: -EEXIST */
		sqlite3_finalize(st);
	}
	return store_db_end(s, r);
}

int store_lease_add_image(struct store *s, const char *lease, const char *image_id)
{
	if (!lease_id_ok(lease) || !digest_valid(image_id))
		return -EINVAL;
	int r = store_db_begin(s);
	if (r < 0)
		return r;
	int64_t n_leases = 0, n_images = 0;
	r = store_db_int(s, "SELECT COUNT(*) FROM leases WHERE id = ?1", lease, NULL, &n_leases);
	if (r >= 0)
		r = store_db_int(s, "SELECT COUNT(*) FROM images WHERE id = ?1", image_id, NULL,
				 &n_images);
	if (r >= 0 && (n_leases == 0 || n_images == 0))
		r = -ENOENT;
	if (r >= 0)
		r = store_db_exec(s, "INSERT OR IGNORE INTO lease_blobs (lease_id, digest)"
				  " SELECT ?1, digest FROM image_blobs WHERE image_id = ?2",
				  lease, image_id);
	if (r >= 0)
		r = store_db_exec(s, "INSERT OR IGNORE INTO lease_layers (lease_id, chain_id)"
				  " SELECT ?1, chain_id FROM image_layers WHERE image_id = ?2",
				  lease, image_id);
	r = store_db_end(s, r);
	return r < 0 ? r : 0;
}

static int lease_hold(struct store *s, const char *lease, const char *kind, const char *ref)
{
	if (!lease_id_ok(lease) || !digest_valid(ref))
		return -EINVAL;
	int r = store_db_begin(s);
	if (r < 0)
		return r;
	/* foreign keys: -ENOENT if the lease or the content is not there */
	return store_db_end(s, store_db_lease_hold(s, lease, kind, ref));
}

int store_lease_add_blob(struct store *s, const char *lease, const char *digest)
{
	return lease_hold(s, lease, "blob", digest);
}

int store_lease_add_layer(struct store *s, const char *lease, const char *chain_id)
{
	return lease_hold(s, lease, "layer", chain_id);
}

int store_lease_release(struct store *s, const char *lease)
{
	if (!lease_id_ok(lease))
		return -EINVAL;
	int r = store_db_begin(s);
	if (r < 0)
		return r;
	/* ON DELETE CASCADE drops what it held */
	r = store_db_end(s, store_db_exec(s, "DELETE FROM leases WHERE id = ?1", lease, NULL));
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

static int lease_row(sqlite3_stmt *st, struct store_lease_info *l)
{
	int r = 0;

	l->id = store_db_col_strdup(st, 0, &r);
	l->holder = store_db_col_strdup(st, 1, &r);
	l->flags = (unsigned)sqlite3_column_int64(st, 2);
	l->created = sqlite3_column_int64(st, 3);
	l->n_blobs = (uint64_t)sqlite3_column_int64(st, 4);
	l->n_layers = (uint64_t)sqlite3_column_int64(st, 5);
	return r;
}

int store_lease_list(struct store *s, struct store_lease_info **ret_v, size_t *ret_n)
{
	struct store_lease_info *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_DONE, r = store_db_begin(s);

	if (r < 0)
		return r;
	r = store_db_prepare(s, "SELECT l.id, l.holder, l.flags, l.created,"
			     " (SELECT COUNT(*) FROM lease_blobs WHERE lease_id = l.id),"
			     " (SELECT COUNT(*) FROM lease_layers WHERE lease_id = l.id)"
			     " FROM leases l ORDER BY l.created, l.id", &st);
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct store_lease_info *p = reallocarray(v, ncap, sizeof *v);
			if (!p) {
				r = -ENOMEM;
				break;
			}
			v = p;
			cap = ncap;
		}
		memset(&v[n], 0, sizeof v[n]);
		r = lease_row(st, &v[n++]);
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_db_errno(rc);
	sqlite3_finalize(st);
	r = store_db_end(s, r);
	if (r < 0) {
		store_lease_list_free(v, n);
		return r;
	}
	*ret_v = v;
	*ret_n = n;
	return 0;
}

void store_lease_list_free(struct store_lease_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].holder);
	}
	free(v);
}
