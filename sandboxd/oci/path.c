/*
 * oci/path: lexical path helpers of the spec builder (clean, "..", covers)
 * and the one way it opens anything inside the image's rootfs:
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so that a symlink in
 * the image, absolute or with "..", resolves inside the rootfs and never on
 * the host. No fallback for kernels without openat2 (5.6+): sandboxd needs
 * it. Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sandboxd/oci/spec_int.h"

int ocispec_path_clean(const char *p, char *buf, size_t len)
{
	if (!p || p[0] != '/')
		return -EINVAL;
	if (len < 2)
		return -ENAMETOOLONG;
	size_t o = 0;                   /* buf[0..o) is clean, without a trailing '/' */
	const char *c = p;
	while (*c) {
		while (*c == '/')
			c++;
		if (!*c)
			break;
		size_t n = strcspn(c, "/");
		if (n == 1 && c[0] == '.') {
			/* nothing */
		} else if (n == 2 && c[0] == '.' && c[1] == '.') {
			while (o > 0 && buf[o - 1] != '/')
				o--;
			if (o > 0)
				o--;    /* the '/' before it */
		} else {
			if (o + 1 + n + 1 > len)
				return -ENAMETOOLONG;
			buf[o++] = '/';
			memcpy(buf + o, c, n);
			o += n;
		}
		c += n;
	}
	if (o == 0)
		buf[o++] = '/';
	buf[o] = '\0';
	return 0;
}

bool ocispec_path_has_dotdot(const char *p)
{
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return true;
		c += n;
		while (*c == '/')
			c++;
	}
	return false;
}

bool ocispec_path_covers(const char *parent, const char *child)
{
	if (strcmp(parent, "/") == 0)
		return true;
	size_t n = strlen(parent);
	return strncmp(parent, child, n) == 0 && (child[n] == '\0' || child[n] == '/');
}

int ocispec_open_in_root(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;
	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	while (fd < 0 && (errno == EINTR || errno == EAGAIN));
	return fd < 0 ? -errno : (int)fd;
}
