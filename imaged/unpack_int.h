/*
 * unpack_int: what the unpack_*.c files share and nobody else uses: the
 * decompressing stream, the normalized entry path, the per-layer context and
 * the error helpers. Not for other modules: they use unpack.h.
 */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <zlib.h>
#include "imaged/unpack.h"

#define UNPACK_CHUNK (128u * 1024u)     /* read and decompress in this size */
#define UNPACK_NAME_MAX 255             /* one path component */
#define UNPACK_PATH_BUF 4096            /* max_path can never exceed this - 1 */
#define UNPACK_DEFER_MAX (64u << 20)    /* bytes of paths kept for dir times */

/* ---- errors ---- */
int unpack_fail(struct unpack_error *err, enum unpack_code code, int errnum,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The class a failing syscall's errno belongs to (ENOSPC is a LIMIT, ...). */
enum unpack_code unpack_errno_code(int errnum);
/* unpack_fail with the class from errnum; the message gets ": strerror". */
int unpack_fail_errno(struct unpack_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- the stream: blob fd -> decompressed tar bytes, hashed and counted ---- */
struct unpack_stream {
	int fd;
	enum unpack_compression comp;
	const struct unpack_limits *lim;
	z_stream z;
	bool z_live;
	void *zstd;             /* ZSTD_DCtx */
	size_t zstd_last;       /* last ZSTD_decompressStream hint (0: frame done) */
	bool zstd_full;         /* the last call filled the output buffer */
	void *sha;              /* EVP_MD_CTX */
	unsigned char *in, *out;
	size_t in_len, in_pos;
	bool in_eof, done;
	uint64_t compressed, uncompressed;
};

int unpack_stream_open(struct unpack_stream *s, int fd, enum unpack_compression comp,
		       const struct unpack_limits *lim, struct unpack_error *err);
/* > 0: bytes at *ret_buf (valid until the next call); 0: end; < 0: failed. */
ssize_t unpack_stream_read(struct unpack_stream *s, const void **ret_buf,
			   struct unpack_error *err);
/* Reads (hashing) to the end: the diff_id covers the padding after the tar. */
int unpack_stream_drain(struct unpack_stream *s, struct unpack_error *err);
void unpack_stream_digest(struct unpack_stream *s, char ret[UNPACK_DIGEST_LEN]);
void unpack_stream_close(struct unpack_stream *s);

/* ---- entry paths ---- */
struct unpack_path {
	char parent[UNPACK_PATH_BUF];   /* "a/b", "" for the root dir */
	char name[UNPACK_NAME_MAX + 1]; /* "c"; "" when the entry is the root */
	bool is_root;
};

/* Normalizes a tar name: leading '/' and "." components dropped, ".."
 * refused (never clamped: a layer that says ".." is hostile). */
int unpack_path_parse(const char *raw, uint32_t max, struct unpack_path *ret,
		      struct unpack_error *err);
int unpack_path_join(const struct unpack_path *p, char *buf, size_t len);

/* ---- the layer being written ---- */
struct unpack_dirtime {
	char *path;
	struct timespec ts[2];
};

struct unpack_ctx {
	int root_fd;
	const struct unpack_limits *lim;
	struct unpack_stream stream;
	struct unpack_error *err;
	bool stream_failed;     /* err was filled by the stream, not libarchive */
	struct unpack_dirtime *dirs;
	size_t n_dirs, cap_dirs, dir_bytes;
	uint64_t entries, xattrs_skipped;
};

/* The metadata of one entry, taken from libarchive once and checked. */
struct unpack_xattr {
	const char *name;
	const void *value;
	size_t size;
};

struct unpack_meta {
	mode_t type;            /* S_IFREG, S_IFDIR, ... */
	mode_t perm;            /* & 07777 */
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	int64_t size;
	struct timespec ts[2];  /* atime, mtime; UTIME_OMIT when absent */
	const char *link;       /* symlink target */
	struct unpack_xattr *xattrs;
	size_t n_xattrs;
};

/* openat2 below root with the RESOLVE_* set of this module. */
int unpack_openat2(int root_fd, const char *path, int flags);
/* An O_PATH fd of p's parent directory, resolved inside the root; with
 * create, missing directories are made (0755, root) one by one. */
int unpack_open_parent(struct unpack_ctx *c, const struct unpack_path *p, bool create,
		       int *ret_fd);
/* Makes room for a new entry at parent/name: unlinks a non-directory, and a
 * directory too unless keep_dir. Sets *ret_is_dir when a directory stays. */
int unpack_clear(struct unpack_ctx *c, int parent, const char *name, bool keep_dir,
		 bool *ret_is_dir);

/* One writer per entry kind (unpack_write.c); data is read from a. */
struct archive;
/* The error of a failed libarchive call: the stream's own when it failed. */
int unpack_archive_fail(struct unpack_ctx *c, struct archive *a, const char *what);
int unpack_write_file(struct unpack_ctx *c, struct archive *a, const struct unpack_path *p,
		      const struct unpack_meta *m);
int unpack_write_dir(struct unpack_ctx *c, const struct unpack_path *p,
		     const struct unpack_meta *m);
int unpack_write_symlink(struct unpack_ctx *c, const struct unpack_path *p,
			 const struct unpack_meta *m);
int unpack_write_node(struct unpack_ctx *c, const struct unpack_path *p,
		      const struct unpack_meta *m);
int unpack_write_hardlink(struct unpack_ctx *c, const struct unpack_path *p,
			  const struct unpack_path *target);
int unpack_apply_dirtimes(struct unpack_ctx *c);
void unpack_free_dirtimes(struct unpack_ctx *c);

/* Whiteouts (unpack_whiteout.c). 1: p was a whiteout and is handled; 0: not one. */
int unpack_whiteout(struct unpack_ctx *c, const struct unpack_path *p);

/* ---- the child (unpack_confine.c, unpack_child.c, unpack_spawn.c) ---- */
/* Namespaces and the layer as "/" (pivot_root, or chroot when the parent
 * is Landlocked: *ret_pivoted says which). */
int unpack_confine_root(const char *dir, bool *ret_pivoted, struct unpack_error *err);
/* Capabilities, no_new_privs, seccomp. */
int unpack_confine_sandbox(struct unpack_error *err);

#define UNPACK_STATUS_FD 3
#define UNPACK_STATUS_MAGIC 0x314b5055u /* "UPK1" */

/* The one message the child writes on its status fd (< PIPE_BUF: atomic). */
struct unpack_status {
	uint32_t magic;
	uint32_t code;          /* enum unpack_code */
	int32_t err;
	uint32_t reserved;
	uint64_t tar_size, compressed_size, entries, xattrs_skipped;
	char diff_id[UNPACK_DIGEST_LEN];
	char msg[UNPACK_MSG_LEN];
};

/* The limits as the child's key=value arguments, and back. */
#define UNPACK_LIMIT_KEYS 8
int unpack_limits_format(const struct unpack_limits *l, char buf[UNPACK_LIMIT_KEYS][48]);
int unpack_limits_parse_arg(struct unpack_limits *l, const char *arg);
