/*
 * cri_socket: the CRI socket and its connections (see cri_socket.h).
 * Everything here runs on criserver's main loop, but the call hooks and the
 * stats, which grpc's threads use (conns.c locks; the counters are atomic).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "criserver/conns.h"
#include "criserver/cri_socket.h"
#include "criserver/h2_preface.h"

#define LISTEN_BACKLOG 128
#define LISTEN_MODE 0660
#define LISTEN_DIR_MODE 0711
#define ACCEPT_BATCH 64
#define EVENTS_BATCH 64
#define LOG_EVERY_S 10
#define LISTEN_TAG 0            /* epoll data of the listening socket; conn ids are >= 1 */
/* a connection handed to grpc counts as idle for eviction first only after
 * this long without a call (conns.h, policy 1) */
#define IDLE_GRACE_MS 1000
#define TICK_MIN_MS 50
#define TICK_MAX_MS 1000

struct cri_socket {
	char *path;
	int fd;                         /* listening */
	int epfd;                       /* the listening socket and the handshakes */
	dev_t dev;                      /* the socket file we made */
	ino_t ino;
	struct cri_socket_opts opts;
	struct conns *conns;
	struct conn *scratch;           /* opts.max_conns entries, for the tick */
	uint8_t peek[H2_PREFACE_MAX];
	time_t refused_logged, evicted_logged;
	atomic_ulong accepted, handed, evicted, expired, bad_preface, refused;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static int epoll_make(struct cri_socket *l)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTEN_TAG };

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return log_error_errno(-errno, "epoll_create1: %m");
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
		return log_error_errno(-errno, "epoll_ctl: %m");
	return 0;
}

int cri_socket_open(const char *path, const struct cri_socket_opts *o, struct cri_socket **ret)
{
	struct cri_socket *l;
	int r;

	if (!path || !o || o->max_conns == 0 || o->handshake_ms <= 0 || !o->add)
		return -EINVAL;
	l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->fd = -1;
	l->epfd = -1;
	l->opts = *o;
	l->path = strdup(path);
	l->scratch = calloc(o->max_conns, sizeof *l->scratch);
	r = l->path && l->scratch ? conns_new(o->max_conns, &l->conns) : -ENOMEM;
	if (r < 0)
		goto fail;
	r = socket_make(l);
	if (r == 0)
		r = epoll_make(l);
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
	return l->epfd;
}

int64_t cri_socket_tick_ms(const struct cri_socket *l)
{
	int64_t t = l->opts.handshake_ms / 4;
	return t < TICK_MIN_MS ? TICK_MIN_MS : t > TICK_MAX_MS ? TICK_MAX_MS : t;
}

/* Close a connection still in its handshake (criserver's own fd). */
static void drop_handshake(struct cri_socket *l, const struct conn *c)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conns_remove(l->conns, c->id, NULL);
}

/* Shut down a connection grpc owns, through criserver's duplicate; grpc
 * reads EOF and drops it. */
static void drop_grpc(struct cri_socket *l, const struct conn *c)
{
	shutdown(c->keep_fd, SHUT_RDWR);
	close(c->keep_fd);
	conns_remove(l->conns, c->id, NULL);
}

/* Forget connections grpc has closed: its fd no longer names the socket. */
static void prune(struct cri_socket *l)
{
	size_t n = conns_list_grpc(l->conns, l->scratch, l->opts.max_conns);

	for (size_t i = 0; i < n; i++) {
		const struct conn *c = &l->scratch[i];
		struct stat st;
		if (fstat(c->fd, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
			continue;
		if (conns_remove(l->conns, c->id, NULL) == 0)
			close(c->keep_fd);
	}
}

static bool log_due(time_t *last)
{
	time_t now = time(NULL);
	if (now - *last < LOG_EVERY_S)
		return false;
	*last = now;
	return true;
}

/* The table is full: close the connection the policy picks. false: every
 * connection has a call in flight. */
static bool make_room(struct cri_socket *l, int64_t now)
{
	struct conn v;

	prune(l);
	if (conns_count(l->conns) < l->opts.max_conns)
		return true;
	if (conns_victim(l->conns, now, IDLE_GRACE_MS, &v) < 0)
		return false;
	if (v.state == CONN_HANDSHAKE)
		drop_handshake(l, &v);
	else
		drop_grpc(l, &v);
	unsigned long n = atomic_fetch_add(&l->evicted, 1) + 1;
	if (log_due(&l->evicted_logged))
		log_info("%u CRI connections open, the limit (api.max_connections): closed the "
			 "one %s for a new client (%lu so far)", l->opts.max_conns,
			 v.state == CONN_HANDSHAKE ? "longest in its handshake" : "idle longest", n);
	return true;
}

static void refuse(struct cri_socket *l, int fd)
{
	close(fd);
	unsigned long n = atomic_fetch_add(&l->refused, 1) + 1;
	if (log_due(&l->refused_logged))
		log_warn("%u CRI connections open, the limit (api.max_connections), each with a "
			 "call in flight: refused a new client (%lu so far)", l->opts.max_conns, n);
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

/* A new connection: make room, then wait for its preface. */
static void admit(struct cri_socket *l, int fd, int64_t now)
{
	struct conn c = { .state = CONN_HANDSHAKE, .fd = fd, .keep_fd = -1, .since_ms = now,
			  .active_ms = now };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };
	struct conn old;
	struct stat st;
	uint64_t id;

	atomic_fetch_add(&l->accepted, 1);
	/* accept reused fd's number: grpc closed the connection that had it */
	while (conns_take_fd(l->conns, fd, &old) == 0)
		close(old.keep_fd);
	if (fstat(fd, &st) < 0) {
		log_warn_errno(-errno, "a new CRI connection: fstat: %m; closed");
		close(fd);
		return;
	}
	if (conns_count(l->conns) >= l->opts.max_conns && !make_room(l, now)) {
		refuse(l, fd);
		return;
	}
	c.dev = st.st_dev;
	c.ino = st.st_ino;
	if (conns_add(l->conns, &c, &id) < 0) {
		refuse(l, fd);
		return;
	}
	ev.data.u64 = id;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_warn_errno(-errno, "watch a CRI connection: %m");
		conns_remove(l->conns, id, NULL);
		close(fd);
		return;
	}
	log_peer(fd);
}

/* Its preface is in: grpc takes it over; criserver keeps a duplicate.
 * 1: handed over; 0: closed instead. */
static int hand_over(struct cri_socket *l, const struct conn *c)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	int keep = fcntl(c->fd, F_DUPFD_CLOEXEC, 3);
	if (keep < 0) {
		log_warn_errno(-errno, "CRI connection: duplicate its fd: %m; closing it");
		close(c->fd);
		conns_remove(l->conns, c->id, NULL);
		return 0;
	}
	conns_to_grpc(l->conns, c->id, keep, mono_ms());
	atomic_fetch_add(&l->handed, 1);
	if (l->opts.add(c->fd, l->opts.data) < 0) {     /* grpc closed c->fd */
		conns_remove(l->conns, c->id, NULL);
		close(keep);
		return 0;
	}
	return 1;
}

/* New bytes (or its end: hup) on a connection in its handshake. 1: handed
 * over. */
static int progress(struct cri_socket *l, uint64_t id, bool hup)
{
	struct conn c;

	if (conns_get(l->conns, id, &c) < 0 || c.state != CONN_HANDSHAKE)
		return 0;
	ssize_t n = recv(c.fd, l->peek, sizeof l->peek, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	int h = n > 0 ? h2_preface_check(l->peek, (size_t)n) : -ECONNRESET;
	if (h == 0 && hup)
		h = -ECONNRESET;                /* it stopped short of a whole preface */
	if (h == 0)
		return 0;
	if (h < 0) {
		if (h == -EPROTO) {
			atomic_fetch_add(&l->bad_preface, 1);
			log_debug("a CRI connection did not start with an HTTP/2 preface: closed");
		}
		drop_handshake(l, &c);
		return 0;
	}
	return hand_over(l, &c);
}

static int accept_batch(struct cri_socket *l)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return 0;
			return log_error_errno(-errno, "accept on %s: %m", l->path);
		}
		admit(l, fd, mono_ms());
	}
	return 0;
}

int cri_socket_process(struct cri_socket *l)
{
	struct epoll_event ev[EVENTS_BATCH];
	int handed = 0, err = 0;
	int n = epoll_wait(l->epfd, ev, EVENTS_BATCH, 0);

	for (int i = 0; i < n; i++) {
		if (ev[i].data.u64 == LISTEN_TAG) {
			int r = accept_batch(l);
			if (r < 0)
				err = r;
		} else {
			handed += progress(l, ev[i].data.u64,
					   ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
		}
	}
	return err < 0 ? err : handed;
}

void cri_socket_tick(struct cri_socket *l)
{
	int64_t now = mono_ms();
	struct conn c;

	while (conns_handshake_expired(l->conns, now, l->opts.handshake_ms, &c) == 0) {
		/* its last bytes may have come with the last edge: look once more */
		if (progress(l, c.id, false) != 0 || conns_get(l->conns, c.id, &c) < 0)
			continue;
		drop_handshake(l, &c);
		atomic_fetch_add(&l->expired, 1);
		log_debug("a CRI connection sent no HTTP/2 preface in %lld ms "
			  "(api.handshake_timeout): closed", (long long)l->opts.handshake_ms);
	}
	prune(l);
}

unsigned cri_socket_conns(struct cri_socket *l)
{
	prune(l);
	return conns_count(l->conns);
}

void cri_socket_get_stats(struct cri_socket *l, struct cri_socket_stats *ret)
{
	*ret = (struct cri_socket_stats){
		.open = conns_count(l->conns),
		.handshaking = conns_count_handshake(l->conns),
		.accepted = atomic_load(&l->accepted),
		.handed = atomic_load(&l->handed),
		.evicted = atomic_load(&l->evicted),
		.expired = atomic_load(&l->expired),
		.bad_preface = atomic_load(&l->bad_preface),
		.refused = atomic_load(&l->refused),
	};
}

uint64_t cri_socket_call_start(void *data, int fd)
{
	struct cri_socket *l = data;
	return fd < 0 ? 0 : conns_call_start(l->conns, fd, mono_ms());
}

void cri_socket_call_end(void *data, uint64_t token)
{
	struct cri_socket *l = data;
	conns_call_end(l->conns, token, mono_ms());
}

int cri_socket_close(struct cri_socket *l)
{
	struct stat st;
	int r = 0;

	if (!l || l->fd < 0)
		return 0;
	if (l->epfd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->fd, NULL);
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
	if (l->conns) {
		size_t n = conns_list_grpc(l->conns, l->scratch, l->opts.max_conns);
		for (size_t i = 0; i < n; i++)
			close(l->scratch[i].keep_fd);
		struct conn c;
		while (conns_handshake_expired(l->conns, INT64_MAX, 0, &c) == 0) {
			close(c.fd);
			conns_remove(l->conns, c.id, NULL);
		}
	}
	if (l->fd >= 0)
		close(l->fd);
	if (l->epfd >= 0)
		close(l->epfd);
	conns_free(l->conns);
	free(l->scratch);
	free(l->path);
	free(l);
}
