/*
 * store_fs: the store's filesystem helpers: 0700 directories opened without
 * following symlinks, unique temp names, directory fsync, and removal of a
 * tree (an unpacked layer may hold symlinks pointing anywhere, devices,
 * setuid files, deep nesting). Removal walks with openat(O_NOFOLLOW|
 * O_DIRECTORY) and unlinkat only, holds two fds whatever the depth (it climbs
 * back with "..", checking the inode it expects), and never crosses into
 * another filesystem. imaged/unpack.h has unpack_remove_tree for a failed
 * unpack; the store keeps its own because it must also refuse to descend
 * into a mount left inside a layer (-EXDEV: a bind mount must not be
 * emptied) and must check the inode it climbs back to (-ESTALE), and it
 * reports -ENOENT, which GC and recovery count on. Never logs; never
 * touches anything outside the fd it is given.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "imaged/store_int.h"

int store_fs_tmp_name(struct store *s, const char *prefix, char ret[STORE_TMP_NAME_MAX])
{
	uint32_t rnd = 0;
	uint64_t seq = atomic_fetch_add(&s->tmp_seq, 1);

	if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)seq * 2654435761u;      /* pid+seq is unique already */
	int n = snprintf(ret, STORE_TMP_NAME_MAX, "%s-%d-%" PRIu64 "-%08" PRIx32,
			 prefix, (int)getpid(), seq, rnd);
	return n > 0 && n < STORE_TMP_NAME_MAX ? 0 : -ENAMETOOLONG;
}

int store_fs_dir(int dirfd, const char *name, int *ret_fd)
{
	struct stat st;

	if (mkdirat(dirfd, name, STORE_DIR_MODE) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP ? -ENOTDIR : -errno;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (st.st_uid != geteuid() && fchown(fd, geteuid(), getegid()) < 0)
		goto fail;
	if ((st.st_mode & 07777) != STORE_DIR_MODE && fchmod(fd, STORE_DIR_MODE) < 0)
		goto fail;
	*ret_fd = fd;
	return 0;
fail:;
	int r = -errno;
	close(fd);
	return r;
}

int store_fs_fsync_dir(int fd)
{
	return fsync(fd) < 0 ? -errno : 0;
}

int store_fs_rename_noreplace(int olddirfd, const char *oldname, int newdirfd,
			      const char *newname)
{
	struct stat st;

	if (renameat2(olddirfd, oldname, newdirfd, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno == ENOTEMPTY ? -EEXIST : -errno;
	/* a filesystem without RENAME_NOREPLACE: link for a file (fails on
	 * EEXIST), rename for a directory (fails on a non-empty target, and
	 * ours never are empty) */
	if (fstatat(olddirfd, oldname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		if (renameat(olddirfd, oldname, newdirfd, newname) < 0)
			return errno == ENOTEMPTY ? -EEXIST : -errno;
		return 0;
	}
	if (linkat(olddirfd, oldname, newdirfd, newname, 0) < 0)
		return -errno;
	unlinkat(olddirfd, oldname, 0);
	return 0;
}

/* A DIR for reading fd's entries, on a new fd of its own (fd stays ours). */
static int dir_open(int fd, DIR **ret_d)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		close(dfd);
		return r;
	}
	*ret_d = d;
	return 0;
}

/* Unlinks the non-directories in fd and stops at the first subdirectory,
 * whose name it returns in *ret_sub (NULL: fd is empty now). */
static int rm_scan(int fd, dev_t dev, char **ret_sub)
{
	struct dirent *de;
	DIR *d;

	*ret_sub = NULL;
	int r = dir_open(fd, &d);
	if (r < 0)
		return r;
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (st.st_dev != dev)
				r = -EXDEV;
			else if (!(*ret_sub = strdup(de->d_name)))
				r = -ENOMEM;
			break;
		}
		if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
			r = -errno;
			break;
		}
	}
	if (r == 0 && !de && errno)
		r = -errno;
	closedir(d);
	return r;
}

struct rm_level {
	char *name;     /* this directory's name in its parent */
	ino_t ino;
};

struct rm_stack {
	struct rm_level *v;
	size_t n, cap;
};

static int rm_push(struct rm_stack *k, char *name, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 16;
		struct rm_level *v = realloc(k->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = (struct rm_level){ name, st.st_ino };
	return 0;
}

/* fd is an empty directory at the top of the stack: climb to its parent
 * (which must be the inode one level down the stack) and remove it. */
static int rm_climb(struct rm_stack *k, int *fd)
{
	struct stat st;
	char *name = k->v[k->n - 1].name;
	int parent = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (parent < 0)
		return -errno;
	if (fstat(parent, &st) < 0 || st.st_ino != k->v[k->n - 2].ino) {
		close(parent);
		return -ESTALE;         /* the tree moved under us */
	}
	close(*fd);
	*fd = parent;
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	free(name);
	k->n--;
	return 0;
}

static int rm_tree(int dirfd, const char *name, dev_t dev, struct rm_stack *k)
{
	char *sub, *top = strdup(name);
	int r, fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || !top) {
		r = fd < 0 ? -errno : -ENOMEM;
		free(top);
		if (fd >= 0)
			close(fd);
		return r;
	}
	r = rm_push(k, top, fd);
	if (r < 0)
		free(top);
	while (r == 0) {
		r = rm_scan(fd, dev, &sub);
		if (r < 0)
			break;
		if (sub) {
			int nfd = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = nfd < 0 ? -errno : rm_push(k, sub, nfd);
			if (r < 0) {
				free(sub);
				if (nfd >= 0)
					close(nfd);
				break;
			}
			close(fd);
			fd = nfd;
			continue;
		}
		if (k->n == 1) {
			r = unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
			break;
		}
		r = rm_climb(k, &fd);
	}
	close(fd);
	return r;
}

int store_fs_remove_tree(int dirfd, const char *name)
{
	struct rm_stack k = { 0 };
	struct stat st;
	int r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
	r = rm_tree(dirfd, name, st.st_dev, &k);
	for (size_t i = 0; i < k.n; i++)
		free(k.v[i].name);
	free(k.v);
	return r;
}

int store_fs_empty_dir(int dirfd, uint64_t *ret_n)
{
	uint64_t n = 0;
	struct dirent *de;
	DIR *d;

	int r = dir_open(dirfd, &d);
	if (r < 0)
		return r;
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int q = store_fs_remove_tree(dirfd, de->d_name);
		if (q < 0 && q != -ENOENT) {
			r = q;
			break;
		}
		n++;
	}
	if (r == 0 && !de && errno)
		r = -errno;
	closedir(d);
	if (ret_n)
		*ret_n += n;
	return r;
}

int store_fs_discard(struct store *s, int dirfd, const char *name)
{
	char tmp[STORE_TMP_NAME_MAX];
	int r = store_fs_tmp_name(s, "gc", tmp);

	if (r < 0)
		return r;
	if (renameat(dirfd, name, s->tmp_fd, tmp) < 0)
		return -errno;
	return store_fs_remove_tree(s->tmp_fd, tmp);
}
