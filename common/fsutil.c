/*
 * fsutil: fd and path helpers (common/fsutil.h). Owns nothing but the fds it
 * hands back. Must never delete, empty or follow its way out of what it is
 * given: directories are fixed in place through an fd (fchown/fchmod, not
 * by path), a lock file is never unlinked (flock is released with the fd).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fsutil.h"

int fs_path_join(char *buf, size_t len, const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	const char *sep = (la > 0 && a[la - 1] == '/') || *b == '\0' ? "" : "/";
	int n = snprintf(buf, len, "%.*s%s%s", (int)la, a, sep, b);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int fs_dirname(const char *path, char *buf, size_t len)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	while (n > 1 && path[n - 1] == '/')
		n--;
	const char *d = path;
	if (n == 0) {
		d = ".";
		n = 1;
	}
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, d, n);
	buf[n] = '\0';
	return 0;
}

int fs_self_dir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	return fs_dirname(exe, buf, len);
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
		return -ENAMETOOLONG;
	if (p[0] == '\0')
		return -EINVAL;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = c;
		if (c == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fs_open_dir(int dirfd, const char *path, unsigned flags, mode_t mode, int *ret_fd)
{
	if ((flags & FS_DIR_CREATE) && mkdirat(dirfd, path, mode) < 0 && errno != EEXIST)
		return -errno;
	int of = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	if (flags & FS_DIR_NOFOLLOW)
		of |= O_NOFOLLOW;
	int fd = openat(dirfd, path, of);
	if (fd < 0) {
		int e = errno;
		struct stat st;
		/* O_DIRECTORY|O_NOFOLLOW on a symlink reports ENOTDIR on some kernels */
		if ((flags & FS_DIR_NOFOLLOW) && e == ENOTDIR &&
		    fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			e = ELOOP;
		return -e;
	}
	*ret_fd = fd;
	return 0;
}

int fs_fix_owner_mode(int fd, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uid_t u = uid == (uid_t)-1 ? st.st_uid : uid;
	gid_t g = gid == (gid_t)-1 ? st.st_gid : gid;
	if ((u != st.st_uid || g != st.st_gid) && fchown(fd, u, g) < 0)
		return -errno;
	/* after the chown, which may have cleared setuid/setgid bits */
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((st.st_mode & 07777) != (mode & 07777) && fchmod(fd, mode & 07777) < 0)
		return -errno;
	return 0;
}

static bool can_search(const struct stat *st, uid_t uid, gid_t gid)
{
	if (st->st_uid == uid)
		return st->st_mode & S_IXUSR;
	if (st->st_gid == gid)
		return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

int fs_make_reachable(const char *path, uid_t uid, gid_t gid, unsigned *ret_changed)
{
	char p[PATH_MAX];
	unsigned changed = 0;
	if (path[0] != '/')
		return -EINVAL;
	if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
		return -ENAMETOOLONG;
	for (char *s = p;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		int fd = open(s == p ? "/" : p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*s = c;
		if (fd < 0)
			return -errno;
		struct stat st;
		int r = fstat(fd, &st) < 0 ? -errno : 0;
		if (r == 0 && !can_search(&st, uid, gid)) {
			/* owner or group without x denies even with o+x: then u/g */
			mode_t add = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
			r = fchmod(fd, (st.st_mode & 07777) | add) < 0 ? -errno : 0;
			changed += r == 0;
		}
		close(fd);
		if (r < 0)
			return r;
		if (c == '\0')
			break;
	}
	if (ret_changed)
		*ret_changed = changed;
	return 0;
}

int fs_lock_file(int dirfd, const char *path, int *ret_fd)
{
	int fd = openat(dirfd, path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
	if (fd < 0)
		return -errno;
	int r;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	char pid[24];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		r = -errno;
		goto fail;
	}
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

int fs_lock_holder(int dirfd, const char *path, pid_t *ret_pid)
{
	char *buf = NULL;
	int r = fs_read_file(dirfd, path, 64, &buf, NULL);
	if (r < 0)
		return r;
	char *end = NULL;
	errno = 0;
	long v = strtol(buf, &end, 10);
	bool ok = errno == 0 && end != buf && (*end == '\n' || *end == '\0') && v > 0 &&
		  v <= INT32_MAX;
	free(buf);
	if (!ok)
		return -EINVAL;
	*ret_pid = (pid_t)v;
	return 0;
}

int fs_read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= (uint64_t)max)
		cap = (size_t)st.st_size + 1;
	if (cap > max + 1)
		cap = max + 1;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap > max) {        /* read max + 1 bytes: too large */
				free(buf);
				return -EFBIG;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nb = realloc(buf, ncap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int fs_read_file(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	int r = fs_read_fd(fd, max, ret_buf, ret_len);
	close(fd);
	return r;
}

int fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_write_file_atomic(int dirfd, const char *path, const void *data, size_t len,
			 mode_t mode)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -ENAMETOOLONG;
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, data, len);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, path) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

int fs_write_file(int dirfd, const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, data, len);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, path, 0);
	return r;
}

int fs_check_executable(int dirfd, const char *path)
{
	struct stat st;
	if (fstatat(dirfd, path, &st, 0) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (faccessat(dirfd, path, X_OK, AT_EACCESS) < 0)
		return -errno;
	return 0;
}
