/*
 * cri_socket: the CRI socket and the connections on it. Owns, while
 * criserver is still root, the AF_UNIX SOCK_STREAM socket at cfg.listen (a
 * stale socket there is unlinked, anything else is refused; bound under a
 * umask so that it is never reachable with a wider mode, then root:root
 * 0660). After the drop: accepting connections (non-blocking, CLOEXEC), each
 * one's handshake, the cap on connections open at once, and handing each
 * one to grpc.
 *
 * The handshake: a new connection stays with criserver (in its own epoll
 * set, edge-triggered) until the client's whole HTTP/2 preface has arrived
 * (h2_preface.c, read with MSG_PEEK so grpc still reads every byte); only
 * then is it handed to grpc. grpc's own handshake timeout
 * (GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS) does not apply to connections
 * added with grpc_server_add_channel_from_fd (that path has no handshaker),
 * so a connection that sends nothing, half a preface or anything but
 * HTTP/2 never reaches grpc: it is closed at api.handshake_timeout, at once
 * for a wrong preface, or at its EOF.
 *
 * The cap (api.max_connections) counts both kinds. A newcomer is never
 * turned away while some connection has no call in flight: the one to close
 * is chosen by conns.c's policy (idle longest, else oldest in its
 * handshake), and only when every connection has a call in flight is the
 * newcomer closed (and that is logged).
 *
 * Knowing which connection is idle: grpc tells nothing of its transports,
 * but a call's peer for a transport added from fd N is "fd:N" (grpc names
 * the endpoint so), so rpc_call.c reports each call's start and end with
 * that fd (cri_socket_call_start/_end) and conns.c counts calls in flight
 * per connection. An fd number is only reused after grpc closed it; when
 * accept returns a number a connection still has in the table, that entry
 * is gone and is dropped first, so a call is never counted on the wrong
 * connection except for one that starts on a transport grpc is tearing down
 * at that very moment (it ends at once).
 *
 * Closing a connection grpc owns: shutdown(SHUT_RDWR) on the socket, which
 * grpc sees as EOF and drops the transport, closing its fd. The shutdown
 * goes through criserver's own duplicate of the fd (keep_fd), never through
 * grpc's number, which grpc may have closed and something else reused by
 * then. The duplicate does not keep a socket alive for the client after
 * grpc is done: grpc shuts a socket down before it closes its fd, and each
 * tick closes the duplicates of connections whose fd grpc has closed (its
 * number no longer names that socket: fstat, device and inode).
 * An idle connection is closed by grpc (GRPC_ARG_MAX_CONNECTION_IDLE_MS,
 * rpc_server.c), with a GOAWAY first.
 *
 * Its caller must hold RUNROOT/criserver.lock (common/daemon.c takes it), so
 * that a second criserver never unlinks the first one's socket.
 * Must never: unlink anything at the path but the socket it made; close an
 * fd it handed to grpc; log the contents of anything (it reads only the
 * preface, without consuming it).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct cri_socket;

struct cri_socket_opts {
	unsigned max_conns;             /* api.max_connections */
	int64_t handshake_ms;           /* api.handshake_timeout */
	/* Hand a connection over (to grpc); add owns fd from then on, also when
	 * it fails (returns < 0). */
	int (*add)(int fd, void *data);
	void *data;
};

struct cri_socket_stats {
	unsigned open;                  /* connections now, in their handshake or grpc's */
	unsigned handshaking;           /* of which in their handshake */
	unsigned long accepted;
	unsigned long handed;           /* to grpc */
	unsigned long evicted;          /* closed for a newcomer, the table being full */
	unsigned long expired;          /* closed at api.handshake_timeout */
	unsigned long bad_preface;      /* closed: not HTTP/2 */
	unsigned long refused;          /* newcomers closed: every connection had a call */
};

/* As root: make the socket at path (and its missing parent directories) and
 * listen on it. */
int cri_socket_open(const char *path, const struct cri_socket_opts *o, struct cri_socket **ret);
/* The fd to watch for EPOLLIN: then call cri_socket_process. */
int cri_socket_fd(const struct cri_socket *l);
/* Accept every waiting connection and move on every handshake that has new
 * bytes. Returns the number handed over, or < 0 when accept failed (EMFILE
 * and the like: logged; the caller may pause). */
int cri_socket_process(struct cri_socket *l);
/* Every cri_socket_tick_ms: close handshakes that took too long, forget
 * connections grpc has closed. */
void cri_socket_tick(struct cri_socket *l);
int64_t cri_socket_tick_ms(const struct cri_socket *l);
/* Connections open now (after forgetting those grpc closed). */
unsigned cri_socket_conns(struct cri_socket *l);
/* Any thread. */
void cri_socket_get_stats(struct cri_socket *l, struct cri_socket_stats *ret);

/* The rpc server's connection hooks (struct rpc_server_opts): any thread. */
uint64_t cri_socket_call_start(void *l, int fd);
void cri_socket_call_end(void *l, uint64_t token);

/* Stop listening: close the socket and unlink its path if it is still ours.
 * -EACCES/-EPERM: not allowed any more (after the privilege drop) and left
 * for the supervisor. */
int cri_socket_close(struct cri_socket *l);
/* Close what is left: connections in their handshake, criserver's
 * duplicates of the others (grpc keeps its own). */
void cri_socket_free(struct cri_socket *l);
