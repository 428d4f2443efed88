/*
 * rootfs: a container's root file system: an overlay of the image's
 * unpacked layers (imaged's, read-only) with the container's own upper and
 * work dirs under ROOT/containers/<id>, mounted at
 * RUNROOT/containers/<id>/rootfs; and read-only mounts of an image for a
 * CRI image mount. Layers mark opaque dirs with user.overlay.opaque, so
 * every overlay passes `userxattr` (imaged/unpack.h).
 *
 * The mount is made with the new mount API (fsopen/fsconfig/fsmount): each
 * layer is its own "lowerdir+" (kernel >= 6.8), so the number of layers is
 * not bound by the one-page limit of a mount option string; on an older
 * kernel the classic "lowerdir=a:b:c" string is used. A single layer
 * without an upper dir is a read-only bind mount (overlay needs two lower
 * dirs when there is no upper one). Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/status.h"
#include "imaged/unpack.h"
#include "sandboxd/container/ctr.h"

#define OPTS_MAX 4096

/* The kernel's own words on why fsconfig failed, if it left any. */
static void fs_log(int fsfd, char *buf, size_t len)
{
	char line[256];
	buf[0] = '\0';
	ssize_t n;
	while ((n = read(fsfd, line, sizeof line - 1)) > 0) {
		line[n] = '\0';
		snprintf(buf, len, "%s", line + (n > 2 && line[1] == ' ' ? 2 : 0));
	}
}

static int mount_new_api(char *const *lower, size_t n, const char *upper, const char *work,
			 const char *target, bool readonly, char *why, size_t why_len)
{
	int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	int r = 0;
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0)
		r = -errno;
	for (size_t i = n; r == 0 && i > 0; i--)        /* the top layer first */
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", lower[i - 1], 0) < 0)
			r = -errno;
	if (r == 0 && upper && (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
				fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0))
		r = -errno;
	if (r == 0 && fsconfig(fsfd, FSCONFIG_SET_FLAG, UNPACK_OVERLAY_OPTS, NULL, 0) < 0)
		r = -errno;
	if (r == 0 && fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		r = -errno;
	int mfd = -1;
	if (r == 0 && (mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, readonly ? MOUNT_ATTR_RDONLY : 0)) < 0)
		r = -errno;
	if (r == 0 && move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		r = -errno;
	if (r < 0)
		fs_log(fsfd, why, why_len);
	if (mfd >= 0)
		close(mfd);
	close(fsfd);
	return r;
}

static int mount_classic(char *const *lower, size_t n, const char *upper, const char *work,
			 const char *target, bool readonly)
{
	char opts[OPTS_MAX];
	size_t at = (size_t)snprintf(opts, sizeof opts, "lowerdir=");
	for (size_t i = n; i > 0; i--) {
		int k = snprintf(opts + at, sizeof opts - at, "%s%s", lower[i - 1], i > 1 ? ":" : "");
		if (k < 0 || (size_t)k >= sizeof opts - at)
			return -E2BIG;
		at += (size_t)k;
	}
	int k = upper ? snprintf(opts + at, sizeof opts - at, ",upperdir=%s,workdir=%s,%s", upper,
				 work, UNPACK_OVERLAY_OPTS) :
		snprintf(opts + at, sizeof opts - at, ",%s", UNPACK_OVERLAY_OPTS);
	if (k < 0 || (size_t)k >= sizeof opts - at)
		return -E2BIG;
	if (mount("overlay", target, "overlay", readonly ? MS_RDONLY : 0, opts) < 0)
		return -errno;
	return 0;
}

int rootfs_mount(char *const *lower, size_t n_lower, const char *upper, const char *work,
		 const char *target, bool readonly, struct crisp_error *err)
{
	char why[256] = "";
	int r;
	if (mkdir(target, 0755) < 0 && errno != EEXIST)
		return crisp_fail_errno(err, -errno, "mkdir %s", target);
	if (!upper && n_lower == 1) {
		if (mount(lower[0], target, NULL, MS_BIND, NULL) < 0 ||
		    mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
			  NULL) < 0) {
			r = -errno;
			rootfs_unmount(target);
			return crisp_fail_errno(err, r, "bind %s read-only on %s", lower[0], target);
		}
		return 0;
	}
	r = mount_new_api(lower, n_lower, upper, work, target, readonly, why, sizeof why);
	if (r == -EINVAL || r == -ENOSYS || r == -EOPNOTSUPP) {
		char why2[256];
		snprintf(why2, sizeof why2, "%s", why);
		r = mount_classic(lower, n_lower, upper, work, target, readonly);
		if (r < 0 && why2[0])
			snprintf(why, sizeof why, "%s", why2);
	}
	if (r < 0)
		return crisp_fail_errno(err, r, "mounting the overlay of %zu layers on %s%s%s",
					n_lower, target, why[0] ? " (" : "", why[0] ? why : "");
	return 0;
}

int rootfs_unmount(const char *target)
{
	for (int i = 0; i < 8; i++) {
		if (umount2(target, UMOUNT_NOFOLLOW) == 0)
			continue;               /* a mount below may be stacked */
		if (errno == EINVAL || errno == ENOENT)
			return 0;               /* nothing (more) mounted there */
		if (errno != EBUSY)
			return -errno;
		if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL)
			return -errno;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	int r = type == FTW_DP ? rmdir(path) : unlink(path);
	return r < 0 && errno != ENOENT ? -1 : 0;
}

int rootfs_remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return errno ? -errno : -EIO;
	return 0;
}
