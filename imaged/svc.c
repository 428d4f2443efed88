/*
 * svc: the life of imaged's image service (svc.h): what it opens while
 * privileged (the store, ROOT/containers, the pinned list), what it starts
 * after the drop (the registry client, the worker pools), how it stops; and
 * the small error helpers every svc_*.c shares.
 * Never logs (imaged's main does, with the svc_error it gets); never starts
 * a thread before svc_start.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/error.h"
#include "common/fsutil.h"
#include "common/pool.h"
#include "common/status.h"
#include "imaged/reference.h"
#include "imaged/registry.h"
#include "imaged/svc.h"
#include "imaged/unpack_server.h"

#define CONTAINERS_DIR "containers"
#define CONTAINERS_MODE 0700   /* made so when missing; sandboxd owns it from then on */

int svc_fail(struct svc_error *err, int code, int r, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return r < 0 ? r : -EIO;
}

int svc_status_of(int r)
{
	return crisp_status_of_errno(r);
}

int64_t svc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* [image] pinned_images as the store spells names. */
static int pinned_load(struct svc *s, struct svc_error *err)
{
	const struct crisp_config *c = s->cfg;
	if (c->n_pinned == 0)
		return 0;
	s->pinned = calloc(c->n_pinned, sizeof *s->pinned);
	if (!s->pinned)
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n_pinned; i++) {
		const char *p = c->pinned_images[i];
		char buf[REF_STRING_MAX];
		if (digest_valid(p))
			snprintf(buf, sizeof buf, "%s", p);
		else if (svc_ref_normalize(p, buf, sizeof buf) < 0)
			return svc_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
					"[image] pinned_images: %s is not an image reference", p);
		if (!(s->pinned[s->n_pinned] = strdup(buf)))
			return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
		s->n_pinned++;
	}
	return 0;
}

/* ROOT/containers: where sandboxd keeps the containers' writable layers. */
static int containers_dir_make(struct svc *s, struct svc_error *err)
{
	char path[4096];
	int fd = -1;
	int r = fs_path_join(path, sizeof path, s->cfg->root, CONTAINERS_DIR);
	if (r == 0)
		r = fs_open_dir(AT_FDCWD, path, FS_DIR_CREATE | FS_DIR_NOFOLLOW, CONTAINERS_MODE,
				&fd);
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return svc_fail(err, CRISP_STATUS_INTERNAL, r, "%s: %s", path, strerror(-r));
	if (!(s->containers_dir = strdup(path)))
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	return 0;
}

/* The unpack spawner (unpack_server.h): started now, while imaged is still
 * privileged and has no threads; layers unpack under ROOT/images/tmp. */
static int unpacker_start(struct svc *s, struct svc_error *err)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s/images/tmp", s->cfg->root) >= (int)sizeof tmp)
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENAMETOOLONG, "root path too long");
	int r = unpack_client_start(s->unpack_exe ? s->unpack_exe : "/proc/self/exe", tmp,
				    &s->unpacker);
	if (r < 0)
		return svc_fail(err, CRISP_STATUS_INTERNAL, r, "starting the unpack spawner: %s",
				strerror(-r));
	return 0;
}

int svc_open(const struct crisp_config *cfg, struct svc **ret, struct svc_error *err)
{
	struct svc *s = calloc(1, sizeof *s);
	if (!s)
		return svc_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	s->cfg = cfg;
	pthread_mutex_init(&s->usage_lock, NULL);
	unpack_limits_default(&s->unpack_limits);
	s->unpack_limits.max_tar_size = cfg->max_layer_size;
	s->unpack_limits.max_ratio = cfg->max_layer_ratio;
	s->downloads = cfg->max_concurrent_downloads;
	s->max_manifest_size = cfg->max_manifest_size;
	int r = pinned_load(s, err);
	if (r == 0)
		r = containers_dir_make(s, err);
	if (r == 0) {
		r = store_open(cfg->root, &s->store, NULL);
		if (r < 0)
			svc_fail(err, CRISP_STATUS_INTERNAL, r, "the image store in %s: %s%s",
				 cfg->root, strerror(-r),
				 r == -EBUSY ? " (another imaged uses it)" : "");
	}
	if (r == 0 && (r = svc_pinned_sync(s)) < 0)
		svc_fail(err, CRISP_STATUS_INTERNAL, r, "pinning images: %s", strerror(-r));
	if (r == 0)
		r = unpacker_start(s, err);
	if (r < 0) {
		svc_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* The registry client's options from [registry] and [registry.HOST]. */
static int registry_make(struct svc *s, struct svc_error *err)
{
	const struct crisp_config *c = s->cfg;
	struct registry_host_options hosts[CONFIG_MAX_REGISTRIES];
	struct registry_options o;
	registry_options_default(&o);
	for (size_t i = 0; i < c->n_registries; i++) {
		const struct registry_host_config *h = &c->registries[i];
		hosts[i] = (struct registry_host_options){
			.host = h->host, .n_mirrors = h->n_mirrors, .insecure = h->insecure,
			.ca_file = h->ca_file,
		};
		for (size_t j = 0; j < h->n_mirrors && j < REGISTRY_MIRRORS_MAX; j++)
			hosts[i].mirrors[j] = h->mirrors[j];
	}
	o.hosts = hosts;
	o.n_hosts = c->n_registries;
	o.docker_config = c->docker_config;
	o.connect_timeout_ms = c->connect_timeout * 1000u;
	o.stall_timeout_ms = c->stall_timeout * 1000u;
	o.max_retries = c->max_retries;
	o.max_manifest_size = c->max_manifest_size;
	/* a layer's compressed form may be a little larger than its tar */
	o.max_blob_size = c->max_layer_size + c->max_layer_size / 64 + (UINT64_C(1) << 20);
	struct registry_error rerr = { 0 };
	int r = registry_client_new(&o, &s->registry, &rerr);
	if (r < 0)
		return svc_fail(err, rerr.code ? rerr.code : CRISP_STATUS_INTERNAL, r,
				"registry settings: %s", rerr.msg[0] ? rerr.msg : strerror(-r));
	return 0;
}

int svc_start(struct svc *s, struct svc_error *err)
{
	int r = registry_make(s, err);
	if (r < 0)
		return r;
	r = pool_new("imaged-pull", s->cfg->max_concurrent_pulls, SVC_QUEUE_MAX, &s->pulls);
	if (r == 0)
		r = pool_new("imaged-work", SVC_QUICK_WORKERS, SVC_QUEUE_MAX, &s->quick);
	if (r < 0)
		return svc_fail(err, CRISP_STATUS_INTERNAL, r, "worker threads: %s", strerror(-r));
	return 0;
}

void svc_stop(struct svc *s)
{
	pool_free(s->pulls);
	s->pulls = NULL;
	pool_free(s->quick);
	s->quick = NULL;
}

void svc_close(struct svc *s)
{
	if (!s)
		return;
	svc_stop(s);
	unpack_client_free(s->unpacker);
	registry_client_free(s->registry);
	store_close(s->store);
	for (size_t i = 0; i < s->n_pinned; i++)
		free(s->pinned[i]);
	free(s->pinned);
	free(s->containers_dir);
	pthread_mutex_destroy(&s->usage_lock);
	free(s);
}
