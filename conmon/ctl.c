/*
 * ctl: see ctl.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conmon/ctl.h"
#include "conmon/sock.h"

int conmon_ctl_parse(const void *buf, size_t len, struct conmon_ctl_req *ret)
{
	struct conmon_ctl_req r;
	if (len != sizeof r)
		return -EBADMSG;
	memcpy(&r, buf, sizeof r);
	switch (r.type) {
	case CONMON_CTL_REOPEN_LOG:
	case CONMON_CTL_RESIZE:
	case CONMON_CTL_CLOSE_STDIN:
		*ret = r;
		return 0;
	}
	return -EOPNOTSUPP;
}

int conmon_ctl_check(const struct conmon_ctl_req *r)
{
	if (r->type == CONMON_CTL_RESIZE &&
	    (r->a == 0 || r->b == 0 || r->a > CONMON_CTL_WINSIZE_MAX || r->b > CONMON_CTL_WINSIZE_MAX))
		return -EINVAL;
	return 0;
}

int conmon_ctl_listen(const char *dir, int dirfd, struct conmon_ctl *ret)
{
	for (int i = 0; i < CONMON_CTL_CLIENTS; i++)
		ret->c[i] = -1;
	ret->listen_fd = -1;
	return conmon_sock_listen(dir, dirfd, CONMON_CTL_SOCK, SOCK_SEQPACKET, &ret->listen_fd);
}

void conmon_ctl_accept(struct conmon_ctl *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (int i = 0; i < CONMON_CTL_CLIENTS; i++) {
		if (c->c[i] < 0) {
			c->c[i] = fd;
			return;
		}
	}
	close(fd);
}

static void drop(struct conmon_ctl *c, int i)
{
	close(c->c[i]);
	c->c[i] = -1;
}

void conmon_ctl_serve(struct conmon_ctl *c, int i, conmon_ctl_handler h, void *data)
{
	char buf[sizeof(struct conmon_ctl_req) + 1];   /* one more: a longer datagram shows */
	ssize_t n;
	do
		n = recv(c->c[i], buf, sizeof buf, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	struct conmon_ctl_req req;
	if (n <= 0 || conmon_ctl_parse(buf, (size_t)n, &req) < 0) {
		drop(c, i);
		return;
	}
	int r = conmon_ctl_check(&req);
	struct conmon_ctl_resp resp = { .result = r < 0 ? r : h(&req, data) };
	if (send(c->c[i], &resp, sizeof resp, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof resp)
		drop(c, i);
}

void conmon_ctl_close(struct conmon_ctl *c)
{
	for (int i = 0; i < CONMON_CTL_CLIENTS; i++)
		if (c->c[i] >= 0)
			drop(c, i);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	c->listen_fd = -1;
}
