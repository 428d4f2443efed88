/*
 * oci/passwd: the image's etc/passwd and etc/group, which the image may
 * have made anything: symlinks (resolved inside the rootfs by
 * RESOLVE_IN_ROOT, never on the host), FIFOs or devices (refused without
 * blocking: opened O_NONBLOCK, then it must be a regular file), huge files
 * (refused by their size before a byte is read, and reading stops at the
 * cap if the file grows), long lines (refused). Lines are "a:b:c" fields;
 * empty lines and "#" comments are skipped; a line whose id field is no
 * decimal number is left to the caller (user.c skips it, unlike Go's
 * moby/sys/user, which reads it as 0 = root). Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "sandboxd/oci/spec_int.h"

int ocispec_userdb_load(struct ocispec *s, const char *path, struct ocispec_userdb *db)
{
	if (db->buf || db->missing)
		return db->missing ? -ENOENT : 0;
	int fd = ocispec_open_in_root(s->in->rootfs_fd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (fd == -ENOENT || fd == -ENOTDIR) {
		db->missing = true;
		return -ENOENT;
	}
	if (fd < 0)     /* a symlink loop, a name too long: the image's doing */
		return OCISPEC_INVALID(s, "image /%s: cannot open it: %s", path, strerror(-fd));
	int r;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = crisp_fail_errno(s->err, -errno, "image /%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = OCISPEC_INVALID(s, "image /%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)OCISPEC_MAX_USER_FILE) {
		r = OCISPEC_INVALID(s, "image /%s: too large (%lld bytes, at most %u)", path,
				    (long long)st.st_size, OCISPEC_MAX_USER_FILE);
		goto out;
	}
	r = fs_read_fd(fd, OCISPEC_MAX_USER_FILE, &db->buf, &db->len);
	if (r == -EFBIG)
		r = OCISPEC_INVALID(s, "image /%s: too large (more than %u bytes)", path,
				    OCISPEC_MAX_USER_FILE);
	else if (r < 0)
		r = crisp_fail_errno(s->err, r, "image /%s: reading it", path);
	if (r < 0)
		goto out;
	/* every line within the cap, once, so that lookups need not check */
	for (size_t pos = 0; pos < db->len;) {
		const char *nl = memchr(db->buf + pos, '\n', db->len - pos);
		size_t n = nl ? (size_t)(nl - (db->buf + pos)) : db->len - pos;
		if (n > OCISPEC_MAX_USER_LINE) {
			r = OCISPEC_INVALID(s, "image /%s: a line longer than %u bytes", path,
					    OCISPEC_MAX_USER_LINE);
			goto out;
		}
		pos += n + 1;
	}
	r = 0;
out:
	if (r < 0)
		ocispec_userdb_free(db);
	close(fd);
	return r;
}

void ocispec_userdb_free(struct ocispec_userdb *db)
{
	free(db->buf);
	db->buf = NULL;
	db->len = 0;
}

int ocispec_userdb_next(const struct ocispec_userdb *db, size_t *pos,
			struct ocispec_userdb_line *l)
{
	while (db->buf && *pos < db->len) {
		const char *line = db->buf + *pos;
		const char *nl = memchr(line, '\n', db->len - *pos);
		size_t n = nl ? (size_t)(nl - line) : db->len - *pos;
		*pos += n + (nl ? 1 : 0);
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		while (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
			line++;
			n--;
		}
		if (n == 0 || line[0] == '#')
			continue;
		l->n = 0;
		const char *c = line, *end = line + n;
		while (l->n < OCISPEC_USERDB_FIELDS) {
			const char *colon = memchr(c, ':', (size_t)(end - c));
			const char *fe = colon ? colon : end;
			l->f[l->n] = c;
			l->len[l->n] = (size_t)(fe - c);
			l->n++;
			if (!colon)
				break;
			c = colon + 1;
		}
		return 1;
	}
	return 0;
}

bool ocispec_userdb_field_is(const struct ocispec_userdb_line *l, size_t i, const char *s)
{
	return i < l->n && strlen(s) == l->len[i] && memcmp(l->f[i], s, l->len[i]) == 0;
}

int ocispec_userdb_field_id(const struct ocispec_userdb_line *l, size_t i, uint32_t *ret)
{
	if (i >= l->n || l->len[i] == 0 || l->len[i] > 10)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t k = 0; k < l->len[i]; k++) {
		char c = l->f[i][k];
		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(c - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}
