/*
 * ctl: the control socket (DIR/ctl, SOCK_SEQPACKET, 0600): one struct
 * conmon_ctl_req a datagram, answered by one struct conmon_ctl_resp.
 * A datagram of another size or an unknown type ends that client's
 * connection (no answer); a RESIZE out of range is answered -EINVAL. At most CONMON_CTL_CLIENTS at once. Owns the
 * sockets and the parsing; what a request does is the handler's (the
 * monitor's). Never logs.
 */
#pragma once
#include <stddef.h>

#include "conmon/conmon.h"

#define CONMON_CTL_SOCK "ctl"
#define CONMON_CTL_CLIENTS 4
#define CONMON_CTL_WINSIZE_MAX 65535    /* struct winsize has unsigned shorts */

struct conmon_ctl {
	int listen_fd;
	int c[CONMON_CTL_CLIENTS];      /* -1: free */
};

/* Returns the result to answer: 0 or a negative errno. */
typedef int (*conmon_ctl_handler)(const struct conmon_ctl_req *req, void *data);

/* buf/len: one datagram as received. -EBADMSG for another size,
 * -EOPNOTSUPP for an unknown type (both end the connection). Pure. */
int conmon_ctl_parse(const void *buf, size_t len, struct conmon_ctl_req *ret);
/* A well-formed request's values: -EINVAL (answered, the connection stays)
 * for a RESIZE of 0 or past CONMON_CTL_WINSIZE_MAX. Pure. */
int conmon_ctl_check(const struct conmon_ctl_req *r);

int conmon_ctl_listen(const char *dir, int dirfd, struct conmon_ctl *ret);
void conmon_ctl_accept(struct conmon_ctl *c);
/* Read client i's request, run h, answer; drop the client on EOF, on a bad
 * request or when the answer cannot be sent. */
void conmon_ctl_serve(struct conmon_ctl *c, int i, conmon_ctl_handler h, void *data);
void conmon_ctl_close(struct conmon_ctl *c);
