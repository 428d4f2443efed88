/*
 * cri_socket: the CRI socket and its connections (see cri_socket.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "criserver/cri_socket.h"

#define LISTEN_BACKLOG 128
#define LISTEN_MODE 0660
#define LISTEN_DIR_MODE 0711
#define ACCEPT_BATCH 64
#define REFUSE_LOG_EVERY_S 10

struct conn {
	int fd;
	dev_t dev;
	ino_t ino;
};

struct cri_socket {
	char *path;
	int fd;
	dev_t dev;                      /* the socket file we made */
	ino_t ino;
	struct conn *conns;
	unsigned n_conns, max_conns;
	unsigned long refused;
	time_t refused_logged;
};

/* Unlink a socket left at path by an earlier run; refuse anything else. */
static int unlink_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : log_error_errno(-errno, "%s: %m", path);
	if (!S_ISSOCK(st.st_mode))
		return log_error_errno(-EEXIST, "%s exists and is not a socket: not touching it",
				       path);
	if (unlink(path) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "unlink stale socket %s: %m", path);
	return 0;
}

static int socket_make(struct cri_socket *l)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	struct stat st;
	int r;

	if (strlen(l->path) >= sizeof sa.sun_path)
		return log_error_errno(-ENAMETOOLONG, "socket path %s: %m", l->path);
	memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
	r = fs_dirname(l->path, dir, sizeof dir);
	if (r >= 0)
		r = fs_mkdir_p(dir, LISTEN_DIR_MODE);
	if (r < 0)
		return log_error_errno(r, "directory of %s: %m", l->path);
	r = unlink_stale(l->path);
	if (r < 0)
		return r;
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0)
		return log_error_errno(-errno, "socket: %m");
	mode_t old = umask(0177);       /* born 0600: nobody else in before the chmod */
	r = bind(l->fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
	umask(old);
	if (r < 0)
		return log_error_errno(r, "bind %s: %m", l->path);
	if (chown(l->path, 0, 0) < 0 || chmod(l->path, LISTEN_MODE) < 0 ||
	    lstat(l->path, &st) < 0) {
		r = log_error_errno(-errno, "set up %s: %m", l->path);
		unlink(l->path);
		return r;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	if (listen(l->fd, LISTEN_BACKLOG) < 0) {
		r = log_error_errno(-errno, "listen %s: %m", l->path);
		unlink(l->path);
		return r;
	}
	return 0;
}

int cri_socket_open(const char *path, unsigned max_conns, struct cri_socket **ret)
{
	struct cri_socket *l;
	int r;

	if (!path || max_conns == 0)
		return -EINVAL;
	l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->fd = -1;
	l->max_conns = max_conns;
	l->path = strdup(path);
	l->conns = calloc(max_conns, sizeof *l->conns);
	if (!l->path || !l->conns) {
		r = -ENOMEM;
		goto fail;
	}
	r = socket_make(l);
	if (r < 0)
		goto fail;
	*ret = l;
	return 0;
fail:
	cri_socket_free(l);
	return r;
}

int cri_socket_fd(const struct cri_socket *l)
{
	return l->fd;
}

/* Forget connections whose fd no longer names their socket. */
static void conns_prune(struct cri_socket *l)
{
	unsigned n = 0;
	for (unsigned i = 0; i < l->n_conns; i++) {
		struct stat st;
		struct conn *c = &l->conns[i];
		if (fstat(c->fd, &st) < 0 || st.st_dev != c->dev || st.st_ino != c->ino)
			continue;
		l->conns[n++] = *c;
	}
	l->n_conns = n;
}

unsigned cri_socket_conns(struct cri_socket *l)
{
	conns_prune(l);
	return l->n_conns;
}

static void refuse(struct cri_socket *l, int fd)
{
	time_t now = time(NULL);

	close(fd);
	l->refused++;
	if (now - l->refused_logged >= REFUSE_LOG_EVERY_S) {
		log_warn("%u CRI connections open, the limit (api.max_connections): "
			 "refused %lu so far", l->max_conns, l->refused);
		l->refused_logged = now;
	}
}

static void log_peer(int fd)
{
	struct ucred uc;
	socklen_t len = sizeof uc;

	if (log_get_level() < LOG_DEBUG)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0)
		log_debug("CRI connection from pid %d uid %u", (int)uc.pid, (unsigned)uc.uid);
}

int cri_socket_accept(struct cri_socket *l, int (*add)(int fd, void *data), void *data)
{
	int handed = 0;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct stat st;
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				break;
			return log_error_errno(-errno, "accept on %s: %m", l->path);
		}
		if (l->n_conns >= l->max_conns)
			conns_prune(l);
		if (l->n_conns >= l->max_conns || fstat(fd, &st) < 0) {
			refuse(l, fd);
			continue;
		}
		log_peer(fd);
		l->conns[l->n_conns++] = (struct conn){ .fd = fd, .dev = st.st_dev,
							.ino = st.st_ino };
		if (add(fd, data) == 0)
			handed++;
	}
	return handed;
}

int cri_socket_close(struct cri_socket *l)
{
	struct stat st;
	int r = 0;

	if (!l || l->fd < 0)
		return 0;
	close(l->fd);
	l->fd = -1;
	if (lstat(l->path, &st) < 0)
		r = errno == ENOENT ? 0 : -errno;
	else if (st.st_dev == l->dev && st.st_ino == l->ino && unlink(l->path) < 0)
		r = -errno;
	return r;
}

void cri_socket_free(struct cri_socket *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->conns);
	free(l->path);
	free(l);
}
