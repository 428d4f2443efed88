/*
 * server_int: the objects shared by server.c (sockets, peers, their life)
 * and server_dispatch.c (messages, requests, answers). Internal to
 * common/server*.c; nothing else may include it.
 *
 * Lifetimes: the server and each peer are reference counted. A peer holds a
 * reference on its server, and each request in flight holds one on its
 * peer, so server_answer() from another thread after the peer (or the
 * server) is gone touches only memory that is still there. Ending a peer
 * (loop thread) shuts its socket down at once; the fd is closed when the
 * last reference goes.
 */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include "common/server.h"
#include "crisp.pb-c.h"

#define SERVER_PEERS_MAX        1024    /* connected peers per server */
#define SERVER_REQS_MAX         1024    /* requests in flight per peer */
#define SERVER_HELLO_TIMEOUT_MS 10000   /* a peer must say Hello by then */
#define SERVER_SEND_TIMEOUT_MS  5000    /* a peer that does not read is ended */
#define SERVER_RECV_BATCH       32      /* messages read per wake-up, for fairness */
/* Types up to this one are the server's own (Hello, Cancel, Health): never in a table. */
#define SERVER_BUILTIN_MAX      CRISP__MSG_TYPE__MSG_HEALTH

struct listener {
	struct server *server;
	char *path;
	int fd;
	uid_t peer_uid;                 /* (uid_t)-1: any */
	uint32_t roles;
	unsigned chan_flags;
	struct loop_source *src;
	struct loop_source *retry;      /* re-arm timer after EMFILE */
	struct listener *next;
};

enum peer_state { PEER_HELLO, PEER_READY, PEER_DEAD };

/* A request and its links in its peer's list. */
struct req_node {
	struct server_req req;
	struct req_node *prev, *next;
};

struct peer {
	struct server *server;
	struct chan *chan;
	pid_t pid;
	uid_t uid;
	int role;
	uint32_t roles;                 /* allowed on the socket it came in on */
	atomic_uint refs;
	pthread_mutex_t lock;           /* guards state, reqs, n_reqs */
	enum peer_state state;
	struct req_node *reqs;
	unsigned n_reqs;
	struct loop_source *src;        /* loop thread only from here down */
	struct loop_source *hello_timer;
	struct peer *prev, *next;
};

struct server {
	struct loop *loop;
	int role;
	char *name;
	const struct dispatch_entry *table;
	size_t n_table;
	void *userdata;
	uint64_t started_ms;            /* CLOCK_MONOTONIC */
	atomic_uint refs;
	atomic_uint n_peers;
	atomic_uint in_flight;
	struct listener *listeners;     /* loop thread */
	struct peer *peers;             /* loop thread */
};

/* server.c */
void peer_ref(struct peer *p);
void peer_unref(struct peer *p);
/* End p (loop thread): no more reads, requests cancelled, socket shut down. */
void peer_end(struct peer *p);
/* Log why (a warning naming the peer) and end p. Returns -EPROTO. */
int peer_fail(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t server_now_ms(void);

/* server_dispatch.c: the peer's socket is readable. */
int peer_on_readable(struct loop *l, int fd, uint32_t events, void *data);
