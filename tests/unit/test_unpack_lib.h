/*
 * test_unpack_lib: helpers shared by the unpack unit tests: writing tars
 * with libarchive, compressing them (gzip, zstd), unpacking a file into a
 * directory (in process or through the confined child), snapshots of a tree
 * (to prove nothing outside a root changed) and the hostile cases generated
 * by tests/hostile/gen_layers.py.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "imaged/unpack.h"

struct archive;

struct tl_xattr {
	const char *name;
	const void *value;
	size_t size;
};

struct tl_entry {
	const char *name;
	mode_t type;            /* S_IFREG (default when 0), S_IFDIR, ... */
	mode_t mode;            /* permission bits */
	uid_t uid;
	gid_t gid;
	int64_t mtime, atime;   /* atime 0: none */
	long mtime_ns;
	const char *data;       /* regular files */
	size_t size;
	const char *link;       /* symlink target */
	const char *hardlink;   /* hardlink target */
	unsigned major, minor;
	struct tl_xattr xattrs[4];
};

/* pax tar at path; tl_add for each entry; tl_close finishes it. */
struct archive *tl_tar_open(const char *path);
void tl_add(struct archive *a, const struct tl_entry *e);
void tl_close(struct archive *a);

/* in -> out, gzip (zlib, gzip framing) or zstd. */
void tl_gzip_file(const char *in, const char *out);
void tl_zstd_file(const char *in, const char *out);
/* "sha256:<hex>" of a file. */
void tl_sha256_file(const char *path, char ret[UNPACK_DIGEST_LEN]);

/* Unpacks blob into dir: in this process, or through unpack_spawn with the
 * unit test binary itself as the child (see test_unpack_child.c). */
int tl_unpack(const char *dir, const char *blob, enum unpack_compression comp,
	      const struct unpack_limits *lim, bool child, struct unpack_result *ret,
	      struct unpack_error *err);
int tl_unpack_fd(const char *dir, int blob_fd, enum unpack_compression comp,
		 const struct unpack_limits *lim, bool child, struct unpack_result *ret,
		 struct unpack_error *err);

/* A text listing of the tree at dir (types, modes, owners, sizes, times,
 * content hashes, link targets, xattrs), leaving out the subtrees named in
 * skip (NULL-terminated, relative to dir). malloc'd. */
char *tl_snapshot(const char *dir, const char *const *skip);

/* The path of tests/hostile/gen_layers.py (via $CRISP_SRCDIR, the cwd or
 * the test binary's location). */
const char *tl_hostile_script(void);

/* Small file helpers; they CHECK and exit on failure. */
void tl_write_file(const char *path, const void *data, size_t len);
char *tl_read_file(const char *path, size_t *ret_len);
void tl_path(char *buf, size_t len, const char *dir, const char *name);
