/*
 * unpack_common: the small shared pieces of unpack: default limits, the
 * compression names and media types, error filling (messages made
 * printable: they reach logs and CRI answers), and the normalization of the
 * names found in a tar. Must never touch the filesystem.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "imaged/unpack_int.h"

void unpack_limits_default(struct unpack_limits *ret)
{
	*ret = (struct unpack_limits){
		.max_tar_size = UINT64_C(8) << 30,
		.max_ratio = 100,
		.ratio_floor = UINT64_C(64) << 20,
		.max_entries = 1000000,
		.max_path = UNPACK_PATH_BUF - 1,
		.max_link = UNPACK_PATH_BUF - 1,
		.max_xattrs = 128,
		.max_xattr_size = 65536,
	};
}

static const char *const comp_names[] = {
	[UNPACK_COMP_AUTO] = "auto",
	[UNPACK_COMP_NONE] = "tar",
	[UNPACK_COMP_GZIP] = "gzip",
	[UNPACK_COMP_ZSTD] = "zstd",
};

int unpack_compression_parse(const char *s, enum unpack_compression *ret)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "none")) {
		*ret = UNPACK_COMP_NONE;
		return 0;
	}
	for (size_t i = 0; i < sizeof comp_names / sizeof comp_names[0]; i++)
		if (!strcmp(s, comp_names[i])) {
			*ret = (enum unpack_compression)i;
			return 0;
		}
	return -EINVAL;
}

const char *unpack_compression_name(enum unpack_compression c)
{
	if ((unsigned)c >= sizeof comp_names / sizeof comp_names[0])
		return "?";
	return comp_names[c];
}

static const struct {
	const char *media_type;
	enum unpack_compression comp;
} media_types[] = {
	{ "application/vnd.oci.image.layer.v1.tar", UNPACK_COMP_NONE },
	{ "application/vnd.oci.image.layer.v1.tar+gzip", UNPACK_COMP_GZIP },
	{ "application/vnd.oci.image.layer.v1.tar+zstd", UNPACK_COMP_ZSTD },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar", UNPACK_COMP_NONE },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", UNPACK_COMP_GZIP },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", UNPACK_COMP_ZSTD },
	{ "application/vnd.docker.image.rootfs.diff.tar", UNPACK_COMP_NONE },
	{ "application/vnd.docker.image.rootfs.diff.tar.gzip", UNPACK_COMP_GZIP },
	{ "application/vnd.docker.image.rootfs.diff.tar.zstd", UNPACK_COMP_ZSTD },
	{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", UNPACK_COMP_GZIP },
};

int unpack_compression_from_media_type(const char *media_type, enum unpack_compression *ret)
{
	if (!media_type)
		return -EINVAL;
	for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++)
		if (!strcmp(media_type, media_types[i].media_type)) {
			*ret = media_types[i].comp;
			return 0;
		}
	return -EPROTONOSUPPORT;
}

enum unpack_code unpack_errno_code(int errnum)
{
	switch (errnum < 0 ? -errnum : errnum) {
	case ENOSPC: case EDQUOT: case EFBIG: case ENOMEM: case EMFILE:
	case ENFILE: case EMLINK:
		return UNPACK_ERR_LIMIT;
	case ELOOP: case EXDEV: case ENOTDIR: case ENAMETOOLONG: case EINVAL:
	case EEXIST: case ENOENT: case EISDIR: case ENOTEMPTY: case ERANGE:
	case E2BIG:
		return UNPACK_ERR_INVALID;
	default:
		return UNPACK_ERR_SYSTEM;
	}
}

static void make_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static int vfail(struct unpack_error *err, enum unpack_code code, int errnum,
		 bool with_strerror, const char *fmt, va_list ap)
{
	int e = errnum < 0 ? -errnum : errnum;
	if (e == 0)
		e = EIO;
	err->code = code;
	err->err = -e;
	int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	if (with_strerror && n >= 0 && (size_t)n < sizeof err->msg)
		snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(e));
	make_printable(err->msg);
	return -e;
}

int unpack_fail(struct unpack_error *err, enum unpack_code code, int errnum,
		const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfail(err, code, errnum, false, fmt, ap);
	va_end(ap);
	return r;
}

int unpack_fail_errno(struct unpack_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfail(err, unpack_errno_code(errnum), errnum, true, fmt, ap);
	va_end(ap);
	return r;
}

/* Appends one component to ret; 1 if it was the last one. */
static int path_component(const char *raw, const char *comp, size_t clen,
			  struct unpack_path *ret, size_t *len, size_t *last,
			  struct unpack_error *err)
{
	if (clen == 2 && comp[0] == '.' && comp[1] == '.')
		return unpack_fail(err, UNPACK_ERR_INVALID, EINVAL,
				   "name '%.80s' has a '..' component", raw);
	if (clen > UNPACK_NAME_MAX)
		return unpack_fail(err, UNPACK_ERR_INVALID, ENAMETOOLONG,
				   "name '%.80s' has a component over %d bytes", raw,
				   UNPACK_NAME_MAX);
	if (*len)
		ret->parent[(*len)++] = '/';
	*last = *len;
	memcpy(ret->parent + *len, comp, clen);
	*len += clen;
	return 0;
}

int unpack_path_parse(const char *raw, uint32_t max, struct unpack_path *ret,
		      struct unpack_error *err)
{
	if (!raw || !*raw)
		return unpack_fail(err, UNPACK_ERR_INVALID, EINVAL, "entry without a name");
	if (max >= UNPACK_PATH_BUF)
		max = UNPACK_PATH_BUF - 1;
	if (strnlen(raw, (size_t)max + 1) > max)
		return unpack_fail(err, UNPACK_ERR_LIMIT, ENAMETOOLONG,
				   "name '%.80s...' is longer than %u bytes", raw, max);
	size_t len = 0, last = 0;
	const char *s = raw;
	while (*s) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		const char *end = strchrnul(s, '/');
		size_t clen = (size_t)(end - s);
		if (!(clen == 1 && s[0] == '.')) {
			int r = path_component(raw, s, clen, ret, &len, &last, err);
			if (r < 0)
				return r;
		}
		s = end;
	}
	ret->parent[len] = '\0';
	ret->is_root = len == 0;
	/* split "a/b/c" into parent "a/b" and name "c" */
	memcpy(ret->name, ret->parent + last, len - last + 1);
	ret->parent[last ? last - 1 : 0] = '\0';
	return 0;
}

int unpack_path_join(const struct unpack_path *p, char *buf, size_t len)
{
	int n;
	if (p->is_root)
		n = snprintf(buf, len, ".");
	else if (p->parent[0])
		n = snprintf(buf, len, "%s/%s", p->parent, p->name);
	else
		n = snprintf(buf, len, "%s", p->name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
