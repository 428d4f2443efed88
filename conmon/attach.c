/*
 * attach: see attach.h.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conmon/attach.h"
#include "conmon/sock.h"

int conmon_attach_listen(const char *dir, int dirfd, struct conmon_attach *ret)
{
	for (int i = 0; i < CONMON_ATTACH_CLIENTS; i++)
		ret->c[i] = (struct conmon_attach_client){ .fd = -1 };
	ret->listen_fd = -1;
	return conmon_sock_listen(dir, dirfd, CONMON_ATTACH_SOCK, SOCK_SEQPACKET, &ret->listen_fd);
}

void conmon_attach_accept(struct conmon_attach *a)
{
	int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (int i = 0; i < CONMON_ATTACH_CLIENTS; i++) {
		if (a->c[i].fd < 0) {
			a->c[i] = (struct conmon_attach_client){ .fd = fd };
			return;
		}
	}
	close(fd);                      /* full */
}

void conmon_attach_drop(struct conmon_attach *a, int i)
{
	if (a->c[i].fd >= 0)
		close(a->c[i].fd);
	a->c[i] = (struct conmon_attach_client){ .fd = -1 };
}

static bool send_one(int fd, unsigned char stream, const char *buf, size_t len)
{
	struct iovec iov[2] = { { &stream, 1 }, { (void *)buf, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;
	do
		n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)(len + 1);
}

void conmon_attach_send(struct conmon_attach *a, int stream, const char *buf, size_t len)
{
	for (int i = 0; i < CONMON_ATTACH_CLIENTS; i++) {
		if (a->c[i].fd < 0)
			continue;
		for (size_t off = 0; off < len;) {
			size_t n = len - off < CONMON_ATTACH_CHUNK ? len - off : CONMON_ATTACH_CHUNK;
			if (!send_one(a->c[i].fd, (unsigned char)stream, buf + off, n)) {
				conmon_attach_drop(a, i);   /* full, or gone */
				break;
			}
			off += n;
		}
	}
}

ssize_t conmon_attach_recv(struct conmon_attach *a, int i, char *buf, size_t cap)
{
	if (cap > CONMON_ATTACH_CHUNK)
		cap = CONMON_ATTACH_CHUNK;
	struct iovec iov = { buf, cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	do
		n = recvmsg(a->c[i].fd, &m, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN;
	if (n < 0 || (m.msg_flags & MSG_TRUNC)) {
		int e = n < 0 ? -errno : -EMSGSIZE;
		conmon_attach_drop(a, i);
		return e;
	}
	if (n == 0)
		a->c[i].input_done = true;
	return n;
}

void conmon_attach_close(struct conmon_attach *a)
{
	for (int i = 0; i < CONMON_ATTACH_CLIENTS; i++)
		conmon_attach_drop(a, i);
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	a->listen_fd = -1;
}
