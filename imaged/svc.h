/*
 * svc: imaged's image service. The CRI ImageService calls that criserver
 * forwards over RUNROOT/internal/imaged.sock (MSG_IMG_*, the CRI messages
 * as payloads; crispctl may send them on the admin socket too) and the
 * leases that sandboxd and crispctl take on image content (MSG_LEASE_*),
 * built on the content store (imaged/store.h), the registry client
 * (imaged/registry.h) and the confined unpacker (imaged/unpack.h).
 *
 * The core calls below know nothing of the channel: each takes a parsed
 * request and fills an answer or a struct svc_error (a gRPC status code and
 * a message for the user), so that the unit tests drive them directly. The
 * svc_handle_* functions are the dispatch-table glue: they hand each request
 * to a worker pool (common/pool.c; pulls have their own, so that a slow
 * registry never delays ImageStatus) and answer it from the worker.
 *
 * Life: svc_open (privileged, before the drop: the store, ROOT/containers,
 * the pinned list) -> svc_start (after the drop: the registry client, which
 * starts curl's threads, and the worker threads) -> svc_stop (running
 * requests cancelled, queued ones answered UNAVAILABLE, threads joined) ->
 * svc_close.
 *
 * Must never: log a credential, keep a pull's content visible as an image
 * before every piece is in the store and checked, or answer a request twice.
 */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/config.h"
#include "common/server.h"
#include "imaged/digest.h"
#include "imaged/store.h"
#include "imaged/unpack.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"

#define SVC_MSG_MAX 512
#define SVC_STREAM_PART 500             /* images per StreamImages part */
#define SVC_QUEUE_MAX 1024              /* requests waiting per pool */
#define SVC_QUICK_WORKERS 2             /* threads for everything but pulls */
#define SVC_LEASE_PREFIX "crisp-"       /* imaged's own leases; clients may not use it */

struct svc_error {
	int code;                       /* enum crisp_status */
	char msg[SVC_MSG_MAX];
};

struct registry_client;
struct pool;
struct unpack_client;

struct svc {
	const struct crisp_config *cfg;
	struct store *store;
	struct registry_client *registry;
	struct unpack_limits unpack_limits;
	const char *unpack_exe;         /* NULL: /proc/self/exe (imaged itself) */
	struct unpack_client *unpacker; /* the spawner of unpack children */
	char *containers_dir;           /* ROOT/containers: the writable layers */
	char **pinned;                  /* [image] pinned_images, normalised */
	size_t n_pinned;
	unsigned downloads;             /* layers at once, per pull */
	uint64_t max_manifest_size;
	struct pool *pulls;
	struct pool *quick;
	atomic_uint_fast64_t seq;       /* pull lease names */

	pthread_mutex_t usage_lock;     /* the containers_dir walk, cached */
	int64_t usage_mono_ms;
	uint64_t usage_bytes, usage_inodes;
	int64_t usage_ts_ns;
};

/* Fills *err (if not NULL) and returns r (negative errno). */
int svc_fail(struct svc_error *err, int code, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The gRPC status for an errno from the store or the system: the
 * suite's one map, crisp_status_of_errno (common/error.h). */
int svc_status_of(int r);
int64_t svc_now_ms(void);               /* CLOCK_MONOTONIC */

/* ---- life (svc.c) ------------------------------------------------------- */

int svc_open(const struct crisp_config *cfg, struct svc **ret, struct svc_error *err);
int svc_start(struct svc *s, struct svc_error *err);
void svc_stop(struct svc *s);
void svc_close(struct svc *s);          /* NULL ok */

/* ---- images (svc_image.c) ----------------------------------------------- */

/* A reference as the store keeps names: "docker.io/library/busybox:latest",
 * or "NAME@sha256:<hex>" when it has a digest (a tag next to a digest is
 * dropped: the digest decides). -EINVAL if it is not a reference. */
int svc_ref_normalize(const char *ref, char *buf, size_t len);

/* The image a CRI reference names: an id ("sha256:<hex>"), a tag or repo
 * digest in any form kubelet and crictl accept ("busybox" is
 * docker.io/library/busybox:latest), or a unique id prefix. -ENOENT when
 * there is none, -ENOTUNIQ for an ambiguous prefix. */
int svc_image_find(struct svc *s, const char *ref, struct store_image **ret);
/* The same in any store (the admin requests' work runs on a store of its
 * own in the unit tests). */
int svc_image_find_in(struct store *st, const char *ref, struct store_image **ret);
/* svc_image_find for a request's reference: 1 with *ret when the image is
 * there, 0 when it is not, else the error in err (INVALID_ARGUMENT for an
 * empty reference or an ambiguous id prefix). */
int svc_image_lookup(struct svc *s, const char *ref, struct store_image **ret,
		     struct svc_error *err);
/* true when the image is named in [image] pinned_images. */
bool svc_image_pinned(const struct svc *s, const struct store_image *img);
/* Sets the store's pinned flag of every image from the configured list. */
int svc_pinned_sync(struct svc *s);
/* The CRI view of a store record (free with svc_cri_image_free); pinned
 * also when s (may be NULL) lists it. */
int svc_cri_image_new(const struct svc *s, const struct store_image *img,
		      Runtime__V1__Image **ret);
void svc_cri_image_free(Runtime__V1__Image *im);        /* NULL ok */
void svc_cri_images_free(Runtime__V1__Image **v, size_t n);

/* ---- the calls ---------------------------------------------------------- */

/* svc_pull.c: pull rq's image; *ret_id is its id (the config digest). cancel
 * stops it (CANCELLED); deadline_ms (CLOCK_MONOTONIC, 0: none). */
int svc_pull(struct svc *s, const Runtime__V1__PullImageRequest *rq, const atomic_bool *cancel,
	     int64_t deadline_ms, char ret_id[DIGEST_STR_SIZE], struct svc_error *err);
/* svc_list.c: every image, or those the filter's reference names. */
int svc_list(struct svc *s, const Runtime__V1__ImageFilter *filter,
	     Runtime__V1__Image ***ret_v, size_t *ret_n, struct svc_error *err);
/* svc_status.c: fills *ret (an unknown image leaves it empty: not an error);
 * free with svc_status_clear. */
int svc_status(struct svc *s, const Runtime__V1__ImageStatusRequest *rq,
	       Runtime__V1__ImageStatusResponse *ret, struct svc_error *err);
void svc_status_clear(Runtime__V1__ImageStatusResponse *r);
/* svc_remove.c: removes the image and all its names (an unknown one is
 * fine), then collects what nothing holds any more. */
int svc_remove(struct svc *s, const char *ref, struct svc_error *err);
/* svc_fsinfo.c: fills *ret; free with svc_fsinfo_clear. */
int svc_fsinfo(struct svc *s, Runtime__V1__ImageFsInfoResponse *ret, struct svc_error *err);
void svc_fsinfo_clear(Runtime__V1__ImageFsInfoResponse *r);
/* svc_lease.c: ret is filled (free with svc_lease_clear). */
int svc_lease_create(struct svc *s, const Crisp__LeaseCreate *rq, Crisp__Lease *ret,
		     struct svc_error *err);
int svc_lease_add(struct svc *s, const Crisp__LeaseAdd *rq, Crisp__Lease *ret,
		  struct svc_error *err);
int svc_lease_release(struct svc *s, const Crisp__LeaseRelease *rq, Crisp__Lease *ret,
		      struct svc_error *err);
int svc_lease_list(struct svc *s, Crisp__LeaseList *ret, struct svc_error *err);
/* Take (or extend) lease rq->lease_id on an image and say what a container
 * built from it needs (free with svc_leased_image_clear). */
int svc_lease_image(struct svc *s, const Crisp__LeaseImage *rq, Crisp__LeasedImage *ret,
		    struct svc_error *err);
void svc_leased_image_clear(Crisp__LeasedImage *l);
void svc_lease_clear(Crisp__Lease *l);
void svc_lease_list_clear(Crisp__LeaseList *l);

/* ---- dispatch-table handlers (svc_handle.c); userdata is the daemon_ctx
 * whose data is the struct svc ------------------------------------------ */

int svc_handle_pull(struct server_req *req, void *userdata);
int svc_handle_list(struct server_req *req, void *userdata);
int svc_handle_stream(struct server_req *req, void *userdata);
int svc_handle_status(struct server_req *req, void *userdata);
int svc_handle_remove(struct server_req *req, void *userdata);
int svc_handle_fsinfo(struct server_req *req, void *userdata);
int svc_handle_lease(struct server_req *req, void *userdata);   /* MSG_LEASE_CREATE..LIST */
int svc_handle_lease_image(struct server_req *req, void *userdata);
