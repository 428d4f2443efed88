/*
 * store_db: the image database ROOT/images/images.db (sqlite3), owned by
 * imaged alone: its schema, its pragmas, the transaction plumbing and the
 * blob/layer/lease-hold rows the other store files write.
 *
 * Pragmas, and why:
 *   journal_mode=WAL    a commit is one append to the WAL; readers never see
 *                       a half transaction; a kill -9 rolls back cleanly.
 *   synchronous=FULL    WAL+NORMAL survives kill -9 but may lose the last
 *                       commits on power loss. A lost lease row would let GC
 *                       delete layers a container still uses once the node
 *                       is back, and a lost image row breaks kubelet's view
 *                       of what was pulled; writes here are rare (pulls,
 *                       removals, leases) and each already costs several
 *                       file fsyncs, so one more fsync per commit is cheap.
 *   busy_timeout=5000   only imaged writes, but an admin's sqlite3 shell may
 *                       read; wait for it instead of failing.
 *   foreign_keys=ON     an image or lease can only name content that has a
 *                       row, and a blob/layer row cannot vanish under one.
 *   trusted_schema=OFF  hygiene: no functions from the schema.
 *
 * One connection (opened FULLMUTEX), used under s->db_lock by one
 * transaction at a time. Never logs; maps sqlite errors to negative errno.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "imaged/store_int.h"

#define STORE_DB_FILE "images.db"
#define STORE_DB_VERSION 1
#define STORE_DB_BUSY_MS 5000

static const char schema_v1[] =
	"CREATE TABLE blobs ("
	"  digest TEXT PRIMARY KEY,"                    /* sha256:<hex> */
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  created INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE layers ("
	"  chain_id TEXT PRIMARY KEY,"
	"  diff_id TEXT NOT NULL,"
	"  parent TEXT,"                                /* chain id below; NULL: base */
	"  size INTEGER NOT NULL CHECK (size >= 0),"    /* unpacked bytes */
	"  created INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE images ("
	"  id TEXT PRIMARY KEY,"                        /* config digest */
	"  manifest_digest TEXT NOT NULL,"
	"  media_type TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  uid INTEGER,"                                /* NULL: none */
	"  username TEXT,"                              /* NULL: none */
	"  pinned INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE image_tags ("
	"  tag TEXT PRIMARY KEY,"                       /* unique across images */
	"  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE"
	") WITHOUT ROWID;"
	"CREATE INDEX image_tags_image ON image_tags(image_id);"
	"CREATE TABLE image_repo_digests ("
	"  repo_digest TEXT PRIMARY KEY,"
	"  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE"
	") WITHOUT ROWID;"
	"CREATE INDEX image_repo_digests_image ON image_repo_digests(image_id);"
	"CREATE TABLE image_layers ("
	"  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"                       /* 0 = bottom */
	"  chain_id TEXT NOT NULL REFERENCES layers(chain_id),"
	"  diff_id TEXT NOT NULL,"
	"  PRIMARY KEY (image_id, idx)"
	") WITHOUT ROWID;"
	"CREATE INDEX image_layers_chain ON image_layers(chain_id);"
	"CREATE TABLE image_blobs ("
	"  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
	"  digest TEXT NOT NULL REFERENCES blobs(digest),"
	"  PRIMARY KEY (image_id, digest)"
	") WITHOUT ROWID;"
	"CREATE INDEX image_blobs_digest ON image_blobs(digest);"
	"CREATE TABLE image_annotations ("
	"  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (image_id, key)"
	") WITHOUT ROWID;"
	"CREATE TABLE leases ("
	"  id TEXT PRIMARY KEY,"
	"  holder TEXT NOT NULL,"
	"  flags INTEGER NOT NULL,"
	"  created INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE lease_blobs ("
	"  lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,"
	"  digest TEXT NOT NULL REFERENCES blobs(digest),"
	"  PRIMARY KEY (lease_id, digest)"
	") WITHOUT ROWID;"
	"CREATE INDEX lease_blobs_digest ON lease_blobs(digest);"
	"CREATE TABLE lease_layers ("
	"  lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,"
	"  chain_id TEXT NOT NULL REFERENCES layers(chain_id),"
	"  PRIMARY KEY (lease_id, chain_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX lease_layers_chain ON lease_layers(chain_id);";

int store_db_errno(int rc)
{
	switch (rc) {
	case SQLITE_OK: case SQLITE_ROW: case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;         /* names a row that is not there */
	case SQLITE_CONSTRAINT_PRIMARYKEY: case SQLITE_CONSTRAINT_UNIQUE:
		return -EEXIST;
	case SQLITE_BUSY: case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM: case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_MISUSE: case SQLITE_RANGE:
		return -EINVAL;
	}
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return -EINVAL;
	case SQLITE_CORRUPT: case SQLITE_NOTADB:
		return -EUCLEAN;
	default:
		return -EIO;
	}
}

int store_db_prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
	return store_db_errno(sqlite3_prepare_v2(s->db, sql, -1, ret, NULL));
}

int store_db_exec(struct store *s, const char *sql, const char *a1, const char *a2)
{
	sqlite3_stmt *st;
	int r = store_db_prepare(s, sql, &st);

	if (r < 0)
		return r;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	r = rc == SQLITE_DONE || rc == SQLITE_ROW ? sqlite3_changes(s->db)
						   : store_db_errno(sqlite3_extended_errcode(s->db));
	sqlite3_finalize(st);
	return r;
}

int store_db_int(struct store *s, const char *sql, const char *a1, const char *a2,
		 int64_t *ret)
{
	sqlite3_stmt *st;
	int rc, r = store_db_prepare(s, sql, &st);

	if (r < 0)
		return r;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(st, 0);
	r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_db_errno(rc);
	sqlite3_finalize(st);
	return r;
}

void store_db_col_copy(sqlite3_stmt *st, int col, char *buf, size_t len)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	snprintf(buf, len, "%s", t ? t : "");
}

char *store_db_col_strdup(sqlite3_stmt *st, int col, int *ret_err)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	char *p;

	if (!t)
		return NULL;
	p = strdup(t);
	if (!p)
		*ret_err = -ENOMEM;
	return p;
}

int store_db_begin(struct store *s)
{
	pthread_mutex_lock(&s->db_lock);
	int r = store_db_errno(sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
	if (r < 0)
		pthread_mutex_unlock(&s->db_lock);
	return r;
}

int store_db_end(struct store *s, int r)
{
	if (r >= 0) {
		int c = store_db_errno(sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL));
		if (c < 0) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			r = c;
		}
	} else {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&s->db_lock);
	return r;
}

static int pragma_text(struct store *s, const char *sql, const char *want)
{
	sqlite3_stmt *st;
	int r = store_db_prepare(s, sql, &st);

	if (r < 0)
		return r;
	if (sqlite3_step(st) != SQLITE_ROW)
		r = store_db_errno(sqlite3_extended_errcode(s->db));
	else if (want && strcmp((const char *)sqlite3_column_text(st, 0), want) != 0)
		r = -EOPNOTSUPP;
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

static int db_user_version(struct store *s, int *ret)
{
	sqlite3_stmt *st;
	int r = store_db_prepare(s, "PRAGMA user_version", &st);

	if (r < 0)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW)
		*ret = sqlite3_column_int(st, 0);
	else
		r = store_db_errno(sqlite3_extended_errcode(s->db));
	sqlite3_finalize(st);
	return r;
}

static int db_migrate(struct store *s)
{
	char sql[64];
	int v = 0, r = store_db_begin(s);

	if (r < 0)
		return r;
	r = db_user_version(s, &v);
	if (r >= 0 && v > STORE_DB_VERSION)
		r = -EPROTONOSUPPORT;   /* written by a newer crisp */
	if (r >= 0 && v < 1)
		r = store_db_errno(sqlite3_exec(s->db, schema_v1, NULL, NULL, NULL));
	if (r >= 0 && v < STORE_DB_VERSION) {
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_DB_VERSION);
		r = store_db_errno(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
	}
	return store_db_end(s, r);
}

int store_db_open(struct store *s)
{
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof path, "%s/%s", s->path, STORE_DB_FILE) >= (int)sizeof path)
		return -ENAMETOOLONG;
	r = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (r != SQLITE_OK) {
		r = s->db ? store_db_errno(sqlite3_extended_errcode(s->db)) : -ENOMEM;
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	r = pragma_text(s, "PRAGMA journal_mode=WAL", "wal");
	if (r >= 0)
		r = store_db_errno(sqlite3_exec(s->db, "PRAGMA synchronous=FULL;"
						"PRAGMA foreign_keys=ON;"
						"PRAGMA trusted_schema=OFF", NULL, NULL, NULL));
	if (r >= 0)
		r = store_db_errno(sqlite3_busy_timeout(s->db, STORE_DB_BUSY_MS));
	if (r >= 0)
		r = pragma_text(s, "PRAGMA foreign_keys", "1");
	if (r >= 0)
		r = db_migrate(s);
	if (r >= 0)
		return 0;
fail:
	store_db_close(s);
	return r;
}

void store_db_close(struct store *s)
{
	if (!s->db)
		return;
	sqlite3_close(s->db);
	s->db = NULL;
}

int store_db_blob_insert(struct store *s, const char *digest, uint64_t size)
{
	sqlite3_stmt *st;
	int r = store_db_prepare(s, "INSERT OR IGNORE INTO blobs (digest, size, created) "
				 "VALUES (?1, ?2, ?3)", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	r = store_db_errno(sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK
							   : sqlite3_extended_errcode(s->db));
	sqlite3_finalize(st);
	return r;
}

int store_db_layer_insert(struct store *s, const struct store_layer_info *l)
{
	sqlite3_stmt *st;
	int r = store_db_prepare(s, "INSERT OR IGNORE INTO layers "
				 "(chain_id, diff_id, parent, size, created) "
				 "VALUES (?1, ?2, ?3, ?4, ?5)", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, l->chain_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, l->diff_id, -1, SQLITE_STATIC);
	if (l->parent[0])
		sqlite3_bind_text(st, 3, l->parent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)l->size);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)l->created);
	r = store_db_errno(sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK
							   : sqlite3_extended_errcode(s->db));
	sqlite3_finalize(st);
	return r;
}

int store_db_lease_hold(struct store *s, const char *lease, const char *kind,
			const char *ref)
{
	const char *sql;

	if (strcmp(kind, "blob") == 0)
		sql = "INSERT OR IGNORE INTO lease_blobs (lease_id, digest) VALUES (?1, ?2)";
	else if (strcmp(kind, "layer") == 0)
		sql = "INSERT OR IGNORE INTO lease_layers (lease_id, chain_id) VALUES (?1, ?2)";
	else
		return -EINVAL;
	int r = store_db_exec(s, sql, lease, ref);
	return r < 0 ? r : 0;
}
