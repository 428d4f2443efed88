/*
 * chan_sock: the SEQPACKET sockets under the channel (see chan.h). Owns
 * listening (bind, then chmod/chown, then listen: nobody can connect before
 * the socket has its final mode and owner), accepting, connecting, socket
 * pairs and SO_PEERCRED. A stale path is unlinked only when it is a socket.
 * Every fd is SOCK_CLOEXEC from creation. Must never log.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/chan.h"

#define CHAN_BACKLOG 64

static int sockaddr_fill(const char *path, struct sockaddr_un *sa)
{
	size_t len;

	if (!path || !path[0])
		return -EINVAL;
	len = strlen(path);
	if (len >= sizeof sa->sun_path)
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

/* Remove a socket left by an earlier run; anything else at path is -EEXIST. */
static int unlink_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int chan_listen(const char *path, mode_t mode, uid_t owner, gid_t group, int *ret_fd)
{
	struct sockaddr_un sa;
	int fd, r;

	if (!ret_fd)
		return -EINVAL;
	r = sockaddr_fill(path, &sa);
	if (r < 0)
		return r;
	r = unlink_stale(path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		goto fail_errno;
	if (chmod(path, mode) < 0)
		goto fail_unlink;
	if ((owner != (uid_t)-1 || group != (gid_t)-1) && chown(path, owner, group) < 0)
		goto fail_unlink;
	if (listen(fd, CHAN_BACKLOG) < 0)
		goto fail_unlink;
	*ret_fd = fd;
	return 0;
fail_unlink:
	r = -errno;
	unlink(path);
	close(fd);
	return r;
fail_errno:
	r = -errno;
	close(fd);
	return r;
}

int chan_accept(int listen_fd, int *ret_fd)
{
	int fd;

	if (listen_fd < 0 || !ret_fd)
		return -EINVAL;
	do
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	*ret_fd = fd;
	return 0;
}

int chan_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa;
	int fd, r;

	if (!ret_fd)
		return -EINVAL;
	r = sockaddr_fill(path, &sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* an AF_UNIX connect interrupted while waiting for backlog room has
	 * not connected: it may be tried again */
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int chan_socketpair(int ret_fds[2])
{
	int fds[2];

	if (!ret_fds)
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return -errno;
	ret_fds[0] = fds[0];
	ret_fds[1] = fds[1];
	return 0;
}

int chan_peer_cred(int fd, pid_t *ret_pid, uid_t *ret_uid, gid_t *ret_gid)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	if (len != sizeof cr)
		return -EIO;
	if (ret_pid)
		*ret_pid = cr.pid;
	if (ret_uid)
		*ret_uid = cr.uid;
	if (ret_gid)
		*ret_gid = cr.gid;
	return 0;
}
