/*
 * oci_layout: the OCI image layout (image-spec image-layout.md) as a tar
 * stream through an fd, for imaged's import and export:
 *
 *   oci-layout              {"imageLayoutVersion": "1.0.0"}
 *   index.json              an image index; each entry's annotation
 *                           org.opencontainers.image.ref.name names it
 *   blobs/sha256/<hex>      content by digest
 *
 * Reading (oci_layout_read.c) streams each blob entry straight into the
 * content store, checked against the digest its name says (store_blob_*),
 * and keeps only oci-layout and index.json in memory. It never creates a
 * path that came from the archive: an entry is either one of the three
 * kinds above (a regular file), a directory (ignored), another file of a
 * known kind or name (ignored, e.g. docker save's manifest.json), or an
 * error: a name that is absolute, has a ".." component or is not clean
 * text; a link or device where a blob or index must be; a blob name that
 * is not a sha256 digest; content that does not match its digest.
 *
 * Writing (oci_layout_write.c) puts images from the store into a layout:
 * the manifest, config and layer blobs each once, an index entry per tag
 * (ref.name is the full normalised reference, as containerd writes it).
 * An image pulled through an index (its repo digest names an index blob it
 * holds that lists its manifest) is written with that index as the entry,
 * so that an import gives it the same repo digest again.
 *
 * The JSON side (oci_layout_json.c) reads index.json, image indexes,
 * manifests and configs into checked descriptors (digests become file
 * names in the store: they are checked character by character) and
 * writes index.json.
 *
 * Caps on everything the archive controls (OCI_*_MAX). Never logs; errors
 * are a gRPC code and a message for the user in struct oci_error.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "imaged/digest.h"
#include "imaged/registry.h"

struct store;
struct store_image;

#define OCI_LAYOUT_FILE     "oci-layout"
#define OCI_INDEX_FILE      "index.json"
#define OCI_BLOBS_DIR       "blobs/sha256/"
#define OCI_LAYOUT_VERSION  "1.0.0"
#define OCI_ANN_REF_NAME    "org.opencontainers.image.ref.name"
#define OCI_ANN_CTRD_NAME   "io.containerd.image.name"
#define OCI_MT_CONFIG       "application/vnd.oci.image.config.v1+json"
#define OCI_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

#define OCI_JSON_MAX        (4u * 1024u * 1024u)    /* index.json, manifests, configs */
#define OCI_LAYOUT_FILE_MAX 4096u                   /* the oci-layout file */
#define OCI_ENTRIES_MAX     100000u                 /* tar entries of one archive */
#define OCI_NAME_MAX        4096u                   /* bytes of an entry name */
#define OCI_INDEX_ENTRIES_MAX REGISTRY_LAYERS_MAX  /* manifests in an index */
#define OCI_BLOB_MAX_DEFAULT (64ull << 30)          /* any blob */
#define OCI_MSG_MAX         512

struct oci_error {
	int code;                       /* enum crisp_status */
	char msg[OCI_MSG_MAX];
};

/* Fills err (if not NULL) and returns errnum (negative). */
int oci_fail(struct oci_error *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* For the archive callbacks (oci_layout_fd.c): waits until fd is ready for
 * events (POLLIN / POLLOUT), looking at cancel (may be NULL) every 200 ms:
 * 0 when it is, -1 with a's error set when poll fails or cancel is set
 * (then *ret_cancelled is set too). */
struct archive;
int oci_fd_wait(struct archive *a, int fd, short events, const atomic_bool *cancel,
		bool *ret_cancelled);

/* ---- JSON (oci_layout_json.c) ------------------------------------------ */

struct oci_index_entry {
	struct registry_descriptor d;
	char *ref_name;                 /* OCI ref.name annotation, or NULL */
	char *image_name;               /* io.containerd.image.name, or NULL */
	bool has_platform;
	struct registry_platform platform;
};

struct oci_index {
	char media_type[REGISTRY_MEDIA_TYPE_MAX];   /* its own; OCI index when unsaid */
	struct oci_index_entry *v;
	size_t n;
};

struct oci_manifest {
	struct registry_descriptor config;
	struct registry_descriptor *layers;     /* bottom first */
	size_t n_layers;
};

struct oci_config {
	struct digest *diff_ids;        /* rootfs.diff_ids, bottom first */
	size_t n_diff_ids;
	char *user;                     /* config.User, or NULL */
};

bool oci_is_index_type(const char *media_type);
bool oci_is_manifest_type(const char *media_type);

/* index.json or an image index / manifest list blob. */
int oci_index_parse(const char *buf, size_t len, struct oci_index *ret, struct oci_error *err);
void oci_index_clear(struct oci_index *idx);
/* The entry of idx for platform p (os and architecture equal; the variant
 * too when both name one); NULL if none. */
const struct oci_index_entry *oci_index_pick(const struct oci_index *idx,
					     const struct registry_platform *p);
/* An OCI image manifest or Docker schema2 manifest. */
int oci_manifest_parse(const char *buf, size_t len, struct oci_manifest *ret,
		       struct oci_error *err);
void oci_manifest_clear(struct oci_manifest *m);
int oci_config_parse(const char *buf, size_t len, struct oci_config *ret, struct oci_error *err);
void oci_config_clear(struct oci_config *c);
/* "oci-layout": {"imageLayoutVersion": "1.x.y"}. */
int oci_layout_file_check(const char *buf, size_t len, struct oci_error *err);

/* index.json for entries (ref_name/image_name NULL: no annotations),
 * malloc'ed, NUL-terminated. */
int oci_index_build(const struct oci_index_entry *v, size_t n, char **ret_buf,
		    size_t *ret_len);

/* ---- reading a layout tar into the store (oci_layout_read.c) ------------ */

struct oci_read_options {
	uint64_t max_blob_size;         /* 0: OCI_BLOB_MAX_DEFAULT */
	const char *lease;              /* every blob read is added to it (GC) */
	const atomic_bool *cancel;      /* checked between reads: CANCELLED */
};

struct oci_layout_in {
	char *index;                    /* index.json, NUL-terminated */
	size_t index_len;
	uint64_t entries;               /* tar entries seen */
	uint64_t blobs;                 /* blob entries stored (or already there) */
	uint64_t bytes;                 /* blob bytes read */
};

/* Reads the tar stream on fd to its end. Every blob goes into the store
 * (and the lease); ret gets index.json. oci-layout and index.json must be
 * there. */
int oci_layout_read(struct store *s, int fd, const struct oci_read_options *o,
		    struct oci_layout_in *ret, struct oci_error *err);
void oci_layout_in_clear(struct oci_layout_in *in);

/* What an entry name is (exposed for the unit tests). */
enum oci_entry_kind {
	OCI_ENTRY_BAD = -1,             /* refused: absolute, "..", not clean text */
	OCI_ENTRY_OTHER = 0,            /* ignored */
	OCI_ENTRY_LAYOUT,
	OCI_ENTRY_INDEX,
	OCI_ENTRY_BLOB,                 /* ret_digest set */
	OCI_ENTRY_BAD_BLOB,             /* under blobs/sha256/ but not a digest */
};
enum oci_entry_kind oci_entry_classify(const char *name, char ret_digest[DIGEST_STR_SIZE]);

/* ---- writing images as a layout tar (oci_layout_write.c) ----------------- */

struct oci_write_options {
	const atomic_bool *cancel;
};

/* Writes images (with their repo tags as ref names) to fd as one layout;
 * ret_bytes (may be NULL) gets the bytes written. */
int oci_layout_write(struct store *s, int fd, struct store_image *const *images, size_t n,
		     const struct oci_write_options *o, uint64_t *ret_bytes,
		     struct oci_error *err);
