/*
 * cri_socket: the CRI socket. Owns, while criserver is still root, the
 * AF_UNIX SOCK_STREAM socket at cfg.listen (a stale socket there is
 * unlinked, anything else is refused; bound under a umask so that it is
 * never reachable with a wider mode, then root:root 0660). After the drop: accepting connections (non-blocking,
 * CLOEXEC), the cap on connections open at once, and handing each one over.
 *
 * Connections are counted without holding them: grpc owns and closes an fd
 * once it is handed over, so cri_socket remembers each one's fd and inode
 * and counts it as open while that fd still names that socket (fstat). It
 * never keeps a duplicate: that would keep a socket alive that grpc closed.
 *
 * Its caller must hold RUNROOT/criserver.lock (common/daemon.c takes it), so
 * that a second criserver never unlinks the first one's socket.
 * Must never: unlink anything at the path but the socket it made; log the
 * contents of anything (it reads nothing from the connections).
 */
#pragma once
#include <stdbool.h>

struct cri_socket;

/* As root: make the socket at path (and its missing parent directories) and
 * listen on it. */
int cri_socket_open(const char *path, unsigned max_conns, struct cri_socket **ret);
int cri_socket_fd(const struct cri_socket *l);
/* Accept every waiting connection and pass each fd to add (which owns it
 * from then on, also when it fails). Over the cap, a connection is closed at
 * once. Returns the number handed over. */
int cri_socket_accept(struct cri_socket *l, int (*add)(int fd, void *data), void *data);
/* Connections open now. */
unsigned cri_socket_conns(struct cri_socket *l);
/* Stop listening: close the socket and unlink its path if it is still ours.
 * -EACCES/-EPERM: not allowed any more (after the privilege drop) and left
 * for the supervisor. */
int cri_socket_close(struct cri_socket *l);
void cri_socket_free(struct cri_socket *l);
