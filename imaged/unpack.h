/*
 * unpack: turning one image layer blob (tar, tar+gzip or tar+zstd) into a
 * directory that overlayfs can use as a lower layer, safely.
 *
 * Owns: decompression (zlib, libzstd: our own streaming, so that the diff_id
 * (sha256 of the uncompressed tar) is computed over exactly the bytes that
 * libarchive parses, and so that the size and expansion caps are counted
 * exactly); tar parsing (libarchive, formats ustar/gnu/pax only, no filters);
 * writing every entry relative to the layer's root fd with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) for the
 * parent directory and never following the final component; converting OCI
 * whiteouts into the form overlayfs reads; the confined child process that
 * does all of this; and a safe recursive remove.
 *
 * Must never: write, chmod, chown or set times on anything outside the layer
 * root; follow the final component of an entry's path; keep a trusted.* or
 * *.overlay.* xattr that came from the layer (the layer must not steer
 * overlayfs); set inode flags (immutable, append-only): whatever a failed
 * unpack leaves behind is removable with unpack_remove_tree.
 *
 * Whiteouts and opaque directories (the choice the issue asks for):
 *   .wh.NAME       -> NAME as a character device 0/0 (needs CAP_MKNOD).
 *   .wh..wh..opq   -> the directory gets the xattr user.overlay.opaque=y.
 * We write user.overlay.opaque, not trusted.overlay.opaque, so that the
 * unpacking child needs no CAP_SYS_ADMIN (trusted.* xattrs need it, and
 * CAP_SYS_ADMIN is the capability that is nearly root). The cost: every
 * overlay mount of these layers must pass the mount option "userxattr"
 * (UNPACK_OVERLAY_OPTS below; kernel >= 5.11; tested here on 6.18 with a
 * root-mounted overlay in the initial user namespace, read-only and with an
 * upper dir). userxattr also turns off redirect_dir and metacopy, features a
 * layer must not steer anyway. Without userxattr the opaque mark is ignored
 * and lower entries show through (a unit test checks both).
 *
 * Layer xattrs kept: user.* (but never user.overlay.*), security.capability,
 * system.posix_acl_access/default. Dropped (counted in xattrs_skipped):
 * trusted.*, security.* other than capability (security.selinux is the
 * runtime's business), anything else. Xattrs on symlinks and device nodes
 * are dropped too (Linux allows no user.* there).
 *
 * Errors come back as struct unpack_error: a class (what the CRI answer
 * should be), the errno, and a message naming the entry.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Overlay mount option every user of these layers must pass (see above). */
#define UNPACK_OVERLAY_OPTS "userxattr"
#define UNPACK_OPAQUE_XATTR "user.overlay.opaque"

/* The hidden mode of imaged's own binary that runs unpack_child_main. */
#define UNPACK_CHILD_ARG "--unpack-child"

/* "sha256:" + 64 hex + NUL */
#define UNPACK_DIGEST_LEN 72
#define UNPACK_MSG_LEN 256

enum unpack_compression {
	UNPACK_COMP_AUTO = 0,   /* sniff the magic bytes */
	UNPACK_COMP_NONE,
	UNPACK_COMP_GZIP,
	UNPACK_COMP_ZSTD,
};

enum unpack_code {
	UNPACK_OK = 0,
	UNPACK_ERR_INVALID,     /* malformed or hostile layer: INVALID_ARGUMENT */
	UNPACK_ERR_LIMIT,       /* a cap was hit, or the disk is full: RESOURCE_EXHAUSTED */
	UNPACK_ERR_SYSTEM,      /* local failure (I/O, permissions, child died): INTERNAL */
};

struct unpack_error {
	enum unpack_code code;
	int err;                /* negative errno */
	char msg[UNPACK_MSG_LEN];
};

/* Caps on everything the layer controls. unpack_limits_default fills them.
 * max_tar_size also caps the blob's own size and each file's size (a sparse
 * file's holes included). Every cap hit is UNPACK_ERR_LIMIT. */
struct unpack_limits {
	uint64_t max_tar_size;   /* uncompressed tar bytes (default 8 GiB) */
	uint64_t max_ratio;      /* uncompressed / compressed (default 100) ... */
	uint64_t ratio_floor;    /* ... checked once past this many bytes (64 MiB) */
	uint64_t max_entries;    /* tar entries (default 1,000,000) */
	uint32_t max_path;       /* bytes of an entry or hardlink name (4095) */
	uint32_t max_link;       /* bytes of a symlink target (4095) */
	uint32_t max_xattrs;     /* distinct xattrs on one entry (128) */
	uint32_t max_xattr_size; /* bytes of one xattr value (65536) */
};

struct unpack_result {
	char diff_id[UNPACK_DIGEST_LEN]; /* "sha256:<hex>" of the uncompressed tar */
	uint64_t tar_size;              /* uncompressed bytes */
	uint64_t compressed_size;       /* blob bytes read */
	uint64_t entries;
	uint64_t xattrs_skipped;
};

void unpack_limits_default(struct unpack_limits *ret);

/* "tar"/"none", "gzip", "zstd", "auto" <-> enum. */
int unpack_compression_parse(const char *s, enum unpack_compression *ret);
const char *unpack_compression_name(enum unpack_compression c);
/* An OCI or Docker layer media type -> compression; -EPROTONOSUPPORT if unknown. */
int unpack_compression_from_media_type(const char *media_type, enum unpack_compression *ret);

/*
 * Unpacks the blob read from blob_fd (from its current offset to EOF) into
 * the directory root_fd, in this process. root_fd may be O_PATH. Nothing is
 * confined here: callers want unpack_spawn, which runs this in the child.
 * lim may be NULL (defaults). Returns 0, or negative errno with *err filled.
 */
int unpack_layer(int root_fd, int blob_fd, enum unpack_compression comp,
		 const struct unpack_limits *lim, struct unpack_result *ret,
		 struct unpack_error *err);

/*
 * Removes dirfd/name and everything under it without following symlinks and
 * without holding one fd per level (deep trees are fine). ENOENT is success.
 * Needs the power to remove what is there (imaged: root, CAP_DAC_OVERRIDE).
 */
int unpack_remove_tree(int dirfd, const char *name);

/* The parent side: fork+exec (posix_spawn) of exe UNPACK_CHILD_ARG ... */
struct unpack_spawn {
	const char *exe;        /* NULL: "/proc/self/exe" (imaged itself) */
	const char *layer_dir;  /* absolute path of the (empty, temporary) layer dir */
	int blob_fd;            /* becomes the child's stdin */
	enum unpack_compression comp;
	const struct unpack_limits *limits; /* NULL: defaults */
};

struct unpack_child {
	pid_t pid;
	int status_fd;          /* read end of the child's fd 3 */
};

int unpack_spawn_start(const struct unpack_spawn *s, struct unpack_child *ret,
		       struct unpack_error *err);
/* Waits for the status (timeout_ms <= 0: no timeout; then the child is killed)
 * and reaps the child. Always consumes c. */
int unpack_spawn_finish(struct unpack_child *c, int timeout_ms,
			struct unpack_result *ret, struct unpack_error *err);
int unpack_spawn(const struct unpack_spawn *s, int timeout_ms,
		 struct unpack_result *ret, struct unpack_error *err);

/*
 * The child: imaged's main calls this when argv[1] is UNPACK_CHILD_ARG,
 * before anything else (no config, no threads). Returns the exit status.
 *   argv: exe --unpack-child LAYER_DIR COMPRESSION [key=value ...]
 *   fd 0: the blob; fd 3: the status pipe (one struct, then close).
 */
int unpack_child_main(int argc, char **argv);
