/*
 * unpack_whiteout: OCI whiteout entries -> the form overlayfs reads in a
 * lower layer (see the choice explained in unpack.h):
 *   DIR/.wh.NAME      -> DIR/NAME, a character device 0/0 (whatever the
 *                        entry's type; its data is skipped)
 *   DIR/.wh..wh..opq  -> xattr user.overlay.opaque=y on DIR (made if missing)
 * Entries of the same layer stay: they are this layer's own, and the opaque
 * mark hides only the layers below. Other names starting ".wh..wh." (aufs
 * bookkeeping) are refused, as are ".wh." alone and ".wh.." / ".wh...".
 * Must never: remove or mark anything outside the layer; runs inside the
 * same RESOLVE_IN_ROOT rules as every other entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "imaged/unpack_int.h"

#define WH_PREFIX ".wh."
#define WH_META ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

static int mark_opaque(struct unpack_ctx *c, const struct unpack_path *p)
{
	int parent, r = unpack_open_parent(c, p, true, &parent);
	if (r < 0)
		return r;
	/* fsetxattr needs a real fd; "." of a directory is never a symlink */
	int fd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = unpack_fail_errno(c->err, errno, "opening the opaque directory");
	else if (fsetxattr(fd, UNPACK_OPAQUE_XATTR, "y", 1, 0) < 0)
		r = unpack_fail_errno(c->err, errno, "setting " UNPACK_OPAQUE_XATTR);
	if (fd >= 0)
		close(fd);
	close(parent);
	return r;
}

static int make_whiteout(struct unpack_ctx *c, const struct unpack_path *p,
			 const char *name)
{
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL,
				   "whiteout of an empty, '.' or '..' name");
	int parent, r = unpack_open_parent(c, p, true, &parent);
	if (r < 0)
		return r;
	r = unpack_clear(c, parent, name, false, NULL);
	if (r == 0 && mknodat(parent, name, S_IFCHR, makedev(0, 0)) < 0)
		r = unpack_fail_errno(c->err, errno, "making whiteout %.80s", name);
	close(parent);
	return r;
}

int unpack_whiteout(struct unpack_ctx *c, const struct unpack_path *p)
{
	if (p->is_root || strncmp(p->name, WH_PREFIX, strlen(WH_PREFIX)) != 0)
		return 0;
	int r;
	if (!strcmp(p->name, WH_OPAQUE))
		r = mark_opaque(c, p);
	else if (!strncmp(p->name, WH_META, strlen(WH_META)))
		r = unpack_fail(c->err, UNPACK_ERR_INVALID, EINVAL,
				"reserved whiteout name %.80s", p->name);
	else
		r = make_whiteout(c, p, p->name + strlen(WH_PREFIX));
	return r < 0 ? r : 1;
}
