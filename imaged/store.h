/*
 * store: imaged's content store, image database and leases, under
 * ROOT/images (owned by imaged alone, every directory 0700 root: layers hold
 * setuid files that no other user may reach):
 *
 *   images/lock                 flock: one store per root
 *   images/images.db            sqlite3 (WAL), the metadata (store_db.c)
 *   images/blobs/sha256/<hex>   blobs by digest, checked while they stream
 *   images/layers/sha256/<hex>/ an unpacked layer by chain id:
 *                                 diff/  the layer's root directory
 *                                 meta   "chain_id/diff_id/parent/size" lines
 *   images/tmp/                 work in progress, emptied at every open
 *
 * Rules that keep files and rows in agreement across kill -9 at any point:
 * content is written and fsynced under tmp/, renamed into place (dir
 * fsynced), and only then gets its row; GC deletes rows first, then moves
 * the files into tmp/ and removes them. Open empties tmp/, removes files
 * that have no row and rows whose file is gone (store_open_report).
 *
 * References: an image holds its blobs (manifest, config, compressed layers)
 * and its layers (chain ids); a lease holds blobs and layers on its own, so
 * that they outlive the image (a container's rootfs, a pull in progress).
 * GC removes every blob and layer that no image and no lease holds (and a
 * layer that is the parent of a held one is held too).
 *
 * Thread-safe: one sqlite connection behind a mutex; a GC rwlock makes
 * "commit content + take the reference" atomic against GC. Two commits of
 * the same digest race harmlessly: one renames, the other sees it exists.
 *
 * Never logs (returns negative errno; the daemon logs). Never follows a
 * symlink inside the store; never trusts a digest it did not parse.
 *
 * Errors: -EINVAL bad argument (malformed digest), -ENOENT no such object,
 * -EBADMSG content does not match its digest or announced size, -EFBIG over
 * the cap, -ENOTUNIQ an id prefix matches several images, -EBUSY the store
 * is open elsewhere.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "imaged/digest.h"

struct store;

struct store_gc_stats {
	uint64_t blobs_removed;
	uint64_t layers_removed;
	uint64_t bytes_freed;           /* blob sizes + layer sizes, as recorded */
};

struct store_open_report {
	uint64_t tmp_removed;           /* leftovers of work in progress */
	uint64_t orphan_blobs;          /* files with no row, removed */
	uint64_t orphan_layers;
	uint64_t missing_blobs;         /* rows with no file, removed */
	uint64_t missing_layers;
	uint64_t images_dropped;        /* images that lost content, removed */
	uint64_t leases_dropped;        /* temporary leases of a previous run */
	struct store_gc_stats gc;       /* the GC that open runs last */
};

/* Opens ROOT/images (ROOT must exist; images/ and below are created 0700 and
 * put back to 0700 if loosened), recovers, and runs a GC. ret_report may be
 * NULL. */
int store_open(const char *root, struct store **ret, struct store_open_report *ret_report);
void store_close(struct store *s);
const char *store_path(const struct store *s);    /* ROOT/images */

/* ---- blobs (store_blob.c) --------------------------------------------- */

struct store_blob_writer;

/* Starts a blob that must hash to `digest` ("sha256:<hex>") and, if
 * size >= 0, have exactly that many bytes; more than `cap` bytes (0: no cap)
 * fails with -EFBIG. If `lease` is not NULL, the committed blob is added to
 * that lease in the same step (so GC cannot take it before the image row
 * holds it). */
int store_blob_begin(struct store *s, const char *digest, int64_t size, uint64_t cap,
		     const char *lease, struct store_blob_writer **ret);
/* Appends; -EFBIG past the cap or the announced size. On error the writer
 * stays valid only for store_blob_abort. */
int store_blob_write(struct store_blob_writer *w, const void *buf, size_t len);
uint64_t store_blob_written(const struct store_blob_writer *w);
/* Checks size and digest, fsyncs, renames into place, records the row.
 * Frees w in every case; on failure nothing is left behind. A blob that is
 * already there makes this a successful no-op. */
int store_blob_commit(struct store_blob_writer *w);
void store_blob_abort(struct store_blob_writer *w);     /* frees w; NULL ok */

/* The whole of a small blob in memory, checked: one call. */
int store_blob_put(struct store *s, const char *digest, const void *buf, size_t len,
		   const char *lease);
/* 1 if present (row and file), 0 if not. */
int store_blob_exists(struct store *s, const char *digest);
/* Its size, -ENOENT if absent. */
int store_blob_size(struct store *s, const char *digest, uint64_t *ret);
/* A read-only fd (O_CLOEXEC) on the blob. */
int store_blob_open(struct store *s, const char *digest, int *ret_fd);
/* Reads a blob of at most cap bytes into a malloc'ed buffer (NUL added,
 * not counted) and checks its digest again (-EBADMSG if the disk lies). */
int store_blob_read(struct store *s, const char *digest, size_t cap,
		    char **ret_buf, size_t *ret_len);

/* ---- layers (store_layer.c) ------------------------------------------- */

struct store_layer_writer;

/* Makes tmp/layer-XXXX/diff/ (0755, inside the 0700 store) for the caller
 * to unpack into. */
int store_layer_begin(struct store *s, struct store_layer_writer **ret);
const char *store_layer_diff_path(const struct store_layer_writer *w);
int store_layer_diff_fd(const struct store_layer_writer *w); /* owned by w */
/* Checks chain_id == chain(parent, diff_id), syncs the tree, writes meta,
 * renames into layers/sha256/<hex>, records the row (and adds it to lease
 * if not NULL). parent is NULL for a base layer. size: unpacked bytes.
 * Frees w in every case. A layer already there: successful no-op (the
 * temp tree is removed). */
int store_layer_commit(struct store_layer_writer *w, const char *chain_id,
		       const char *diff_id, const char *parent, uint64_t size,
		       const char *lease);
void store_layer_abort(struct store_layer_writer *w);   /* frees w; NULL ok */

struct store_layer_info {
	char chain_id[DIGEST_STR_SIZE];
	char diff_id[DIGEST_STR_SIZE];
	char parent[DIGEST_STR_SIZE];   /* "" for a base layer */
	uint64_t size;
	int64_t created;                /* unix seconds */
};
int store_layer_exists(struct store *s, const char *chain_id);  /* 1 / 0 */
int store_layer_get(struct store *s, const char *chain_id, struct store_layer_info *ret);
/* ROOT/images/layers/sha256/<hex>/diff, for overlay lowerdir. */
int store_layer_diff_path_of(struct store *s, const char *chain_id, char **ret_path);

/* ---- images (store_image.c) ------------------------------------------- */

struct store_layer_ref {
	char chain_id[DIGEST_STR_SIZE];
	char diff_id[DIGEST_STR_SIZE];
};

struct store_kv {
	char *key;
	char *value;
};

#define STORE_UID_NONE (-1)

/* Caps on what an image record may hold (-E2BIG past them). */
#define STORE_REF_MAX           4096u   /* a tag, repo digest, media type, user */
#define STORE_IMAGE_LIST_MAX    1024u   /* tags, repo digests, layers, blobs: each */
#define STORE_ANNOTATIONS_MAX   256u
#define STORE_ANNOTATION_KEY_MAX 1024u
#define STORE_ANNOTATION_VALUE_MAX (64u * 1024u)

struct store_image {
	char id[DIGEST_STR_SIZE];               /* config digest: the CRI image id */
	char manifest_digest[DIGEST_STR_SIZE];
	char *media_type;                       /* of the manifest */
	uint64_t size;                          /* set by the store: sum of its blobs */
	int64_t uid;                            /* config User numeric, or STORE_UID_NONE */
	char *username;                         /* config User by name, or NULL */
	bool pinned;
	int64_t created;                        /* unix seconds, set by the store */
	char **repo_tags;                       /* "docker.io/library/busybox:1.36" */
	size_t n_repo_tags;
	char **repo_digests;                    /* "docker.io/library/busybox@sha256:..." */
	size_t n_repo_digests;
	struct store_layer_ref *layers;         /* bottom first */
	size_t n_layers;
	char (*blobs)[DIGEST_STR_SIZE];         /* every blob it holds: manifest, config, layers */
	size_t n_blobs;
	struct store_kv *annotations;
	size_t n_annotations;
};

void store_image_free(struct store_image *img);         /* and its fields; NULL ok */
void store_image_list_free(struct store_image **v, size_t n);

/* The config's "User" ("name", "1000", "1000:1000", "name:group") split the
 * way the CRI reports it: the part before ':' is a uid if numeric, else a
 * user name. Sets img->uid / img->username. */
int store_image_set_user(struct store_image *img, const char *config_user);

/* Inserts the image, or updates it if its id exists: fields replaced, tags
 * and repo digests added (each moves from any other image that had it),
 * annotations, layers and blobs replaced. It always holds its config (id)
 * and manifest blobs besides img->blobs. Every blob and layer it names must
 * be in the store (-ENOENT; nothing is written then). img->size and
 * img->created are filled in (created: of the first insert). */
int store_image_put(struct store *s, struct store_image *img);
/* Moves `tag` onto image `id`. */
int store_image_tag(struct store *s, const char *id, const char *tag);
int store_image_set_pinned(struct store *s, const char *id, bool pinned);
/* By exact id. */
int store_image_get(struct store *s, const char *id, struct store_image **ret);
/* By CRI reference, in this order: id ("sha256:<hex>"), tag, repo digest,
 * then a unique id prefix ("<hex prefix>" or "sha256:<hex prefix>", at least
 * STORE_ID_PREFIX_MIN hex chars). References must be normalized by the
 * caller ("busybox" -> "docker.io/library/busybox:latest"). */
#define STORE_ID_PREFIX_MIN 3
int store_image_find(struct store *s, const char *ref, struct store_image **ret);
/* Every image (filter NULL) or those store_image_find(filter) finds. */
int store_image_list(struct store *s, const char *filter, struct store_image ***ret_v,
		     size_t *ret_n);
/* Removes the image and all its tags and repo digests (-ENOENT if none).
 * Its content stays until store_gc. */
int store_image_remove(struct store *s, const char *id);

/* ---- leases (store_lease.c) ------------------------------------------- */

/*
 * A pull, with leases:
 *   store_lease_create(s, "pull-<n>", "pull <ref>", STORE_LEASE_TEMPORARY)
 *   per blob: store_blob_exists() == 1 && store_lease_add_blob() == 0
 *             (present and now held; -ENOENT: GC took it in between), else
 *             store_inflight_join(store_flight_key_blob()) and, leading,
 *             download with store_blob_begin(..., lease) ... commit
 *   per layer: the same with store_layer_exists / store_lease_add_layer /
 *             store_flight_key_layer / store_layer_begin ... commit(..., lease)
 *   store_image_put(), then store_lease_release(s, "pull-<n>").
 * If imaged dies on the way, the temporary lease is dropped at the next
 * open and GC takes what only it held.
 */

enum store_lease_flags {
	/* dropped at the next store_open: for a pull in progress */
	STORE_LEASE_TEMPORARY = 1u << 0,
};

struct store_lease_info {
	char *id;
	char *holder;
	unsigned flags;
	int64_t created;
	uint64_t n_blobs;
	uint64_t n_layers;
};

#define STORE_LEASE_ID_MAX 256
#define STORE_LEASE_HOLDER_MAX 1024

/* -EEXIST if the id is taken. */
int store_lease_create(struct store *s, const char *id, const char *holder, unsigned flags);
/* Holds every blob and layer the image has now. */
int store_lease_add_image(struct store *s, const char *lease, const char *image_id);
/* Holds one blob / layer that is in the store (-ENOENT if not). */
int store_lease_add_blob(struct store *s, const char *lease, const char *digest);
int store_lease_add_layer(struct store *s, const char *lease, const char *chain_id);
/* Drops the lease (-ENOENT if none); what it held goes at the next GC. */
int store_lease_release(struct store *s, const char *lease);
int store_lease_list(struct store *s, struct store_lease_info **ret_v, size_t *ret_n);
void store_lease_list_free(struct store_lease_info *v, size_t n);

/* ---- GC and usage (store_gc.c, store_usage.c) -------------------------- */

/* Removes every blob and layer no image and no lease holds. stats may be
 * NULL. */
int store_gc(struct store *s, struct store_gc_stats *ret_stats);

struct store_usage {
	uint64_t bytes;                 /* st_blocks * 512 under ROOT/images */
	uint64_t inodes;                /* each inode once */
	int64_t timestamp_ns;           /* CLOCK_REALTIME of the walk */
};
/* Walks ROOT/images; a result younger than STORE_USAGE_CACHE_MS is reused
 * unless the store changed since. */
#define STORE_USAGE_CACHE_MS 2000
int store_usage(struct store *s, struct store_usage *ret);

/* ---- one download per key (store_inflight.c) -------------------------- */

struct store_flight;

/* The first caller for `key` becomes the leader: returns 1 and sets
 * *ret_flight; it does the work and must call store_inflight_done. Later
 * callers wait (at most timeout_ms, <= 0: no limit; -ETIMEDOUT) for the
 * leader and return 0 with *ret_result = the leader's result. */
int store_inflight_join(struct store *s, const char *key, int64_t timeout_ms,
			struct store_flight **ret_flight, int *ret_result);
void store_inflight_done(struct store *s, struct store_flight *f, int result);

/* The flight key of a blob download ("blob:<digest>") and of a layer unpack
 * ("layer:<chain id>"). Everyone who joins a flight builds its key with
 * these, so that an import and a pull of the same layer share one unpack,
 * and a base layer's chain id (the digest of its uncompressed blob) never
 * meets that blob's download. */
#define STORE_FLIGHT_KEY_SIZE (sizeof "layer:" - 1 + DIGEST_STR_SIZE)
void store_flight_key_blob(const char *digest, char ret_key[STORE_FLIGHT_KEY_SIZE]);
void store_flight_key_layer(const char *chain_id, char ret_key[STORE_FLIGHT_KEY_SIZE]);
