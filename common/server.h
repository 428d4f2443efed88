/*
 * server: the request side of crisp's internal channel, for the daemons that
 * others ask (imaged, sandboxd, streamd). Owns the listening sockets, the
 * peers accepted on them (peer uid checked with SO_PEERCRED, then the Hello
 * handshake with the role allowed on that socket), and the dispatch of each
 * request through the daemon's one dispatch table: the only place that says
 * who may ask the daemon what. A request that is not in the table, comes
 * from a role the entry does not allow, or does not unpack, ends that peer.
 * MSG_HELLO, MSG_HEALTH and MSG_CANCEL are handled here for every daemon.
 *
 * Requests may be answered later and from any thread (server_answer); a
 * request whose peer went away is marked cancelled and its answer dropped.
 * Runs on a struct loop; logs peer errors (that is its boundary).
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/chan.h"
#include "common/loop.h"

struct server;
struct peer;

#define ROLE_BIT(r) (1u << (r))

struct server_req {
	struct server *server;
	struct peer *peer;
	int peer_role;              /* crisp.Role of the asker */
	pid_t peer_pid;
	uid_t peer_uid;
	struct chan_msg msg;        /* the request; msg.fd is the passed fd, if any
				     * (closed when answered: set it to -1 to keep it) */
	ProtobufCMessage *body;     /* unpacked payload (NULL if the entry has no type) */
	atomic_bool cancelled;      /* asker cancelled, or went away */
	void *data;                 /* for the handler */
};

struct dispatch_entry {
	uint32_t type;              /* crisp.MsgType */
	uint32_t roles;             /* ROLE_BIT()s that may ask */
	const ProtobufCMessageDescriptor *request; /* payload type, NULL for none */
	bool takes_fd;              /* the request may carry an fd */
	/* Return 0 once answered or handed off (answer later with server_answer);
	 * < 0 to answer INTERNAL with strerror. */
	int (*handle)(struct server_req *req, void *userdata);
};

/* table must outlive the server and may not hold the built-in types
 * (MSG_HELLO, MSG_CANCEL, MSG_HEALTH): -EINVAL. */
int server_new(struct loop *l, int role, const char *name,
	       const struct dispatch_entry *table, size_t n_table, void *userdata,
	       struct server **ret);
/* Listen at path: socket mode/owner/group as chan_listen; only peers with uid
 * peer_uid ((uid_t)-1: any uid) may stay, and only with a role in roles.
 * chan_flags: 0 or CHAN_FDS. */
int server_listen(struct server *s, const char *path, mode_t mode, uid_t owner, gid_t group,
		  uid_t peer_uid, uint32_t roles, unsigned chan_flags);
/* Close peers and listening sockets; unlinks the socket files. On the loop
 * thread (or with the loop stopped), before loop_free. Requests still in
 * flight are marked cancelled and may still be answered (dropped) later. */
void server_free(struct server *s);

/* Answer req and free it. status is a gRPC code (0 OK, common/status.h);
 * error its text. May be called from any thread, once per request. When
 * the asker is gone the answer is dropped and 0 returned. Each peer has at
 * most 1024 requests in flight; more are answered RESOURCE_EXHAUSTED. */
int server_answer(struct server_req *req, int32_t status, const char *error,
		  const ProtobufCMessage *msg, int fd);
/* Send one streamed part of an answer (ENVELOPE_MORE); req stays open.
 * -ECANCELED once the asker cancelled or went away: stop and server_answer. */
int server_answer_more(struct server_req *req, const ProtobufCMessage *msg);

unsigned server_peer_count(const struct server *s);
unsigned server_requests_in_flight(const struct server *s);
