/*
 * server: the listening side of crisp's internal channel (see server.h).
 * Owns the listening sockets, accepting (SO_PEERCRED uid check before
 * anything is read), the peers' life (Hello deadline, ending, reference
 * counts) and the server object. Message handling is server_dispatch.c.
 * Runs on the loop thread; logs peer errors (its boundary). Must never let
 * one peer's error end the daemon or touch another peer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "common/server_int.h"

uint64_t server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void server_unref(struct server *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->name);
	free(s);
}

void peer_ref(struct peer *p)
{
	atomic_fetch_add(&p->refs, 1);
}

void peer_unref(struct peer *p)
{
	if (atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	chan_free(p->chan);
	pthread_mutex_destroy(&p->lock);
	server_unref(p->server);
	free(p);
}

void peer_end(struct peer *p)
{
	struct server *s = p->server;

	if (p->state == PEER_DEAD)
		return;
	loop_remove(s->loop, p->src);
	loop_remove(s->loop, p->hello_timer);
	p->src = p->hello_timer = NULL;
	pthread_mutex_lock(&p->lock);
	p->state = PEER_DEAD;
	for (struct req_node *n = p->reqs; n; n = n->next)
		atomic_store(&n->req.cancelled, true);
	pthread_mutex_unlock(&p->lock);
	(void)shutdown(chan_fd(p->chan), SHUT_RDWR);
	if (p->prev)
		p->prev->next = p->next;
	else
		s->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	atomic_fetch_sub(&s->n_peers, 1);
	peer_unref(p);
}

int peer_fail(struct peer *p, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	log_warn("%s: ending peer pid %d uid %u role %d: %s", p->server->name,
		 (int)p->pid, (unsigned)p->uid, p->role, why);
	peer_end(p);
	return -EPROTO;
}

static int peer_hello_timeout(struct loop *l, void *data)
{
	struct peer *p = data;

	(void)peer_fail(p, "no Hello within %d ms", SERVER_HELLO_TIMEOUT_MS);
	return 0;
}

static int peer_setup(struct peer *p, int fd, const struct listener *ln)
{
	struct timeval tv = {
		.tv_sec = SERVER_SEND_TIMEOUT_MS / 1000,
		.tv_usec = (SERVER_SEND_TIMEOUT_MS % 1000) * 1000,
	};
	struct loop *l = ln->server->loop;
	int r;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
		return -errno;
	r = chan_new(fd, ln->chan_flags | CHAN_NONBLOCK, &p->chan);
	if (r < 0)
		return r;
	r = loop_add_fd(l, fd, EPOLLIN, peer_on_readable, p, &p->src);
	if (r < 0)
		return r;
	return loop_add_timer(l, SERVER_HELLO_TIMEOUT_MS, 0, peer_hello_timeout, p,
			      &p->hello_timer);
}

/* Take a connected fd from ln: check its uid, then wait for its Hello. */
static void peer_accept(struct listener *ln, int fd)
{
	struct server *s = ln->server;
	struct peer *p;
	pid_t pid = 0;
	uid_t uid = (uid_t)-1;
	int r;

	r = chan_peer_cred(fd, &pid, &uid, NULL);
	if (r < 0) {
		log_warn_errno(r, "%s: %s: SO_PEERCRED: %m", s->name, ln->path);
		close(fd);
		return;
	}
	if (ln->peer_uid != (uid_t)-1 && uid != ln->peer_uid) {
		log_warn("%s: %s: refusing peer pid %d: uid %u is not allowed here",
			 s->name, ln->path, (int)pid, (unsigned)uid);
		close(fd);
		return;
	}
	if (atomic_load(&s->n_peers) >= SERVER_PEERS_MAX) {
		log_warn("%s: %s: refusing peer pid %d: %d peers already", s->name,
			 ln->path, (int)pid, SERVER_PEERS_MAX);
		close(fd);
		return;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		close(fd);
		return;
	}
	p->server = s;
	p->pid = pid;
	p->uid = uid;
	p->roles = ln->roles;
	p->state = PEER_HELLO;
	atomic_init(&p->refs, 1);
	pthread_mutex_init(&p->lock, NULL);
	r = peer_setup(p, fd, ln);
	if (r < 0) {
		log_warn_errno(r, "%s: peer pid %d: setting up: %m", s->name, (int)pid);
		loop_remove(s->loop, p->src);
		loop_remove(s->loop, p->hello_timer);
		if (p->chan)
			chan_free(p->chan);
		else
			close(fd);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return;
	}
	atomic_fetch_add(&s->refs, 1);
	atomic_fetch_add(&s->n_peers, 1);
	p->next = s->peers;
	if (s->peers)
		s->peers->prev = p;
	s->peers = p;
	log_debug("%s: peer pid %d uid %u connected on %s", s->name, (int)pid,
		  (unsigned)uid, ln->path);
}

static int listener_on_readable(struct loop *l, int fd, uint32_t events, void *data);

static int listener_retry(struct loop *l, void *data)
{
	struct listener *ln = data;

	ln->retry = NULL;
	if (loop_add_fd(l, ln->fd, EPOLLIN, listener_on_readable, ln, &ln->src) < 0)
		ln->src = NULL;
	return -1;                      /* removes this one-shot timer */
}

/* Out of fds: stop accepting for a second instead of spinning. */
static int listener_pause(struct listener *ln)
{
	struct loop *l = ln->server->loop;

	if (ln->retry || loop_add_timer(l, 1000, 0, listener_retry, ln, &ln->retry) < 0)
		return 0;               /* keep trying on each wake-up */
	ln->src = NULL;
	return -1;                      /* removes the listener's source */
}

static int listener_on_readable(struct loop *l, int fd, uint32_t events, void *data)
{
	struct listener *ln = data;

	for (int i = 0; i < SERVER_RECV_BATCH; i++) {
		int cfd, r = chan_accept(fd, &cfd);
		if (r == -EAGAIN)
			return 0;
		if (r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM) {
			log_warn_errno(r, "%s: %s: accept: %m; pausing", ln->server->name, ln->path);
			return listener_pause(ln);
		}
		if (r < 0) {
			log_warn_errno(r, "%s: %s: accept: %m", ln->server->name, ln->path);
			return 0;
		}
		peer_accept(ln, cfd);
	}
	return 0;
}

int server_new(struct loop *l, int role, const char *name,
	       const struct dispatch_entry *table, size_t n_table, void *userdata,
	       struct server **ret)
{
	struct server *s;

	if (!l || !name || (n_table > 0 && !table) || !ret || role <= 0 || role >= 32)
		return -EINVAL;
	for (size_t i = 0; i < n_table; i++)
		if (!table[i].handle || table[i].type <= SERVER_BUILTIN_MAX)
			return -EINVAL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->name = strdup(name);
	if (!s->name) {
		free(s);
		return -ENOMEM;
	}
	s->loop = l;
	s->role = role;
	s->table = table;
	s->n_table = n_table;
	s->userdata = userdata;
	s->started_ms = server_now_ms();
	atomic_init(&s->refs, 1);
	atomic_init(&s->n_peers, 0);
	atomic_init(&s->in_flight, 0);
	*ret = s;
	return 0;
}

int server_listen(struct server *s, const char *path, mode_t mode, uid_t owner, gid_t group,
		  uid_t peer_uid, uint32_t roles, unsigned chan_flags)
{
	struct listener *ln;
	int r;

	if (!s || !path || (chan_flags & ~(unsigned)CHAN_FDS))
		return -EINVAL;
	ln = calloc(1, sizeof *ln);
	if (!ln)
		return -ENOMEM;
	ln->server = s;
	ln->path = strdup(path);
	if (!ln->path) {
		free(ln);
		return -ENOMEM;
	}
	r = chan_listen(path, mode, owner, group, &ln->fd);
	if (r < 0)
		goto fail;
	r = loop_add_fd(s->loop, ln->fd, EPOLLIN, listener_on_readable, ln, &ln->src);
	if (r < 0) {
		close(ln->fd);
		unlink(path);
		goto fail;
	}
	ln->peer_uid = peer_uid;
	ln->roles = roles;
	ln->chan_flags = chan_flags;
	ln->next = s->listeners;
	s->listeners = ln;
	return 0;
fail:
	free(ln->path);
	free(ln);
	return r;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	while (s->listeners) {
		struct listener *ln = s->listeners;
		s->listeners = ln->next;
		loop_remove(s->loop, ln->src);
		loop_remove(s->loop, ln->retry);
		close(ln->fd);
		unlink(ln->path);
		free(ln->path);
		free(ln);
	}
	while (s->peers)
		peer_end(s->peers);
	server_unref(s);
}

unsigned server_peer_count(const struct server *s)
{
	return s ? atomic_load(&s->n_peers) : 0;
}

unsigned server_requests_in_flight(const struct server *s)
{
	return s ? atomic_load(&s->in_flight) : 0;
}
