/*
 * store_layer: unpacked layers by chain id in
 * ROOT/images/layers/sha256/<hex>/{diff/,meta}. The caller (imaged/unpack*)
 * fills tmp/layer-<unique>/diff/; commit checks the chain id against parent and
 * diff id, syncs the filesystem, writes meta, renames the whole directory
 * into place (never over an existing one), fsyncs the parent dir, and only
 * then records the row. Abort removes the temp tree without following any
 * symlink in it. Never logs; never reads what the layer contains.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "imaged/store_int.h"

#define LAYER_DIFF_MODE 0755

struct store_layer_writer {
	struct store *s;
	int dir_fd;                     /* tmp/<tmp> */
	int diff_fd;                    /* tmp/<tmp>/diff */
	char *diff_path;
	char tmp[STORE_TMP_NAME_MAX];
};

static void layer_writer_free(struct store_layer_writer *w, bool remove)
{
	if (w->diff_fd >= 0)
		close(w->diff_fd);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	if (remove && w->tmp[0])
		store_fs_remove_tree(w->s->tmp_fd, w->tmp);
	free(w->diff_path);
	free(w);
}

int store_layer_begin(struct store *s, struct store_layer_writer **ret)
{
	struct store_layer_writer *w = calloc(1, sizeof *w);
	int r;

	if (!w)
		return -ENOMEM;
	w->s = s;
	w->dir_fd = w->diff_fd = -1;
	r = store_fs_tmp_name(s, "layer", w->tmp);
	if (r < 0) {
		w->tmp[0] = '\0';
		goto fail;
	}
	if (mkdirat(s->tmp_fd, w->tmp, STORE_DIR_MODE) < 0) {
		r = -errno;
		w->tmp[0] = '\0';       /* not ours to remove */
		goto fail;
	}
	w->dir_fd = openat(s->tmp_fd, w->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (w->dir_fd < 0 || mkdirat(w->dir_fd, STORE_LAYER_DIFF, LAYER_DIFF_MODE) < 0)
		goto fail_errno;
	w->diff_fd = openat(w->dir_fd, STORE_LAYER_DIFF,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (w->diff_fd < 0 || fchmod(w->diff_fd, LAYER_DIFF_MODE) < 0)
		goto fail_errno;
	r = -ENOMEM;
	if (asprintf(&w->diff_path, "%s/tmp/%s/%s", s->path, w->tmp, STORE_LAYER_DIFF) < 0) {
		w->diff_path = NULL;
		goto fail;
	}
	*ret = w;
	return 0;
fail_errno:
	r = -errno;
fail:
	layer_writer_free(w, true);
	return r;
}

const char *store_layer_diff_path(const struct store_layer_writer *w)
{
	return w->diff_path;
}

int store_layer_diff_fd(const struct store_layer_writer *w)
{
	return w->diff_fd;
}

static int layer_check_ids(const char *chain_id, const char *diff_id, const char *parent,
			   struct store_layer_info *ret)
{
	struct digest chain, diff, par, want;
	int r = digest_parse(chain_id, &chain);

	if (r >= 0)
		r = digest_parse(diff_id, &diff);
	if (r >= 0 && parent)
		r = digest_parse(parent, &par);
	if (r >= 0)
		r = digest_chain_id(parent ? &par : NULL, &diff, &want);
	if (r < 0)
		return r;
	if (!digest_equal(&want, &chain))
		return -EINVAL;
	memset(ret, 0, sizeof *ret);
	digest_format(&chain, ret->chain_id);
	digest_format(&diff, ret->diff_id);
	if (parent)
		digest_format(&par, ret->parent);
	return 0;
}

static int layer_write_meta(struct store_layer_writer *w, const struct store_layer_info *l)
{
	char text[4 * DIGEST_STR_SIZE + 64];
	int n = snprintf(text, sizeof text, "chain_id %s\ndiff_id %s\nparent %s\nsize %" PRIu64 "\n",
			 l->chain_id, l->diff_id, l->parent[0] ? l->parent : "-", l->size);
	int r = 0, fd = openat(w->dir_fd, STORE_LAYER_META,
			       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	errno = 0;
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}

/* Rename into place and record, atomically with respect to GC. 1: the
 * layer was already there (the temp tree is still ours to remove). */
static int layer_publish(struct store_layer_writer *w, const struct store_layer_info *l,
			 const char *lease)
{
	struct store *s = w->s;
	int r, held = 0, existed = 0;

	pthread_rwlock_rdlock(&s->gc_lock);
	r = store_fs_rename_noreplace(s->tmp_fd, w->tmp, s->layers_fd, STORE_HEX(l->chain_id));
	if (r == -EEXIST) {
		existed = 1;
		r = 0;
	} else if (r >= 0) {
		w->tmp[0] = '\0';       /* moved: nothing left to remove */
		r = store_fs_fsync_dir(s->layers_fd);
	}
	if (r >= 0)
		r = store_db_begin(s);
	if (r >= 0) {
		r = store_db_layer_insert(s, l);
		if (r >= 0 && lease)
			held = store_db_lease_hold(s, lease, "layer", l->chain_id);
		r = store_db_end(s, r);
	}
	pthread_rwlock_unlock(&s->gc_lock);
	store_changed(s);
	if (r < 0)
		return r;
	return held < 0 ? held : existed;
}

int store_layer_commit(struct store_layer_writer *w, const char *chain_id,
		       const char *diff_id, const char *parent, uint64_t size,
		       const char *lease)
{
	struct store_layer_info l;
	int r = layer_check_ids(chain_id, diff_id, parent, &l);

	if (r >= 0) {
		l.size = size;
		l.created = (int64_t)time(NULL);
		if (syncfs(w->diff_fd) < 0)     /* the unpacked files, durably */
			r = -errno;
	}
	if (r >= 0)
		r = layer_write_meta(w, &l);
	if (r >= 0 && fsync(w->dir_fd) < 0)
		r = -errno;
	if (r >= 0)
		r = layer_publish(w, &l, lease);
	layer_writer_free(w, true);
	return r < 0 ? r : 0;
}

void store_layer_abort(struct store_layer_writer *w)
{
	if (w)
		layer_writer_free(w, true);
}

static int layer_row(struct store *s, const char *chain_id, struct store_layer_info *ret)
{
	sqlite3_stmt *st;
	int r = store_db_begin(s);

	if (r < 0)
		return r;
	r = store_db_prepare(s, "SELECT chain_id, diff_id, parent, size, created FROM layers "
			     "WHERE chain_id = ?1", &st);
	if (r >= 0) {
		sqlite3_bind_text(st, 1, chain_id, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && ret) {
			store_db_col_copy(st, 0, ret->chain_id, sizeof ret->chain_id);
			store_db_col_copy(st, 1, ret->diff_id, sizeof ret->diff_id);
			store_db_col_copy(st, 2, ret->parent, sizeof ret->parent);
			ret->size = (uint64_t)sqlite3_column_int64(st, 3);
			ret->created = sqlite3_column_int64(st, 4);
		}
		r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_db_errno(rc);
		sqlite3_finalize(st);
	}
	return store_db_end(s, r);
}

int store_layer_exists(struct store *s, const char *chain_id)
{
	char path[DIGEST_HEX_LEN + sizeof "/" STORE_LAYER_DIFF];
	struct stat st;
	int r = digest_valid(chain_id) ? layer_row(s, chain_id, NULL) : -EINVAL;

	if (r <= 0)
		return r;
	snprintf(path, sizeof path, "%s/%s", STORE_HEX(chain_id), STORE_LAYER_DIFF);
	if (fstatat(s->layers_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return S_ISDIR(st.st_mode) ? 1 : 0;
}

int store_layer_get(struct store *s, const char *chain_id, struct store_layer_info *ret)
{
	struct store_layer_info l;
	int r = digest_valid(chain_id) ? layer_row(s, chain_id, &l) : -EINVAL;

	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	*ret = l;
	return 0;
}

int store_layer_diff_path_of(struct store *s, const char *chain_id, char **ret_path)
{
	char *p;
	int r = store_layer_exists(s, chain_id);

	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	if (asprintf(&p, "%s/layers/sha256/%s/%s", s->path, STORE_HEX(chain_id), STORE_LAYER_DIFF) < 0)
		return -ENOMEM;
	*ret_path = p;
	return 0;
}
