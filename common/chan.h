/*
 * chan: crisp's internal channel. Owns the framing of protobuf-c messages
 * over one connected AF_UNIX SOCK_SEQPACKET socket: one datagram is one
 * crisp.Envelope (proto/crisp.proto); payloads over CHAN_INLINE_MAX travel in
 * a sealed memfd passed with the datagram; an application fd may be passed
 * (one per message) only on channels opened with CHAN_FDS.
 *
 * Receiving is strict: a datagram that is truncated (MSG_TRUNC), carries
 * control data that was cut (MSG_CTRUNC), carries an fd it may not, a memfd
 * that is not sealed or is over the cap, or does not unpack, is -EPROTO: the
 * caller ends that peer, never the process. Surplus fds are closed.
 *
 * Sending is thread-safe (one sendmsg per message). Receiving is for one
 * thread at a time. Every fd made here is O_CLOEXEC. Returns negative errno.
 * Never logs.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <protobuf-c/protobuf-c.h>

#define CRISP_PROTOCOL_VERSION 1u
#define CHAN_INLINE_MAX   (60u * 1024u)         /* payload bytes sent inline */
#define CHAN_PAYLOAD_MAX  (64u * 1024u * 1024u) /* default cap of one payload */

enum chan_flags {
	CHAN_FDS = 1u << 0,     /* application fds may be passed on this channel */
	CHAN_NONBLOCK = 1u << 1,/* chan_recv returns -EAGAIN instead of waiting */
};

/* Envelope flags (mirror crisp.EnvelopeFlag). */
#define CHAN_MSG_ANSWER 1u
#define CHAN_MSG_MEMFD  2u
#define CHAN_MSG_FD     4u
#define CHAN_MSG_MORE   8u

struct chan;

/* One message, as sent or received. A received message owns its payload
 * and fd until chan_msg_clear(). */
struct chan_msg {
	uint32_t type;          /* crisp.MsgType */
	uint64_t id;
	uint32_t flags;         /* CHAN_MSG_ANSWER, CHAN_MSG_MORE (MEMFD/FD are set by chan) */
	int32_t status;         /* answers: gRPC status code */
	char *error;            /* answers: message for the user, or NULL */
	int64_t timeout_ms;     /* requests: time left, 0 = none */
	uint8_t *payload;
	size_t payload_len;
	int fd;                 /* application fd, -1 for none */
	bool payload_mapped;    /* internal: payload is an mmap of a memfd */
};

#define CHAN_MSG_INIT { .fd = -1 }

/* Wrap a connected SEQPACKET fd (the chan takes ownership of it). */
int chan_new(int fd, unsigned flags, struct chan **ret);
void chan_free(struct chan *c);             /* closes the fd */
int chan_fd(const struct chan *c);
void chan_set_payload_max(struct chan *c, size_t max);

/* Sockets. chan_listen binds a SEQPACKET socket at path (unlinking a stale
 * one), chmods it to mode and chowns it to owner/group (-1: leave). */
int chan_listen(const char *path, mode_t mode, uid_t owner, gid_t group, int *ret_fd);
int chan_accept(int listen_fd, int *ret_fd);            /* accept4(CLOEXEC) */
int chan_connect(const char *path, int *ret_fd);
int chan_socketpair(int ret_fds[2]);
int chan_peer_cred(int fd, pid_t *ret_pid, uid_t *ret_uid, gid_t *ret_gid);

/* Send m (payload copied into a sealed memfd when large). */
int chan_send(struct chan *c, const struct chan_msg *m);
/* Pack msg (may be NULL: empty payload) and send it. fd: -1 or an fd to pass
 * (not closed: the caller keeps its copy). */
int chan_send_pb(struct chan *c, uint32_t type, uint64_t id, uint32_t flags,
		 const ProtobufCMessage *msg, int fd);
/* Answer request req with status (0 OK) / error text / message. */
int chan_answer(struct chan *c, const struct chan_msg *req, int32_t status,
		const char *error, const ProtobufCMessage *msg, int fd);

/* Receive one message. 0 on success; -ECONNRESET on orderly EOF or reset;
 * -EAGAIN (CHAN_NONBLOCK) when nothing is waiting; -EPROTO on a bad message. */
int chan_recv(struct chan *c, struct chan_msg *ret);
/* chan_recv after waiting up to timeout_ms (< 0: no limit) for a message;
 * -ETIMEDOUT when none came. (EINTR restarts the wait with the full time.) */
int chan_recv_timeout(struct chan *c, int timeout_ms, struct chan_msg *ret);
void chan_msg_clear(struct chan_msg *m);

/* Unpack m's payload as desc (size already capped by chan_recv); -EPROTO when
 * it does not unpack. Free with protobuf_c_message_free_unpacked(). */
int chan_msg_unpack(const struct chan_msg *m, const ProtobufCMessageDescriptor *desc,
		    ProtobufCMessage **ret);

/* Handshake (Hello both ways). The client speaks first. The server checks the
 * version, that role is in allowed_roles (bit 1<<role) and returns it. */
int chan_hello_client(struct chan *c, int role, const char *name, int timeout_ms,
		      int *ret_server_role);
int chan_hello_server(struct chan *c, int role, const char *name, uint32_t allowed_roles,
		      int timeout_ms, int *ret_client_role);
/* The server's half for event loops: check m, the first message received on
 * c, and answer it: our Hello (OK) or an error answer saying why. Errors:
 * -EPROTO not a Hello, -EPROTONOSUPPORT version differs, -EPERM role not in
 * allowed_roles (chan_hello_client returns the same codes). */
int chan_hello_check(struct chan *c, const struct chan_msg *m, int role, const char *name,
		     uint32_t allowed_roles, int *ret_client_role);
