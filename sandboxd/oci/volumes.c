/*
 * oci/volumes: the image's Volumes, as CRI-O's default image_volumes =
 * "mkdir" treats them: each one's directory is made in the rootfs (mode
 * 0755, owned by root), so that the container finds it; nothing is mounted
 * there (containerd instead binds a fresh host directory holding a copy).
 * A volume covered by a CRI mount (the same path or one above it) is left
 * alone: kubelet decides what is there. A volume that is not absolute or
 * has a ".." component is ignored without error, as is "/" (an image can
 * say anything there; none of these is a directory we could make).
 *
 * The rootfs is the image's, so hostile: each component is made with
 * mkdirat in a directory fd that openat2(RESOLVE_IN_ROOT) resolved inside
 * the rootfs, and reopened the same way; mkdirat never follows a symlink
 * in the last component, and a symlink on the way resolves inside the
 * rootfs. Called last by oci_spec_build, once everything else is checked,
 * so that a refused request leaves no trace. Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sandboxd/oci/spec_int.h"

static bool covered(const struct ocispec *s, const char *vol)
{
	char dst[OCISPEC_MAX_PATH];
	for (size_t i = 0; i < s->cfg->n_mounts; i++) {
		const Runtime__V1__Mount *m = s->cfg->mounts[i];
		if (m && ocispec_path_clean(ocispec_str(m->container_path), dst, sizeof dst) == 0 &&
		    ocispec_path_covers(dst, vol))
			return true;
	}
	return false;
}

/* mkdir -p of the clean absolute path vol inside the rootfs. */
static int make_volume(struct ocispec *s, size_t i, const char *vol)
{
	int rootfd = s->in->rootfs_fd;
	char prefix[OCISPEC_MAX_PATH];
	size_t plen = 0;
	int parent = -1;                /* -1: the rootfs itself */
	int r = 0;
	for (const char *c = vol + 1; *c;) {
		size_t n = strcspn(c, "/");
		memcpy(prefix + plen, c, n);
		plen += n;
		prefix[plen] = '\0';
		int fd = ocispec_open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY);
		if (fd == -ENOENT) {
			if (mkdirat(parent < 0 ? rootfd : parent, prefix + plen - n, 0755) < 0 &&
			    errno != EEXIST) {
				r = crisp_fail_errno(s->err, -errno, "image config Volumes[%zu]: "
						     "making /%s", i, prefix);
				break;
			}
			fd = ocispec_open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY);
		}
		if (fd < 0) {
			r = crisp_fail_errno(s->err, fd, "image config Volumes[%zu]: /%s", i, prefix);
			break;
		}
		if (parent >= 0)
			close(parent);
		parent = fd;
		c += n;
		while (*c == '/')
			c++;
		if (*c)
			prefix[plen++] = '/';
	}
	if (parent >= 0)
		close(parent);
	return r;
}

int ocispec_volumes(struct ocispec *s)
{
	const Crisp__ImageRuntimeConfig *img = s->image;
	if (img->n_volumes > OCISPEC_MAX_VOLUMES)
		return OCISPEC_INVALID(s, "image config Volumes: more than %u", OCISPEC_MAX_VOLUMES);
	for (size_t i = 0; i < img->n_volumes; i++) {
		const char *v = ocispec_str(img->volumes[i]);
		char vol[OCISPEC_MAX_PATH];
		if (v[0] != '/' || ocispec_path_has_dotdot(v) ||
		    ocispec_path_clean(v, vol, sizeof vol) < 0 || strcmp(vol, "/") == 0)
			continue;
		if (covered(s, vol))
			continue;
		int r = make_volume(s, i, vol);
		if (r < 0)
			return r;
	}
	return 0;
}
