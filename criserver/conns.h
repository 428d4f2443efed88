/*
 * conns: the table of CRI client connections criserver holds, and the
 * policy that picks which one to close when a new client comes and the
 * table is full (api.max_connections). Owned by cri_socket.c, which does
 * every syscall; this is bookkeeping only (no I/O, no logging, times passed
 * in as CLOCK_MONOTONIC ms) so that the policy is driven by unit tests.
 * Thread-safe: calls start and end on grpc's threads (conns_call_*), the
 * rest runs on criserver's main loop.
 *
 * A connection is first in its handshake (criserver holds its fd and waits
 * for the HTTP/2 preface), then handed to grpc (grpc owns that fd;
 * criserver keeps a duplicate to shut the socket down by, keep_fd).
 *
 * When full, the one to close for a newcomer (conns_victim):
 *   1. handed to grpc, no call in flight, idle for at least grace_ms: the
 *      one idle longest (a client that left a channel open: cheap to open
 *      again);
 *   2. else the oldest still in its handshake (it has had the longest to
 *      send 24 + 9 bytes);
 *   3. else handed to grpc with no call in flight, however briefly: the one
 *      idle longest;
 *   4. else none (-EBUSY): every connection has a call in flight, and only
 *      then is a newcomer refused.
 * The grace in 1 keeps a busy client, between two of its calls, from being
 * cut for the sake of a connection that never finished its handshake.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conn_state { CONN_HANDSHAKE, CONN_GRPC };

struct conn {
	uint64_t id;                    /* unique, never 0 */
	enum conn_state state;
	int fd;                         /* HANDSHAKE: criserver's; GRPC: the number grpc owns */
	int keep_fd;                    /* GRPC: criserver's duplicate; -1 before */
	uint64_t dev, ino;              /* the socket fd named when it was accepted */
	int64_t since_ms;               /* accepted */
	int64_t active_ms;              /* handed over, or a call started or ended */
	unsigned calls;                 /* in flight */
};

struct conns;

int conns_new(unsigned max, struct conns **ret);
void conns_free(struct conns *t);
unsigned conns_count(struct conns *t);
/* Of those, still in their handshake. */
unsigned conns_count_handshake(struct conns *t);

/* Add c (its id is chosen here and returned); -ENOSPC when full. */
int conns_add(struct conns *t, const struct conn *c, uint64_t *ret_id);
int conns_get(struct conns *t, uint64_t id, struct conn *ret);
/* The handshake is done: grpc owns c.fd now, keep_fd is criserver's. */
int conns_to_grpc(struct conns *t, uint64_t id, int keep_fd, int64_t now_ms);
/* Take id out of the table (what it was into ret, may be NULL). -ENOENT. */
int conns_remove(struct conns *t, uint64_t id, struct conn *ret);
/* Take out a connection handed to grpc as fd (-ENOENT: none): that number
 * names something else now (accept just returned it). */
int conns_take_fd(struct conns *t, int fd, struct conn *ret);

/* A call started on the connection grpc knows as fd: its id as a token for
 * conns_call_end (0: no such connection, and end ignores 0). */
uint64_t conns_call_start(struct conns *t, int fd, int64_t now_ms);
void conns_call_end(struct conns *t, uint64_t id, int64_t now_ms);

/* The connection to close for a newcomer (left in the table); -EBUSY. */
int conns_victim(struct conns *t, int64_t now_ms, int64_t grace_ms, struct conn *ret);
/* The oldest connection in its handshake since before now_ms - limit_ms
 * (left in the table); -ENOENT. */
int conns_handshake_expired(struct conns *t, int64_t now_ms, int64_t limit_ms,
			    struct conn *ret);
/* Copy up to max connections handed to grpc into out; returns how many. */
size_t conns_list_grpc(struct conns *t, struct conn *out, size_t max);
