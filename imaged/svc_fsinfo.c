/*
 * svc_fsinfo: ImageFsInfo. image_filesystems: what the image store uses
 * (store_usage: bytes and inodes under ROOT/images), its mountpoint being
 * the store's directory. container_filesystems: ROOT/containers, where the
 * containers' writable layers live, walked here the same way (st_blocks,
 * each inode once, never following a symlink, never leaving the
 * filesystem: a container's mounted rootfs is not counted twice), cached
 * for STORE_USAGE_CACHE_MS. Never logs; changes nothing.
 */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "common/status.h"
#include "imaged/svc.h"

#define WALK_FDS 32

struct walk_sum {
	uint64_t bytes, inodes;
	struct { dev_t dev; ino_t ino; } *seen;         /* inodes with several links */
	size_t n_seen, cap_seen;                        /* cap: 0 or a power of two */
	int err;
};

static _Thread_local struct walk_sum *walk_cur;     /* nftw has no userdata */

static size_t seen_slot(const struct walk_sum *w, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 32)) * UINT64_C(0x9e3779b97f4a7c15);
	size_t i = (size_t)(h >> 17) & (w->cap_seen - 1);
	while (w->seen[i].ino && (w->seen[i].dev != dev || w->seen[i].ino != ino))
		i = (i + 1) & (w->cap_seen - 1);
	return i;
}

static int seen_grow(struct walk_sum *w)
{
	struct walk_sum bigger = { .cap_seen = w->cap_seen ? 2 * w->cap_seen : 256 };
	bigger.seen = calloc(bigger.cap_seen, sizeof *bigger.seen);
	if (!bigger.seen)
		return -ENOMEM;
	for (size_t i = 0; i < w->cap_seen; i++)
		if (w->seen[i].ino)
			bigger.seen[seen_slot(&bigger, w->seen[i].dev, w->seen[i].ino)] = w->seen[i];
	free(w->seen);
	w->seen = bigger.seen;
	w->cap_seen = bigger.cap_seen;
	return 0;
}

/* Hard-linked inodes count once (inode 0 is never a real one). */
static bool seen_before(struct walk_sum *w, const struct stat *st)
{
	if (2 * (w->n_seen + 1) > w->cap_seen && (w->err = seen_grow(w)) < 0)
		return true;
	size_t i = seen_slot(w, st->st_dev, st->st_ino);
	if (w->seen[i].ino)
		return true;
	w->seen[i].dev = st->st_dev;
	w->seen[i].ino = st->st_ino;
	w->n_seen++;
	return false;
}

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	struct walk_sum *w = walk_cur;
	if (type == FTW_NS || type == FTW_DNR)
		return 0;               /* gone meanwhile, or unreadable: not ours to count */
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1 && seen_before(w, st))
		return w->err ? 1 : 0;
	w->bytes += (uint64_t)st->st_blocks * 512u;
	w->inodes++;
	return 0;
}

static int containers_usage(struct svc *s, uint64_t *ret_bytes, uint64_t *ret_inodes,
			    int64_t *ret_ts)
{
	int r = 0;
	pthread_mutex_lock(&s->usage_lock);
	int64_t now = svc_now_ms();
	if (!s->usage_mono_ms || now - s->usage_mono_ms >= STORE_USAGE_CACHE_MS) {
		struct walk_sum w = { 0 };
		struct timespec ts;
		walk_cur = &w;
		if (nftw(s->containers_dir, walk_one, WALK_FDS, FTW_PHYS | FTW_MOUNT) < 0)
			r = -errno;
		walk_cur = NULL;
		free(w.seen);
		if (r == 0 && w.err)
			r = w.err;
		if (r == 0) {
			clock_gettime(CLOCK_REALTIME, &ts);
			s->usage_bytes = w.bytes;
			s->usage_inodes = w.inodes;
			s->usage_ts_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
			s->usage_mono_ms = now;
		}
	}
	*ret_bytes = s->usage_bytes;
	*ret_inodes = s->usage_inodes;
	*ret_ts = s->usage_ts_ns;
	pthread_mutex_unlock(&s->usage_lock);
	return r;
}

static int usage_new(const char *mountpoint, uint64_t bytes, uint64_t inodes, int64_t ts,
		     Runtime__V1__FilesystemUsage **ret)
{
	Runtime__V1__FilesystemUsage *u = calloc(1, sizeof *u);
	if (!u)
		return -ENOMEM;
	runtime__v1__filesystem_usage__init(u);
	*ret = u;       /* the caller frees it, also half made */
	u->timestamp = ts;
	u->fs_id = calloc(1, sizeof *u->fs_id);
	u->used_bytes = calloc(1, sizeof *u->used_bytes);
	u->inodes_used = calloc(1, sizeof *u->inodes_used);
	if (!u->fs_id || !u->used_bytes || !u->inodes_used)
		return -ENOMEM;
	runtime__v1__filesystem_identifier__init(u->fs_id);
	runtime__v1__uint64_value__init(u->used_bytes);
	runtime__v1__uint64_value__init(u->inodes_used);
	u->used_bytes->value = bytes;
	u->inodes_used->value = inodes;
	return (u->fs_id->mountpoint = strdup(mountpoint)) ? 0 : -ENOMEM;
}

int svc_fsinfo(struct svc *s, Runtime__V1__ImageFsInfoResponse *ret, struct svc_error *err)
{
	runtime__v1__image_fs_info_response__init(ret);
	struct store_usage su;
	uint64_t cbytes = 0, cinodes = 0;
	int64_t cts = 0;
	int r = store_usage(s->store, &su);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "image store usage: %s", strerror(-r));
	r = containers_usage(s, &cbytes, &cinodes, &cts);
	if (r < 0)
		return svc_fail(err, svc_status_of(r), r, "%s usage: %s", s->containers_dir,
				strerror(-r));
	ret->image_filesystems = calloc(1, sizeof *ret->image_filesystems);
	ret->container_filesystems = calloc(1, sizeof *ret->container_filesystems);
	r = ret->image_filesystems && ret->container_filesystems ? 0 : -ENOMEM;
	if (r == 0) {
		ret->n_image_filesystems = 1;
		r = usage_new(store_path(s->store), su.bytes, su.inodes, su.timestamp_ns,
			      &ret->image_filesystems[0]);
	}
	if (r == 0) {
		ret->n_container_filesystems = 1;
		r = usage_new(s->containers_dir, cbytes, cinodes, cts,
			      &ret->container_filesystems[0]);
	}
	if (r < 0) {
		svc_fsinfo_clear(ret);
		return svc_fail(err, CRISP_STATUS_INTERNAL, r, "out of memory");
	}
	return 0;
}

static void usage_free(Runtime__V1__FilesystemUsage *u)
{
	if (!u)
		return;
	if (u->fs_id && u->fs_id->mountpoint != protobuf_c_empty_string)
		free(u->fs_id->mountpoint);
	free(u->fs_id);
	free(u->used_bytes);
	free(u->inodes_used);
	free(u);
}

void svc_fsinfo_clear(Runtime__V1__ImageFsInfoResponse *r)
{
	for (size_t i = 0; i < r->n_image_filesystems; i++)
		usage_free(r->image_filesystems[i]);
	free(r->image_filesystems);
	for (size_t i = 0; i < r->n_container_filesystems; i++)
		usage_free(r->container_filesystems[i]);
	free(r->container_filesystems);
	runtime__v1__image_fs_info_response__init(r);
}
