/*
 * store_int: what the store_*.c files share and nobody else may use: the
 * store object, the database plumbing (store_db.c), the filesystem helpers
 * (store_fs.c) and the recovery steps run by store_open (store_gc.c).
 *
 * Locking order, always: usage_lock -> gc_lock (rwlock) -> db_lock (mutex).
 * db_lock is held for one transaction and never across file IO of unbounded
 * length; gc_lock is taken shared by every "content in place + row +
 * lease hold" step and by the usage walk, exclusive by GC only.
 * flight_lock is a leaf and is never held with any other.
 */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include "imaged/store.h"

#define STORE_DIR_MODE 0700
#define STORE_TMP_NAME_MAX 64
#define STORE_LAYER_META "meta"
#define STORE_LAYER_DIFF "diff"
/* The hex part of a checked "sha256:<hex>" string: its file name. */
#define STORE_HEX(d) ((d) + sizeof DIGEST_PREFIX - 1)

struct store {
	char *path;                     /* ROOT/images */
	int dir_fd;                     /* ROOT/images */
	int blobs_fd;                   /* blobs/sha256 */
	int layers_fd;                  /* layers/sha256 */
	int tmp_fd;                     /* tmp */
	int lock_fd;                    /* lock, flock'ed */
	sqlite3 *db;
	pthread_mutex_t db_lock;        /* one transaction at a time on db */
	pthread_rwlock_t gc_lock;       /* shared: content + reference; exclusive: GC */
	atomic_uint_fast64_t tmp_seq;   /* unique temp names */
	atomic_uint_fast64_t generation;/* bumped by every change (usage cache) */

	pthread_mutex_t usage_lock;
	bool usage_valid;
	uint64_t usage_gen;
	int64_t usage_mono_ms;
	struct store_usage usage;

	/* tests only: called by GC between deleting rows and removing files,
	 * with gc_lock held (to prove that commits wait for it) */
	void (*gc_test_hook)(void *data);
	void *gc_test_data;

	pthread_mutex_t flight_lock;
	pthread_cond_t flight_cond;
	struct store_flight *flights;   /* in progress, a list */
};

static inline void store_changed(struct store *s)
{
	atomic_fetch_add(&s->generation, 1);
}

/* ---- store_db.c ---- */
int store_db_open(struct store *s);
void store_db_close(struct store *s);
/* Lock db_lock and BEGIN IMMEDIATE / COMMIT (or ROLLBACK if r < 0) and
 * unlock. store_db_end returns r, or the COMMIT error. */
int store_db_begin(struct store *s);
int store_db_end(struct store *s, int r);
/* sqlite result code -> negative errno. */
int store_db_errno(int rc);
/* Prepare (the caller finalizes). */
int store_db_prepare(struct store *s, const char *sql, sqlite3_stmt **ret);
/* Run sql with text args (NULL binds NULL); r = sqlite3_changes or -errno. */
int store_db_exec(struct store *s, const char *sql, const char *a1, const char *a2);
/* The first column of the first row as an integer; -ENOENT if no row. */
int store_db_int(struct store *s, const char *sql, const char *a1, const char *a2,
		 int64_t *ret);
/* Column text copied into a fixed buffer ("" for NULL). */
void store_db_col_copy(sqlite3_stmt *st, int col, char *buf, size_t len);
/* strdup of a column, NULL for NULL; -ENOMEM via *ret_err. */
char *store_db_col_strdup(sqlite3_stmt *st, int col, int *ret_err);

/* Rows, called inside store_db_begin/end. */
int store_db_blob_insert(struct store *s, const char *digest, uint64_t size);
int store_db_layer_insert(struct store *s, const struct store_layer_info *l);
int store_db_lease_hold(struct store *s, const char *lease, const char *kind,
			const char *ref);

/* ---- store_fs.c ---- */
/* A name unique in tmp/: "<prefix>-<pid>-<seq>-<random>". */
int store_fs_tmp_name(struct store *s, const char *prefix, char ret[STORE_TMP_NAME_MAX]);
/* Open or create (mode 0700) directory name under dirfd, never through a
 * symlink, and make sure it is 0700 and ours. */
int store_fs_dir(int dirfd, const char *name, int *ret_fd);
int store_fs_fsync_dir(int fd);
/* rename that never replaces: -EEXIST if newname exists (file or dir). */
int store_fs_rename_noreplace(int olddirfd, const char *oldname, int newdirfd,
			      const char *newname);
/* Remove name under dirfd, a file or a whole tree, never following a
 * symlink nor crossing into another filesystem (-EXDEV). -ENOENT if absent. */
int store_fs_remove_tree(int dirfd, const char *name);
/* Remove every entry of the directory; adds their number to *ret_n (may
 * be NULL). */
int store_fs_empty_dir(int dirfd, uint64_t *ret_n);
/* Move dirfd/name to a fresh name in tmp/ and remove it there (a kill -9
 * in the middle leaves it to the next open's tmp/ cleanup). */
int store_fs_discard(struct store *s, int dirfd, const char *name);

/* ---- store_gc.c ---- */
/* At open, before any other thread: drop temporary leases, rows without
 * files and files without rows. */
int store_gc_recover(struct store *s, struct store_open_report *rep);
