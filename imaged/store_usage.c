/*
 * store_usage: bytes and inodes used under ROOT/images, for ImageFsInfo.
 * A walk with fstatat (never following a symlink, never leaving the
 * filesystem) that counts st_blocks*512 and each inode once (hard links
 * deduplicated). It holds one directory fd at a time whatever the depth:
 * each level keeps the names of its subdirectories still to visit, and the
 * walk climbs back with "..", checking the inode it expects (a tree that
 * moves under it, e.g. GC, restarts the walk). The result is cached for
 * STORE_USAGE_CACHE_MS while the store does not change. Never logs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "imaged/store_int.h"

#define USAGE_TRIES 3

struct inode_set {              /* (dev, ino) of files with several links */
	struct { dev_t dev; ino_t ino; } *v;
	size_t n, cap;          /* cap: a power of two, or 0 */
};

static size_t inode_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* 1 if newly added, 0 if seen before. */
static int inode_set_add(struct inode_set *set, dev_t dev, ino_t ino)
{
	if (2 * (set->n + 1) > set->cap) {
		struct inode_set bigger = { calloc(set->cap ? 2 * set->cap : 64, sizeof *set->v), 0,
					    set->cap ? 2 * set->cap : 64 };
		if (!bigger.v)
			return -ENOMEM;
		for (size_t i = 0; i < set->cap; i++)
			if (set->v[i].ino)
				inode_set_add(&bigger, set->v[i].dev, set->v[i].ino);
		free(set->v);
		*set = bigger;
	}
	for (size_t i = inode_hash(dev, ino, set->cap);; i = (i + 1) & (set->cap - 1)) {
		if (!set->v[i].ino) {
			set->v[i].dev = dev;
			set->v[i].ino = ino;
			set->n++;
			return 1;
		}
		if (set->v[i].dev == dev && set->v[i].ino == ino)
			return 0;
	}
}

struct walk_level {
	char **subdirs;
	size_t n, next;
	ino_t ino;
};

struct walk {
	dev_t dev;
	struct store_usage sum;
	struct inode_set links;
	struct walk_level *stack;
	size_t depth, cap;
};

static int walk_count(struct walk *w, const struct stat *st)
{
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		int r = inode_set_add(&w->links, st->st_dev, st->st_ino);
		if (r <= 0)
			return r;
	}
	w->sum.bytes += (uint64_t)st->st_blocks * 512u;
	w->sum.inodes++;
	return 0;
}

static int level_add(struct walk_level *l, size_t *cap, const char *name)
{
	if (l->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		char **v = reallocarray(l->subdirs, ncap, sizeof *v);
		if (!v)
			return -ENOMEM;
		l->subdirs = v;
		*cap = ncap;
	}
	return (l->subdirs[l->n++] = strdup(name)) ? 0 : -ENOMEM;
}

/* Counts the entries of fd and pushes a level with its subdirectories. */
static int walk_push(struct walk *w, int fd)
{
	struct walk_level l = { 0 };
	size_t cap = 0;
	struct stat st;
	struct dirent *de;
	int r = 0, dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (dfd < 0 || fstat(fd, &st) < 0 || !(d = fdopendir(dfd))) {
		r = -errno;
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	l.ino = st.st_ino;
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = errno == ENOENT ? 0 : -errno;
			continue;
		}
		r = walk_count(w, &st);
		if (r >= 0 && S_ISDIR(st.st_mode) && st.st_dev == w->dev)
			r = level_add(&l, &cap, de->d_name);
	}
	if (r >= 0 && !de && errno)
		r = -errno;
	closedir(d);
	if (r >= 0 && w->depth == w->cap) {
		size_t ncap = w->cap ? 2 * w->cap : 16;
		struct walk_level *v = reallocarray(w->stack, ncap, sizeof *v);
		r = v ? 0 : -ENOMEM;
		if (v) {
			w->stack = v;
			w->cap = ncap;
		}
	}
	if (r >= 0) {
		w->stack[w->depth++] = l;
		return 0;
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.subdirs[i]);
	free(l.subdirs);
	return r;
}

static void walk_pop(struct walk *w)
{
	struct walk_level *l = &w->stack[--w->depth];

	for (size_t i = 0; i < l->n; i++)
		free(l->subdirs[i]);
	free(l->subdirs);
}

/* One step: into the next subdirectory, or back up. 1 when done. */
static int walk_step(struct walk *w, int *fd)
{
	struct walk_level *top = &w->stack[w->depth - 1];
	struct stat st;

	if (top->next < top->n) {
		int nfd = openat(*fd, top->subdirs[top->next++],
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0)
			return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;
		int r = walk_push(w, nfd);
		close(r < 0 ? nfd : *fd);
		if (r >= 0)
			*fd = nfd;
		return r;
	}
	walk_pop(w);
	if (w->depth == 0)
		return 1;
	int parent = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (parent < 0)
		return -ESTALE;
	if (fstat(parent, &st) < 0 || st.st_ino != w->stack[w->depth - 1].ino) {
		close(parent);
		return -ESTALE;
	}
	close(*fd);
	*fd = parent;
	return 0;
}

static int walk_once(struct store *s, struct store_usage *ret)
{
	struct walk w = { 0 };
	struct stat st;
	int r, fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r >= 0) {
		w.dev = st.st_dev;
		r = walk_count(&w, &st);
	}
	if (r >= 0)
		r = walk_push(&w, fd);
	while (r == 0)
		r = walk_step(&w, &fd);
	close(fd);
	while (w.depth)
		walk_pop(&w);
	free(w.stack);
	free(w.links.v);
	if (r < 0)
		return r;
	*ret = w.sum;
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_usage(struct store *s, struct store_usage *ret)
{
	struct store_usage u = { 0 };
	struct timespec now;
	int r = -ESTALE;

	pthread_mutex_lock(&s->usage_lock);
	uint64_t gen = atomic_load(&s->generation);
	if (s->usage_valid && s->usage_gen == gen &&
	    mono_ms() - s->usage_mono_ms < STORE_USAGE_CACHE_MS) {
		*ret = s->usage;
		pthread_mutex_unlock(&s->usage_lock);
		return 0;
	}
	pthread_rwlock_rdlock(&s->gc_lock);     /* GC moves trees: not during a walk */
	for (int i = 0; i < USAGE_TRIES && r == -ESTALE; i++)
		r = walk_once(s, &u);
	pthread_rwlock_unlock(&s->gc_lock);
	if (r >= 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		u.timestamp_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
		s->usage = u;
		s->usage_gen = gen;
		s->usage_mono_ms = mono_ms();
		s->usage_valid = true;
		*ret = u;
	}
	pthread_mutex_unlock(&s->usage_lock);
	return r < 0 ? r : 0;
}
