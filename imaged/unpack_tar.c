/*
 * unpack_tar: unpack_layer, the in-process unpacker. Feeds libarchive (tar
 * formats only: ustar, gnu, pax; no filters, the stream is already
 * uncompressed) from unpack_stream, checks each entry against the limits
 * (count, name and link lengths, xattr count and size, ids, type) and
 * dispatches it: whiteout, hardlink, file, directory, symlink, node.
 * Must never: write anything itself (unpack_write and unpack_whiteout do),
 * or let libarchive read a byte that bypassed the stream's hash and caps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <archive.h>
#include <archive_entry.h>
#include "imaged/unpack_int.h"

#define XATTRS_HARD_MAX 4096

static la_ssize_t read_cb(struct archive *a, void *data, const void **buf)
{
	struct unpack_ctx *c = data;
	ssize_t n = unpack_stream_read(&c->stream, buf, c->err);
	if (n < 0) {
		c->stream_failed = true;
		archive_set_error(a, EIO, "layer stream failed");
		return -1;
	}
	return n;
}

int unpack_archive_fail(struct unpack_ctx *c, struct archive *a, const char *what)
{
	if (c->stream_failed)
		return c->err->err;
	const char *s = archive_error_string(a);
	int e = archive_errno(a);
	enum unpack_code code = e == ENOMEM ? UNPACK_ERR_LIMIT : UNPACK_ERR_INVALID;
	return unpack_fail(c->err, code, e > 0 ? e : EINVAL, "%s: %s", what,
			   s ? s : "malformed tar");
}

static int meta_ids(struct unpack_ctx *c, struct archive_entry *e, struct unpack_meta *m)
{
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	/* (uid_t)-1 would mean "leave as is" to chown: refused with the rest */
	if (uid < 0 || uid >= (la_int64_t)UINT32_MAX || gid < 0 || gid >= (la_int64_t)UINT32_MAX)
		return unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL,
				   "uid %lld or gid %lld out of range", (long long)uid,
				   (long long)gid);
	m->uid = (uid_t)uid;
	m->gid = (gid_t)gid;
	return 0;
}

static void meta_times(struct archive_entry *e, struct unpack_meta *m)
{
	struct timespec omit = { .tv_sec = 0, .tv_nsec = UTIME_OMIT };
	m->ts[1] = omit;
	if (archive_entry_mtime_is_set(e)) {
		long ns = archive_entry_mtime_nsec(e);
		m->ts[1].tv_sec = (time_t)archive_entry_mtime(e);
		m->ts[1].tv_nsec = ns >= 0 && ns < 1000000000L ? ns : 0;
	}
	m->ts[0] = m->ts[1];
	if (archive_entry_atime_is_set(e)) {
		long ns = archive_entry_atime_nsec(e);
		m->ts[0].tv_sec = (time_t)archive_entry_atime(e);
		m->ts[0].tv_nsec = ns >= 0 && ns < 1000000000L ? ns : 0;
	}
}

/* libarchive reports an xattr twice when the pax header carries both the
 * SCHILY.xattr and the LIBARCHIVE.xattr form: keep one (the last). */
static bool xattr_dedup(struct unpack_meta *m, const struct unpack_xattr *x)
{
	for (size_t i = 0; i < m->n_xattrs; i++)
		if (!strcmp(m->xattrs[i].name, x->name)) {
			m->xattrs[i] = *x;
			return true;
		}
	return false;
}

static int too_many_xattrs(struct unpack_ctx *c, uint32_t max)
{
	return unpack_fail(c->err, UNPACK_ERR_LIMIT, E2BIG, "more than %u xattrs", max);
}

static int meta_xattrs(struct unpack_ctx *c, struct archive_entry *e, struct unpack_meta *m)
{
	int n = archive_entry_xattr_reset(e);
	uint32_t max = c->lim->max_xattrs < XATTRS_HARD_MAX ? c->lim->max_xattrs : XATTRS_HARD_MAX;
	m->n_xattrs = 0;
	if (n < 0 || (uint32_t)n > 2 * max)
		return too_many_xattrs(c, max);
	const char *name;
	const void *value;
	size_t size;
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (!name || !*name || strlen(name) > 255)
			return unpack_fail(c->err, UNPACK_ERR_INVALID, ERANGE, "bad xattr name");
		if (size > c->lim->max_xattr_size)
			return unpack_fail(c->err, UNPACK_ERR_LIMIT, E2BIG,
					   "xattr %.64s of %zu bytes, more than %u", name, size,
					   c->lim->max_xattr_size);
		struct unpack_xattr x = { name, value, size };
		if (xattr_dedup(m, &x))
			continue;
		if (m->n_xattrs == max)
			return too_many_xattrs(c, max);
		m->xattrs[m->n_xattrs++] = x;
	}
	return 0;
}

static int entry_meta(struct unpack_ctx *c, struct archive_entry *e, struct unpack_meta *m)
{
	*m = (struct unpack_meta){ .xattrs = m->xattrs };
	m->type = archive_entry_filetype(e);
	m->perm = archive_entry_perm(e) & 07777;
	m->size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	if (m->size < 0)
		return unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL, "negative size");
	m->rdev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
	m->link = archive_entry_symlink(e);
	meta_times(e, m);
	int r = meta_ids(c, e, m);
	if (r < 0)
		return r;
	return meta_xattrs(c, e, m);
}

static int dispatch(struct unpack_ctx *c, struct archive *a, struct archive_entry *e,
		    const struct unpack_path *p, struct unpack_meta *m)
{
	const char *hardlink = archive_entry_hardlink(e);
	if (hardlink) {
		struct unpack_path *t = malloc(sizeof *t);
		if (!t)
			return unpack_fail(c->err, UNPACK_ERR_LIMIT, ENOMEM, "out of memory");
		int r = unpack_path_parse(hardlink, c->lim->max_path, t, c->err);
		if (r == 0)
			r = p->is_root ? unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL,
						     "the root as a hardlink")
				       : unpack_write_hardlink(c, p, t);
		free(t);
		return r;
	}
	int r = entry_meta(c, e, m);
	if (r < 0)
		return r;
	if (m->type == S_IFDIR)
		return unpack_write_dir(c, p, m);
	if (p->is_root)
		return unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL,
				   "the root must be a directory");
	switch (m->type) {
	case S_IFREG:
		return unpack_write_file(c, a, p, m);
	case S_IFLNK:
		return unpack_write_symlink(c, p, m);
	case S_IFCHR: case S_IFBLK: case S_IFIFO:
		return unpack_write_node(c, p, m);
	default:
		return unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL,
				   "unsupported entry type 0%o", (unsigned)m->type);
	}
}

/* One entry; on failure the message gets the entry's name in front. */
static int unpack_entry(struct unpack_ctx *c, struct archive *a, struct archive_entry *e,
			struct unpack_path *p, struct unpack_meta *m)
{
	const char *name = archive_entry_pathname(e);
	int r = unpack_path_parse(name, c->lim->max_path, p, c->err);
	if (r == 0)
		r = unpack_whiteout(c, p);
	if (r == 0)
		r = dispatch(c, a, e, p, m);
	if (r >= 0)
		return 0;
	char msg[UNPACK_MSG_LEN];
	memcpy(msg, c->err->msg, sizeof msg);
	return unpack_fail(c->err, c->err->code, c->err->err, "entry '%.80s': %s",
			   name ? name : "?", msg);
}

static int read_entries(struct unpack_ctx *c, struct archive *a, struct unpack_meta *m)
{
	struct unpack_path *p = malloc(sizeof *p);
	if (!p)
		return unpack_fail(c->err, UNPACK_ERR_LIMIT, ENOMEM, "out of memory");
	int r = 0;
	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = unpack_archive_fail(c, a, "reading the tar");
			break;
		}
		if (++c->entries > c->lim->max_entries) {
			r = unpack_fail(c->err, UNPACK_ERR_LIMIT, E2BIG,
					"layer has more than %llu entries",
					(unsigned long long)c->lim->max_entries);
			break;
		}
		r = unpack_entry(c, a, e, p, m);
		if (r < 0)
			break;
	}
	free(p);
	return r;
}

static struct archive *tar_reader(struct unpack_ctx *c)
{
	struct archive *a = archive_read_new();
	if (!a)
		return NULL;
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open(a, c, NULL, read_cb, NULL) != ARCHIVE_OK) {
		unpack_archive_fail(c, a, "opening the tar");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

int unpack_layer(int root_fd, int blob_fd, enum unpack_compression comp,
		 const struct unpack_limits *lim, struct unpack_result *ret,
		 struct unpack_error *err)
{
	struct unpack_limits defaults;
	if (!lim) {
		unpack_limits_default(&defaults);
		lim = &defaults;
	}
	*err = (struct unpack_error){ 0 };
	struct unpack_ctx c = { .root_fd = root_fd, .lim = lim, .err = err };
	struct unpack_meta m = { 0 };
	struct archive *a = NULL;
	uint32_t nx = lim->max_xattrs < XATTRS_HARD_MAX ? lim->max_xattrs : XATTRS_HARD_MAX;
	m.xattrs = calloc(nx ? nx : 1, sizeof *m.xattrs);
	int r = m.xattrs ? 0 : unpack_fail(err, UNPACK_ERR_LIMIT, ENOMEM, "out of memory");
	if (r == 0)
		r = unpack_stream_open(&c.stream, blob_fd, comp, lim, err);
	if (r == 0) {
		a = tar_reader(&c);
		r = a ? 0 : (err->err ? err->err : -EIO);
	}
	if (r == 0)
		r = read_entries(&c, a, &m);
	if (r == 0)
		r = unpack_stream_drain(&c.stream, err);
	if (r == 0)
		r = unpack_apply_dirtimes(&c);
	if (r == 0) {
		*ret = (struct unpack_result){
			.tar_size = c.stream.uncompressed,
			.compressed_size = c.stream.compressed,
			.entries = c.entries,
			.xattrs_skipped = c.xattrs_skipped,
		};
		unpack_stream_digest(&c.stream, ret->diff_id);
	}
	if (a)
		archive_read_free(a);
	unpack_stream_close(&c.stream);
	unpack_free_dirtimes(&c);
	free(m.xattrs);
	return r;
}
