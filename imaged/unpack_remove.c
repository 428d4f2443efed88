/*
 * unpack_remove: unpack_remove_tree, the removal of a layer directory that a
 * failed or abandoned unpack left behind (or of a directory an entry
 * replaces). Walks with openat(O_NOFOLLOW) and unlinkat only: never follows a
 * symlink, never leaves the tree it started in (it climbs back with ".."
 * only as many levels as it went down, checking that ".." holds the
 * directory it just left), and holds two fds at most, however
 * deep the tree (a layer can nest directories deeper than RLIMIT_NOFILE).
 * Must never: chmod, chown or otherwise change what it does not remove.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "imaged/unpack_int.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

struct name_stack {
	char **v;
	size_t n, cap;
};

static int push(struct name_stack *s, const char *name)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		char **v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n] = strdup(name);
	if (!s->v[s->n])
		return -ENOMEM;
	s->n++;
	return 0;
}

static void stack_free(struct name_stack *s)
{
	while (s->n)
		free(s->v[--s->n]);
	free(s->v);
}

static bool is_dot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/*
 * Removes what it can in fd: non-directories and empty directories. 1 and
 * *ret_sub (malloc'd) when a non-empty subdirectory must be descended into
 * first, 0 when fd is empty.
 */
static int empty_dir(int fd, char **ret_sub)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		return -e;
	}
	int r = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (is_dot(de->d_name))
			continue;
		bool dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				r = -errno;
				break;
			}
			dir = S_ISDIR(st.st_mode);
		}
		if (unlinkat(fd, de->d_name, dir ? AT_REMOVEDIR : 0) == 0 || errno == ENOENT)
			continue;
		if (dir && (errno == ENOTEMPTY || errno == EEXIST)) {
			*ret_sub = strdup(de->d_name);
			r = *ret_sub ? 1 : -ENOMEM;
			break;
		}
		r = -errno;
		break;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	return r;
}

/* One step down into sub, or up (removing the emptied level). */
static int step(int *cur, struct name_stack *st, char *sub)
{
	if (sub) {
		int fd = openat(*cur, sub, DIR_FLAGS);
		int r = fd < 0 ? -errno : push(st, sub);
		free(sub);
		if (r < 0) {
			if (fd >= 0)
				close(fd);
			return r;
		}
		close(*cur);
		*cur = fd;
		return 0;
	}
	int up = openat(*cur, "..", DIR_FLAGS);
	if (up < 0)
		return -errno;
	/* ".." must be where we came from: the level we leave is up/name */
	char *name = st->v[--st->n];
	struct stat here, there;
	int r = 0;
	if (fstat(*cur, &here) < 0 || fstatat(up, name, &there, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	else if (here.st_dev != there.st_dev || here.st_ino != there.st_ino)
		r = -ESTALE;
	close(*cur);
	*cur = up;
	if (r == 0 && unlinkat(up, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	free(name);
	return r;
}

int unpack_remove_tree(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	int cur = openat(dirfd, name, DIR_FLAGS);
	if (cur < 0)
		return -errno;
	struct name_stack stack = { 0 };
	int r;
	for (;;) {
		char *sub = NULL;
		r = empty_dir(cur, &sub);
		if (r < 0)
			break;
		if (r == 0 && stack.n == 0)
			break;
		r = step(&cur, &stack, sub);
		if (r < 0)
			break;
	}
	close(cur);
	stack_free(&stack);
	if (r < 0)
		return r;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}
