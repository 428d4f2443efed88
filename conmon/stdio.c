/*
 * stdio: see stdio.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "conmon/sock.h"
#include "conmon/stdio.h"

#define CONSOLE_NAME_MAX 4096           /* runc sends the pty's name with it */

static void stdio_init(struct conmon_stdio *s)
{
	*s = (struct conmon_stdio){ .child = { -1, -1, -1 }, .in = -1, .out = -1, .err = -1,
				    .pty = -1, .console = -1 };
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int devnull(int flags, int *ret)
{
	int fd = open("/dev/null", flags | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	*ret = fd;
	return 0;
}

/* A pipe; *mine is conmon's end (made non-blocking), *theirs runc's. */
static int pipe_pair(bool conmon_reads, int *mine, int *theirs)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	*mine = conmon_reads ? p[0] : p[1];
	*theirs = conmon_reads ? p[1] : p[0];
	return set_nonblock(*mine);
}

int conmon_stdio_pipes(bool want_stdin, struct conmon_stdio *ret)
{
	struct conmon_stdio s;
	stdio_init(&s);
	int r = want_stdin ? pipe_pair(false, &s.in, &s.child[0]) : devnull(O_RDONLY, &s.child[0]);
	if (r == 0)
		r = pipe_pair(true, &s.out, &s.child[1]);
	if (r == 0)
		r = pipe_pair(true, &s.err, &s.child[2]);
	if (r < 0) {
		conmon_stdio_close(&s);
		return r;
	}
	*ret = s;
	return 0;
}

int conmon_stdio_console(const char *dir, int dirfd, char *path, size_t len,
			 struct conmon_stdio *ret)
{
	struct conmon_stdio s;
	stdio_init(&s);
	int r = devnull(O_RDONLY, &s.child[0]);
	if (r == 0)
		r = devnull(O_WRONLY, &s.child[1]);
	if (r == 0)
		r = devnull(O_WRONLY, &s.child[2]);
	if (r == 0)
		r = conmon_sock_listen(dir, dirfd, CONMON_CONSOLE_SOCK, SOCK_STREAM, &s.console);
	if (r == 0)
		r = conmon_sock_path(dir, dirfd, CONMON_CONSOLE_SOCK, path, len);
	if (r < 0) {
		conmon_stdio_close(&s);
		return r;
	}
	*ret = s;
	return 0;
}

static void close_fds_of(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			close(fd);
		}
	}
}

int conmon_stdio_recv_fd(int sock, int *ret_fd)
{
	char data[CONSOLE_NAME_MAX];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { data, sizeof data };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof ctl.buf };
	ssize_t n;
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if ((m.msg_flags & MSG_CTRUNC) || !c || CMSG_NXTHDR(&m, c) ||
	    c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int))) {
		close_fds_of(&m);
		return -EBADMSG;
	}
	memcpy(ret_fd, CMSG_DATA(c), sizeof *ret_fd);
	return 0;
}

int conmon_stdio_console_take(struct conmon_stdio *s, int dirfd, bool want_stdin)
{
	int conn = accept4(s->console, NULL, NULL, SOCK_CLOEXEC);
	int r = conn < 0 ? -errno : 0;
	close(s->console);
	s->console = -1;
	unlinkat(dirfd, CONMON_CONSOLE_SOCK, 0);
	if (r < 0)
		return r;
	int fd;
	r = conmon_stdio_recv_fd(conn, &fd);
	close(conn);
	if (r < 0)
		return r;
	struct termios t;
	if (tcgetattr(fd, &t) < 0) {
		close(fd);
		return -ENOTTY;
	}
	r = set_nonblock(fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	s->pty = s->out = fd;
	s->in = want_stdin ? fd : -1;
	return 0;
}

void conmon_stdio_child_close(struct conmon_stdio *s)
{
	for (int i = 0; i < 3; i++) {
		if (s->child[i] >= 0)
			close(s->child[i]);
		s->child[i] = -1;
	}
}

void conmon_stdio_close_stdin(struct conmon_stdio *s)
{
	struct termios t;
	if (s->in >= 0 && s->in == s->pty) {
		if (tcgetattr(s->pty, &t) == 0 && write(s->pty, &t.c_cc[VEOF], 1) < 0) {
			/* best effort: a full input queue loses the ^D */
		}
	} else if (s->in >= 0) {
		close(s->in);
	}
	s->in = -1;
}

void conmon_stdio_close(struct conmon_stdio *s)
{
	conmon_stdio_child_close(s);
	if (s->in >= 0 && s->in != s->pty)
		close(s->in);
	if (s->out >= 0)
		close(s->out);
	if (s->err >= 0)
		close(s->err);
	if (s->console >= 0)
		close(s->console);
	stdio_init(s);
}
