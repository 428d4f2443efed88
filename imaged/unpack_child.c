/*
 * unpack_child: the child side of unpack_spawn, imaged's hidden mode
 *   imaged --unpack-child LAYER_DIR COMPRESSION [key=value ...]
 * with the blob on fd 0 and the status pipe on fd 3. Parses its arguments
 * strictly, closes every other fd, confines itself (unpack_confine.c),
 * unpacks into "/" (which is LAYER_DIR by then) and writes one struct
 * unpack_status on fd 3. Also owns the key=value form of the limits.
 * Must never: run anything from the layer, log (the parent does), or do
 * anything before the confinement that a hostile layer can influence (the
 * blob is not read until the sandbox is complete).
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "imaged/unpack_int.h"

static const struct {
	const char *key;
	size_t off;
	bool u32;
} limit_keys[UNPACK_LIMIT_KEYS] = {
	{ "max-tar-size", offsetof(struct unpack_limits, max_tar_size), false },
	{ "max-ratio", offsetof(struct unpack_limits, max_ratio), false },
	{ "ratio-floor", offsetof(struct unpack_limits, ratio_floor), false },
	{ "max-entries", offsetof(struct unpack_limits, max_entries), false },
	{ "max-path", offsetof(struct unpack_limits, max_path), true },
	{ "max-link", offsetof(struct unpack_limits, max_link), true },
	{ "max-xattrs", offsetof(struct unpack_limits, max_xattrs), true },
	{ "max-xattr-size", offsetof(struct unpack_limits, max_xattr_size), true },
};

int unpack_limits_format(const struct unpack_limits *l, char buf[UNPACK_LIMIT_KEYS][48])
{
	for (size_t i = 0; i < UNPACK_LIMIT_KEYS; i++) {
		const char *p = (const char *)l + limit_keys[i].off;
		unsigned long long v;
		if (limit_keys[i].u32)
			v = *(const uint32_t *)(const void *)p;
		else
			v = *(const uint64_t *)(const void *)p;
		int n = snprintf(buf[i], 48, "%s=%llu", limit_keys[i].key, v);
		if (n < 0 || n >= 48)
			return -ENAMETOOLONG;
	}
	return 0;
}

int unpack_limits_parse_arg(struct unpack_limits *l, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq[1] < '0' || eq[1] > '9')
		return -EINVAL;
	for (size_t i = 0; i < UNPACK_LIMIT_KEYS; i++) {
		size_t klen = strlen(limit_keys[i].key);
		if ((size_t)(eq - arg) != klen || strncmp(arg, limit_keys[i].key, klen))
			continue;
		char *end;
		errno = 0;
		unsigned long long v = strtoull(eq + 1, &end, 10);
		if (errno || *end || (limit_keys[i].u32 && v > UINT32_MAX))
			return -EINVAL;
		char *p = (char *)l + limit_keys[i].off;
		if (limit_keys[i].u32)
			*(uint32_t *)(void *)p = (uint32_t)v;
		else
			*(uint64_t *)(void *)p = v;
		return 0;
	}
	return -EINVAL;
}

struct child_args {
	const char *dir;
	enum unpack_compression comp;
	struct unpack_limits lim;
};

static int args_parse(int argc, char **argv, struct child_args *ret,
		      struct unpack_error *err)
{
	if (argc < 4 || strcmp(argv[1], UNPACK_CHILD_ARG) != 0)
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EINVAL,
				   "usage: %s LAYER_DIR COMPRESSION [key=value...]",
				   UNPACK_CHILD_ARG);
	ret->dir = argv[2];
	if (unpack_compression_parse(argv[3], &ret->comp) < 0)
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EINVAL,
				   "unknown compression %.32s", argv[3]);
	unpack_limits_default(&ret->lim);
	for (int i = 4; i < argc; i++)
		if (unpack_limits_parse_arg(&ret->lim, argv[i]) < 0)
			return unpack_fail(err, UNPACK_ERR_SYSTEM, EINVAL,
					   "bad argument %.64s", argv[i]);
	return 0;
}

/* Only fds 0 (blob), 1, 2 and 3 (status) stay open. 1 and 2 stay for
 * libc's last words; when missing or a directory they become copies of the
 * read-only blob fd, so that nothing we open later lands on them. */
static int fds_check(struct unpack_error *err)
{
	if (close_range(UNPACK_STATUS_FD + 1, ~0U, 0) < 0)
		return unpack_fail_errno(err, errno, "close_range");
	struct stat st;
	if (fstat(0, &st) < 0 || S_ISDIR(st.st_mode))
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EBADF, "the blob fd 0 is missing");
	if (fstat(UNPACK_STATUS_FD, &st) < 0 || S_ISDIR(st.st_mode))
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EBADF, "the status fd is missing");
	for (int fd = 1; fd <= 2; fd++)
		if ((fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) && dup2(0, fd) < 0)
			return unpack_fail_errno(err, errno, "dup2");
	return 0;
}

/* Loads what would otherwise be read from the layer after the chroot:
 * OpenSSL's configuration and digest provider, and the C.UTF-8 locale (pax
 * names are UTF-8: with a UTF-8 locale libarchive converts nothing, so glibc
 * never goes looking for gconv modules). */
static int preload(struct unpack_error *err)
{
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "C");

	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;
	if (EVP_Digest("", 0, md, &len, EVP_sha256(), NULL) != 1)
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EIO, "OpenSSL sha256 unavailable");
	return 0;
}

static void status_write(const struct unpack_result *res, const struct unpack_error *err)
{
	struct unpack_status st = {
		.magic = UNPACK_STATUS_MAGIC,
		.code = (uint32_t)err->code,
		.err = err->err,
	};
	if (err->code == UNPACK_OK) {
		st.tar_size = res->tar_size;
		st.compressed_size = res->compressed_size;
		st.entries = res->entries;
		st.xattrs_skipped = res->xattrs_skipped;
		memcpy(st.diff_id, res->diff_id, sizeof st.diff_id);
	} else {
		memcpy(st.msg, err->msg, sizeof st.msg);
	}
	ssize_t n;
	do
		n = write(UNPACK_STATUS_FD, &st, sizeof st);
	while (n < 0 && errno == EINTR);
}

int unpack_child_main(int argc, char **argv)
{
	struct child_args args;
	struct unpack_error err = { 0 };
	struct unpack_result res = { 0 };
	bool pivoted;
	umask(0);
	int r = args_parse(argc, argv, &args, &err);
	if (r == 0)
		r = fds_check(&err);
	if (r == 0)
		r = preload(&err);
	if (r == 0)
		r = unpack_confine_root(args.dir, &pivoted, &err);
	if (r == 0)
		r = unpack_confine_sandbox(&err);
	int root = -1;
	if (r == 0) {
		root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			r = unpack_fail_errno(&err, errno, "opening /");
	}
	if (r == 0)
		r = unpack_layer(root, 0, args.comp, &args.lim, &res, &err);
	if (r < 0 && err.code == UNPACK_OK)
		unpack_fail(&err, UNPACK_ERR_SYSTEM, r, "unpack failed");
	status_write(&res, &err);
	if (root >= 0)
		close(root);
	return r < 0 ? 1 : 0;
}
