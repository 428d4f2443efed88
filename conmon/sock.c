/*
 * sock: see sock.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conmon/sock.h"

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

static int addr_of(const char *dir, int dirfd, const char *name, pid_t pid,
		   struct sockaddr_un *ret)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int n = snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof a.sun_path) {
		n = pid ? snprintf(a.sun_path, sizeof a.sun_path, "/proc/%ld/fd/%d/%s", (long)pid, dirfd, name)
			: snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/%s", dirfd, name);
		if (n < 0 || (size_t)n >= sizeof a.sun_path)
			return -ENAMETOOLONG;
	}
	*ret = a;
	return 0;
}

int conmon_sock_listen(const char *dir, int dirfd, const char *name, int type, int *ret_fd)
{
	struct sockaddr_un a;
	int r = addr_of(dir, dirfd, name, 0, &a);
	if (r < 0)
		return r;
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0177);
	r = bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ? -errno : 0;
	umask(old);
	if (r == 0 && listen(fd, 16) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int conmon_sock_path(const char *dir, int dirfd, const char *name, char *buf, size_t len)
{
	struct sockaddr_un a;
	int r = addr_of(dir, dirfd, name, getpid(), &a);
	if (r < 0)
		return r;
	size_t n = strlen(a.sun_path);
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, a.sun_path, n + 1);
	return 0;
}
