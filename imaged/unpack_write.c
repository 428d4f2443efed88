/*
 * unpack_write: writes one tar entry into the layer, relative to the layer's
 * root fd. The rules that keep everything inside the root:
 *   - the parent directory is opened with openat2(RESOLVE_IN_ROOT |
 *     RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV): symlinks on the way resolve
 *     as if the layer were "/" (an absolute or "../.." target stays inside),
 *     /proc magic links and other mounts are refused;
 *   - the final component is never followed: it is made with mkdirat,
 *     mknodat, symlinkat, linkat(flags 0) or openat(O_CREAT | O_EXCL |
 *     O_NOFOLLOW) after whatever was there is removed (a directory stays
 *     only for a directory entry);
 *   - metadata goes through the fd of the new file or directory (fchown,
 *     fsetxattr, fchmod, futimens), or for symlinks and nodes through the
 *     parent fd with AT_SYMLINK_NOFOLLOW; the one call with no such flag,
 *     fchmodat on a device or fifo we just made, cannot meet a symlink: this
 *     process is the only writer in the layer and mknodat made the name;
 *   - hardlinks: both parents resolved inside the root, linkat between the
 *     two parent fds, no /proc and no AT_EMPTY_PATH (which would need
 *     CAP_DAC_READ_SEARCH).
 * Order of metadata: data, chown (clears setuid and security.capability),
 * xattrs, chmod (setuid bits survive), times. Directory times are set at the
 * end (entries written into a directory change its mtime).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <archive.h>
#include "imaged/unpack_int.h"

#define UNPACK_RESOLVE (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

int unpack_openat2(int root_fd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = UNPACK_RESOLVE,
	};
	long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
	return fd < 0 ? -errno : (int)fd;
}

static int dup_root(struct unpack_ctx *c, int *ret_fd)
{
	int fd = fcntl(c->root_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return unpack_fail_errno(c->err, errno, "dup of the layer root");
	*ret_fd = fd;
	return 0;
}

/* Makes the missing directories of parent one by one, each resolved anew
 * from the root: a dangling symlink in the way makes mkdirat fail EEXIST. */
static int make_parents(struct unpack_ctx *c, const char *parent, int *ret_fd)
{
	char prefix[UNPACK_PATH_BUF];
	int cur = -1, r = dup_root(c, &cur);
	if (r < 0)
		return r;
	const char *comp = parent;
	for (;;) {
		const char *slash = strchr(comp, '/');
		size_t end = slash ? (size_t)(slash - parent) : strlen(parent);
		memcpy(prefix, parent, end);
		prefix[end] = '\0';
		const char *name = prefix + (comp - parent);
		int fd = unpack_openat2(c->root_fd, prefix, O_PATH | O_DIRECTORY);
		if (fd == -ENOENT) {
			if (mkdirat(cur, name, 0755) < 0) {
				r = unpack_fail_errno(c->err, errno, "making directory %s", prefix);
				break;
			}
			fd = unpack_openat2(c->root_fd, prefix, O_PATH | O_DIRECTORY);
		}
		if (fd < 0) {
			r = unpack_fail_errno(c->err, fd, "opening directory %s", prefix);
			break;
		}
		close(cur);
		cur = fd;
		if (!slash)
			break;
		comp = slash + 1;
	}
	if (r < 0) {
		close(cur);
		return r;
	}
	*ret_fd = cur;
	return 0;
}

int unpack_open_parent(struct unpack_ctx *c, const struct unpack_path *p, bool create,
		       int *ret_fd)
{
	if (!p->parent[0])
		return dup_root(c, ret_fd);
	int fd = unpack_openat2(c->root_fd, p->parent, O_PATH | O_DIRECTORY);
	if (fd == -ENOENT && create)
		return make_parents(c, p->parent, ret_fd);
	if (fd < 0)
		return unpack_fail_errno(c->err, fd, "opening directory %s", p->parent);
	*ret_fd = fd;
	return 0;
}

int unpack_clear(struct unpack_ctx *c, int parent, const char *name, bool keep_dir,
		 bool *ret_is_dir)
{
	struct stat st;
	bool is_dir = false;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return unpack_fail_errno(c->err, errno, "stat of %s", name);
	} else if (S_ISDIR(st.st_mode) && keep_dir) {
		is_dir = true;
	} else if (S_ISDIR(st.st_mode)) {
		int r = unpack_remove_tree(parent, name);
		if (r < 0)
			return unpack_fail_errno(c->err, r, "removing directory %s", name);
	} else if (unlinkat(parent, name, 0) < 0) {
		return unpack_fail_errno(c->err, errno, "removing %s", name);
	}
	if (ret_is_dir)
		*ret_is_dir = is_dir;
	return 0;
}

static bool xattr_kept(const char *name)
{
	if (!strncmp(name, "user.", 5))
		return strncmp(name, "user.overlay.", 13) != 0;
	return !strcmp(name, "security.capability") ||
	       !strcmp(name, "system.posix_acl_access") ||
	       !strcmp(name, "system.posix_acl_default");
}

static int set_xattrs(struct unpack_ctx *c, int fd, const struct unpack_meta *m)
{
	for (size_t i = 0; i < m->n_xattrs; i++) {
		const struct unpack_xattr *x = &m->xattrs[i];
		if (!xattr_kept(x->name)) {
			c->xattrs_skipped++;
			continue;
		}
		if (fsetxattr(fd, x->name, x->value, x->size, 0) < 0)
			return unpack_fail_errno(c->err, errno, "setting xattr %.64s", x->name);
	}
	return 0;
}

/* chown, xattrs, chmod, and times when with_times, through fd. */
static int set_meta_fd(struct unpack_ctx *c, int fd, const struct unpack_meta *m,
		       bool with_times)
{
	if (fchown(fd, m->uid, m->gid) < 0)
		return unpack_fail_errno(c->err, errno, "chown");
	int r = set_xattrs(c, fd, m);
	if (r < 0)
		return r;
	if (fchmod(fd, m->perm) < 0)
		return unpack_fail_errno(c->err, errno, "chmod");
	if (with_times && futimens(fd, m->ts) < 0)
		return unpack_fail_errno(c->err, errno, "setting times");
	return 0;
}

static int write_all(struct unpack_ctx *c, int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return unpack_fail_errno(c->err, errno, "writing data");
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* The entry's data blocks (sparse ones at their offsets) into fd. */
static int copy_data(struct unpack_ctx *c, struct archive *a, int fd, int64_t size)
{
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return unpack_archive_fail(c, a, "reading data");
		if (off < 0 || off > size || len > (uint64_t)(size - off))
			return unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL,
					   "data beyond the entry's size");
		r = write_all(c, fd, buf, len, (off_t)off);
		if (r < 0)
			return r;
	}
	if (ftruncate(fd, (off_t)size) < 0)     /* a sparse tail */
		return unpack_fail_errno(c->err, errno, "truncate");
	return 0;
}

int unpack_write_file(struct unpack_ctx *c, struct archive *a, const struct unpack_path *p,
		      const struct unpack_meta *m)
{
	if (m->size > 0 && (uint64_t)m->size > c->lim->max_tar_size)
		return unpack_fail(c->err, UNPACK_ERR_LIMIT, EFBIG,
				   "file is larger than %llu bytes",
				   (unsigned long long)c->lim->max_tar_size);
	int parent, r = unpack_open_parent(c, p, true, &parent);
	if (r < 0)
		return r;
	r = unpack_clear(c, parent, p->name, false, NULL);
	int fd = -1;
	if (r == 0) {
		fd = openat(parent, p->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0)
			r = unpack_fail_errno(c->err, errno, "creating file");
	}
	if (r == 0)
		r = copy_data(c, a, fd, m->size);
	if (r == 0)
		r = set_meta_fd(c, fd, m, true);
	if (fd >= 0)
		close(fd);
	close(parent);
	return r;
}

/* Remembers a directory's times for unpack_apply_dirtimes, or, past
 * UNPACK_DEFER_MAX bytes of paths, sets them now. */
static int defer_times(struct unpack_ctx *c, int fd, const struct unpack_path *p,
		       const struct unpack_meta *m)
{
	char path[UNPACK_PATH_BUF];
	if (unpack_path_join(p, path, sizeof path) < 0)
		return unpack_fail(c->err, UNPACK_ERR_INVALID, ENAMETOOLONG, "name too long");
	size_t len = strlen(path) + 1;
	if (c->dir_bytes + len > UNPACK_DEFER_MAX) {
		if (futimens(fd, m->ts) < 0)
			return unpack_fail_errno(c->err, errno, "setting times");
		return 0;
	}
	if (c->n_dirs == c->cap_dirs) {
		size_t cap = c->cap_dirs ? c->cap_dirs * 2 : 64;
		struct unpack_dirtime *d = realloc(c->dirs, cap * sizeof *d);
		if (!d)
			return unpack_fail(c->err, UNPACK_ERR_LIMIT, ENOMEM, "out of memory");
		c->dirs = d;
		c->cap_dirs = cap;
	}
	char *s = strdup(path);
	if (!s)
		return unpack_fail(c->err, UNPACK_ERR_LIMIT, ENOMEM, "out of memory");
	c->dirs[c->n_dirs++] = (struct unpack_dirtime){ s, { m->ts[0], m->ts[1] } };
	c->dir_bytes += len;
	return 0;
}

int unpack_write_dir(struct unpack_ctx *c, const struct unpack_path *p,
		     const struct unpack_meta *m)
{
	int fd, parent = -1, r = 0;
	if (p->is_root) {
		fd = openat(c->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		bool is_dir;
		r = unpack_open_parent(c, p, true, &parent);
		if (r == 0)
			r = unpack_clear(c, parent, p->name, true, &is_dir);
		if (r == 0 && !is_dir && mkdirat(parent, p->name, 0700) < 0)
			r = unpack_fail_errno(c->err, errno, "making directory");
		fd = r < 0 ? -1 : openat(parent, p->name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (r == 0 && fd < 0)
		r = unpack_fail_errno(c->err, errno, "opening directory");
	if (r == 0)
		r = set_meta_fd(c, fd, m, false);
	if (r == 0)
		r = defer_times(c, fd, p, m);
	if (fd >= 0)
		close(fd);
	if (parent >= 0)
		close(parent);
	return r;
}

/* lchown and lutimes through the parent; xattrs are not kept on these. */
static int set_meta_at(struct unpack_ctx *c, int parent, const char *name,
		       const struct unpack_meta *m, bool chmod)
{
	c->xattrs_skipped += m->n_xattrs;
	if (fchownat(parent, name, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return unpack_fail_errno(c->err, errno, "chown");
	if (chmod && fchmodat(parent, name, m->perm, 0) < 0)
		return unpack_fail_errno(c->err, errno, "chmod");
	if (utimensat(parent, name, m->ts, AT_SYMLINK_NOFOLLOW) < 0)
		return unpack_fail_errno(c->err, errno, "setting times");
	return 0;
}

int unpack_write_symlink(struct unpack_ctx *c, const struct unpack_path *p,
			 const struct unpack_meta *m)
{
	if (!m->link || !*m->link)
		return unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL, "symlink without a target");
	if (strnlen(m->link, (size_t)c->lim->max_link + 1) > c->lim->max_link)
		return unpack_fail(c->err, UNPACK_ERR_LIMIT, ENAMETOOLONG,
				   "symlink target longer than %u bytes", c->lim->max_link);
	int parent, r = unpack_open_parent(c, p, true, &parent);
	if (r < 0)
		return r;
	r = unpack_clear(c, parent, p->name, false, NULL);
	if (r == 0 && symlinkat(m->link, parent, p->name) < 0)
		r = unpack_fail_errno(c->err, errno, "making symlink");
	if (r == 0)
		r = set_meta_at(c, parent, p->name, m, false);
	close(parent);
	return r;
}

int unpack_write_node(struct unpack_ctx *c, const struct unpack_path *p,
		      const struct unpack_meta *m)
{
	int parent, r = unpack_open_parent(c, p, true, &parent);
	if (r < 0)
		return r;
	r = unpack_clear(c, parent, p->name, false, NULL);
	dev_t dev = m->type == S_IFIFO ? 0 : m->rdev;
	if (r == 0 && mknodat(parent, p->name, m->type | 0600, dev) < 0)
		r = unpack_fail_errno(c->err, errno, "mknod");
	if (r == 0)
		r = set_meta_at(c, parent, p->name, m, true);
	close(parent);
	return r;
}

static int hardlink_target(struct unpack_ctx *c, const struct unpack_path *t,
			   int *ret_parent, struct stat *ret_st)
{
	int parent, r = unpack_open_parent(c, t, false, &parent);
	if (r < 0)
		return r;
	if (fstatat(parent, t->name, ret_st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = unpack_fail_errno(c->err, errno, "hardlink target %.80s/%.80s",
				      t->parent, t->name);
	} else if (S_ISDIR(ret_st->st_mode)) {
		r = unpack_fail(c->err, UNPACK_ERR_INVALID, EPERM,
				"hardlink to a directory");
	}
	if (r < 0) {
		close(parent);
		return r;
	}
	*ret_parent = parent;
	return 0;
}

int unpack_write_hardlink(struct unpack_ctx *c, const struct unpack_path *p,
			  const struct unpack_path *target)
{
	if (target->is_root)
		return unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL, "hardlink to the root");
	struct stat tst, nst;
	int tparent, nparent, r = hardlink_target(c, target, &tparent, &tst);
	if (r < 0)
		return r;
	r = unpack_open_parent(c, p, true, &nparent);
	if (r < 0) {
		close(tparent);
		return r;
	}
	if (fstatat(nparent, p->name, &nst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    nst.st_dev == tst.st_dev && nst.st_ino == tst.st_ino)
		goto out;       /* already that inode */
	r = unpack_clear(c, nparent, p->name, false, NULL);
	if (r == 0 && linkat(tparent, target->name, nparent, p->name, 0) < 0)
		r = unpack_fail_errno(c->err, errno, "hardlink to %.80s", target->name);
out:
	close(tparent);
	close(nparent);
	return r;
}

/* Directories' times, in entry order (a later entry for the same directory
 * wins). A directory removed or replaced since is skipped. */
int unpack_apply_dirtimes(struct unpack_ctx *c)
{
	for (size_t i = 0; i < c->n_dirs; i++) {
		struct unpack_dirtime *d = &c->dirs[i];
		struct unpack_path p;
		int r = unpack_path_parse(d->path, UNPACK_PATH_BUF - 1, &p, c->err);
		if (r < 0)
			return r;
		int fd = p.is_root ? openat(c->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
			 : p.parent[0] ? unpack_openat2(c->root_fd, p.parent, O_PATH | O_DIRECTORY)
			 : fcntl(c->root_fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			continue;
		struct stat st;
		if (p.is_root)
			r = futimens(fd, d->ts);
		else if (fstatat(fd, p.name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			r = utimensat(fd, p.name, d->ts, AT_SYMLINK_NOFOLLOW);
		int e = errno;
		close(fd);
		if (r < 0)
			return unpack_fail_errno(c->err, e, "setting times of %.80s", d->path);
	}
	return 0;
}

void unpack_free_dirtimes(struct unpack_ctx *c)
{
	for (size_t i = 0; i < c->n_dirs; i++)
		free(c->dirs[i].path);
	free(c->dirs);
	c->dirs = NULL;
	c->n_dirs = c->cap_dirs = c->dir_bytes = 0;
}
