/*
 * store: opening and closing imaged's store ROOT/images (layout in
 * store.h): the 0700 directories, the lock that keeps a second imaged out,
 * the emptying of tmp/, the database, and the recovery that makes files and
 * rows agree again after a crash. Never logs: what recovery did goes back in
 * the report for the daemon to log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "imaged/store_int.h"

#define STORE_LOCK_FILE "lock"

static struct store *store_new(void)
{
	struct store *s = calloc(1, sizeof *s);
	pthread_condattr_t ca;

	if (!s)
		return NULL;
	s->dir_fd = s->blobs_fd = s->layers_fd = s->tmp_fd = s->lock_fd = -1;
	pthread_mutex_init(&s->db_lock, NULL);
	pthread_rwlock_init(&s->gc_lock, NULL);
	pthread_mutex_init(&s->usage_lock, NULL);
	pthread_mutex_init(&s->flight_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->flight_cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&s->tmp_seq, 0);
	atomic_init(&s->generation, 1);
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_db_close(s);
	int fds[] = { s->blobs_fd, s->layers_fd, s->tmp_fd, s->dir_fd, s->lock_fd };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&s->db_lock);
	pthread_rwlock_destroy(&s->gc_lock);
	pthread_mutex_destroy(&s->usage_lock);
	pthread_mutex_destroy(&s->flight_lock);
	pthread_cond_destroy(&s->flight_cond);
	free(s->path);
	free(s);
}

const char *store_path(const struct store *s)
{
	return s->path;
}

static int store_lock(struct store *s)
{
	s->lock_fd = openat(s->dir_fd, STORE_LOCK_FILE,
			    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return -errno;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return 0;
}

/* dirfd/a/b, both 0700, returning b's fd. */
static int store_subdir(int dirfd, const char *a, const char *b, int *ret_fd)
{
	int fd, r = store_fs_dir(dirfd, a, &fd);

	if (r < 0)
		return r;
	if (b) {
		r = store_fs_dir(fd, b, ret_fd);
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static int store_layout(struct store *s, const char *root)
{
	int root_fd, r;

	if (asprintf(&s->path, "%s/images", root) < 0) {
		s->path = NULL;
		return -ENOMEM;
	}
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return -errno;
	r = store_fs_dir(root_fd, "images", &s->dir_fd);
	close(root_fd);
	if (r >= 0)
		r = store_lock(s);
	if (r >= 0)
		r = store_subdir(s->dir_fd, "blobs", "sha256", &s->blobs_fd);
	if (r >= 0)
		r = store_subdir(s->dir_fd, "layers", "sha256", &s->layers_fd);
	if (r >= 0)
		r = store_subdir(s->dir_fd, "tmp", NULL, &s->tmp_fd);
	return r;
}

int store_open(const char *root, struct store **ret, struct store_open_report *ret_report)
{
	struct store_open_report rep = { 0 };
	struct store *s;
	int r;

	if (!root || !*root)
		return -EINVAL;
	s = store_new();
	if (!s)
		return -ENOMEM;
	r = store_layout(s, root);
	if (r >= 0)
		r = store_fs_empty_dir(s->tmp_fd, &rep.tmp_removed);
	if (r >= 0)
		r = store_fs_fsync_dir(s->tmp_fd);
	if (r >= 0)
		r = store_db_open(s);
	if (r >= 0)
		r = store_gc_recover(s, &rep);
	if (r >= 0)
		r = store_gc(s, &rep.gc);
	if (r < 0) {
		store_close(s);
		return r;
	}
	*ret = s;
	if (ret_report)
		*ret_report = rep;
	return 0;
}
