/*
 * attach: the attach socket (DIR/attach, SOCK_SEQPACKET, 0600) and its
 * clients, at most CONMON_ATTACH_CLIENTS (one more is accepted and closed
 * at once). Output goes to every client as datagrams of one stream byte
 * and at most CONMON_ATTACH_CHUNK bytes, sent MSG_DONTWAIT: a client whose
 * socket buffer is full is dropped, never waited for, so a slow client
 * cannot hold up the log or the other clients. A client's datagrams are
 * the container's stdin; its EOF (shutdown(SHUT_WR) or close) ends its
 * input while it still receives output until it closes. Owns the sockets;
 * never touches the container's fds (the monitor moves the bytes).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conmon/conmon.h"

#define CONMON_ATTACH_SOCK "attach"

struct conmon_attach_client {
	int fd;                         /* -1: free slot */
	bool input_done;                /* its EOF came: poll it for hang-up only */
};

struct conmon_attach {
	int listen_fd;
	struct conmon_attach_client c[CONMON_ATTACH_CLIENTS];
};

int conmon_attach_listen(const char *dir, int dirfd, struct conmon_attach *ret);
/* Take one waiting connection (or refuse it past the limit). */
void conmon_attach_accept(struct conmon_attach *a);
/* Send len bytes of stream to every client; drops those that cannot take it. */
void conmon_attach_send(struct conmon_attach *a, int stream, const char *buf, size_t len);
/* Read one datagram of client i into buf (cap CONMON_ATTACH_CHUNK):
 * > 0 bytes, 0 its EOF (input_done set), -EAGAIN nothing yet; any other
 * error (or a datagram over the cap) drops the client and returns it. */
ssize_t conmon_attach_recv(struct conmon_attach *a, int i, char *buf, size_t cap);
void conmon_attach_drop(struct conmon_attach *a, int i);
void conmon_attach_close(struct conmon_attach *a);
