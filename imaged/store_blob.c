/*
 * store_blob: blobs by digest in ROOT/images/blobs/sha256/<hex>. A blob is
 * hashed while it streams into a uniquely named file in tmp/, capped on the
 * fly, and only a blob whose size and sha256 match what was announced is
 * fsynced and renamed (never over an existing one) into place, dir fsynced,
 * then recorded. Anything else unlinks the temp file: a mismatch leaves
 * nothing. Never logs; never writes outside tmp/ and blobs/sha256/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "imaged/store_int.h"

struct store_blob_writer {
	struct store *s;
	char digest[DIGEST_STR_SIZE];
	char hex[DIGEST_HEX_LEN + 1];
	struct digest want;
	int64_t size;                   /* announced, or -1 */
	uint64_t cap;                   /* 0: none */
	uint64_t written;
	char *lease;
	struct digest_ctx *ctx;
	int fd;
	bool failed;
	char tmp[STORE_TMP_NAME_MAX];
};

static void writer_free(struct store_blob_writer *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		unlinkat(w->s->tmp_fd, w->tmp, 0);
	}
	digest_ctx_free(w->ctx);
	free(w->lease);
	free(w);
}

int store_blob_begin(struct store *s, const char *digest, int64_t size, uint64_t cap,
		     const char *lease, struct store_blob_writer **ret)
{
	struct store_blob_writer *w;
	int r;

	if (size < -1 || (size >= 0 && cap && (uint64_t)size > cap))
		return size < -1 ? -EINVAL : -EFBIG;
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->s = s;
	w->fd = -1;
	w->size = size;
	w->cap = cap;
	r = digest_parse(digest, &w->want);
	if (r < 0)
		goto fail;
	digest_format(&w->want, w->digest);
	digest_format_hex(&w->want, w->hex);
	r = -ENOMEM;
	if (lease && !(w->lease = strdup(lease)))
		goto fail;
	r = digest_ctx_new(&w->ctx);
	if (r >= 0)
		r = store_fs_tmp_name(s, "blob", w->tmp);
	if (r < 0)
		goto fail;
	w->fd = openat(s->tmp_fd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	if (w->fd < 0) {
		r = -errno;
		goto fail;
	}
	*ret = w;
	return 0;
fail:
	writer_free(w);
	return r;
}

int store_blob_write(struct store_blob_writer *w, const void *buf, size_t len)
{
	uint64_t total = w->written + len;
	int r;

	if (w->failed)
		return -EINVAL;
	if (total < w->written || (w->cap && total > w->cap) ||
	    (w->size >= 0 && total > (uint64_t)w->size)) {
		w->failed = true;
		return -EFBIG;
	}
	r = digest_ctx_update(w->ctx, buf, len);
	if (r >= 0)
		r = fs_write_all(w->fd, buf, len);
	if (r < 0) {
		w->failed = true;
		return r;
	}
	w->written = total;
	return 0;
}

uint64_t store_blob_written(const struct store_blob_writer *w)
{
	return w->written;
}

/* Rename into place and record, atomically with respect to GC. */
static int blob_publish(struct store_blob_writer *w)
{
	struct store *s = w->s;
	int r, held = 0;

	pthread_rwlock_rdlock(&s->gc_lock);
	r = store_fs_rename_noreplace(s->tmp_fd, w->tmp, s->blobs_fd, w->hex);
	if (r == -EEXIST) {
		unlinkat(s->tmp_fd, w->tmp, 0);         /* someone else won: same bytes */
		r = 0;
	} else if (r >= 0) {
		r = store_fs_fsync_dir(s->blobs_fd);
	}
	if (r >= 0)
		r = store_db_begin(s);
	if (r >= 0) {
		r = store_db_blob_insert(s, w->digest, w->written);
		if (r >= 0 && w->lease)
			held = store_db_lease_hold(s, w->lease, "blob", w->digest);
		r = store_db_end(s, r);         /* the row goes in even if the hold failed */
	}
	pthread_rwlock_unlock(&s->gc_lock);
	store_changed(s);
	return r < 0 ? r : held;
}

int store_blob_commit(struct store_blob_writer *w)
{
	struct digest got;
	int r = w->failed ? -EINVAL : 0;

	if (r >= 0 && w->size >= 0 && w->written != (uint64_t)w->size)
		r = -EBADMSG;
	if (r >= 0)
		r = digest_ctx_final(w->ctx, &got);
	if (r >= 0 && !digest_equal(&got, &w->want))
		r = -EBADMSG;
	if (r >= 0 && fsync(w->fd) < 0)
		r = -errno;
	if (r >= 0) {
		close(w->fd);
		w->fd = -1;
		r = blob_publish(w);
		if (r < 0)
			unlinkat(w->s->tmp_fd, w->tmp, 0);
	}
	writer_free(w);
	return r;
}

void store_blob_abort(struct store_blob_writer *w)
{
	if (w)
		writer_free(w);
}

int store_blob_put(struct store *s, const char *digest, const void *buf, size_t len,
		   const char *lease)
{
	struct store_blob_writer *w;
	int r = store_blob_begin(s, digest, (int64_t)len, 0, lease, &w);

	if (r < 0)
		return r;
	r = store_blob_write(w, buf, len);
	if (r < 0) {
		store_blob_abort(w);
		return r;
	}
	return store_blob_commit(w);
}

/* The blob's row size (1) or 0 if there is no row. */
static int blob_row(struct store *s, const char *digest, uint64_t *ret_size)
{
	sqlite3_stmt *st;
	int r = store_db_begin(s);

	if (r < 0)
		return r;
	r = store_db_prepare(s, "SELECT size FROM blobs WHERE digest = ?1", &st);
	if (r >= 0) {
		sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*ret_size = (uint64_t)sqlite3_column_int64(st, 0);
			r = 1;
		} else {
			r = rc == SQLITE_DONE ? 0 : store_db_errno(rc);
		}
		sqlite3_finalize(st);
	}
	return store_db_end(s, r);
}

int store_blob_exists(struct store *s, const char *digest)
{
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];
	struct stat st;
	uint64_t size;
	int r = digest_parse(digest, &d);

	if (r < 0)
		return r;
	r = blob_row(s, digest, &size);
	if (r <= 0)
		return r;
	digest_format_hex(&d, hex);
	if (fstatat(s->blobs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return S_ISREG(st.st_mode) ? 1 : 0;
}

int store_blob_size(struct store *s, const char *digest, uint64_t *ret)
{
	uint64_t size;
	int r = digest_valid(digest) ? blob_row(s, digest, &size) : -EINVAL;

	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	*ret = size;
	return 0;
}

int store_blob_open(struct store *s, const char *digest, int *ret_fd)
{
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];
	int r = digest_parse(digest, &d);

	if (r < 0)
		return r;
	digest_format_hex(&d, hex);
	int fd = openat(s->blobs_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

static int read_fd_capped(int fd, size_t cap, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t len = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if ((uint64_t)st.st_size > cap)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + len, (size_t)st.st_size - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -EBADMSG;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int store_blob_read(struct store *s, const char *digest, size_t cap,
		    char **ret_buf, size_t *ret_len)
{
	struct digest want, got;
	char *buf = NULL;
	size_t len = 0;
	int fd, r = digest_parse(digest, &want);

	if (r >= 0)
		r = store_blob_open(s, digest, &fd);
	if (r < 0)
		return r;
	r = read_fd_capped(fd, cap, &buf, &len);
	close(fd);
	if (r < 0)
		return r;
	r = digest_buf(buf, len, &got);
	if (r >= 0 && !digest_equal(&want, &got))
		r = -EBADMSG;
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret_buf = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}
