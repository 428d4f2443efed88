/*
 * test_conmon_stdio: receiving runc's pty master (conmon/stdio.c: exactly
 * one fd, MSG_CTRUNC and other shapes refused with every fd closed), the
 * pipes, and the attach socket's clients (conmon/attach.c: fan-out to two,
 * a full client dropped rather than waited for, input and EOF).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conmon/attach.h"
#include "conmon/stdio.h"
#include "tests/unit/unit.h"

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* send n fds (copies of fd 0) with one byte */
static void send_fds(int sock, int n)
{
	int fds[8];
	for (int i = 0; i < n; i++)
		fds[i] = 0;
	char ctl[CMSG_SPACE(sizeof fds)];
	memset(ctl, 0, sizeof ctl);
	struct iovec iov = { "x", 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n > 0) {
		m.msg_control = ctl;
		m.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	CHECK(sendmsg(sock, &m, 0) == 1);
}

TEST(conmon_stdio_recv_fd_shapes)
{
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	int before = open_fds(), fd = -1;

	send_fds(sp[1], 1);
	CHECK_RC(conmon_stdio_recv_fd(sp[0], &fd));
	CHECK(fd > 2 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	close(fd);
	CHECK(open_fds() == before);

	send_fds(sp[1], 0);                     /* no fd */
	CHECK(conmon_stdio_recv_fd(sp[0], &fd) == -EBADMSG);
	send_fds(sp[1], 2);                     /* two fds: fit the buffer, refused */
	CHECK(conmon_stdio_recv_fd(sp[0], &fd) == -EBADMSG);
	CHECK(open_fds() == before);
	send_fds(sp[1], 5);                     /* more than fit: MSG_CTRUNC */
	CHECK(conmon_stdio_recv_fd(sp[0], &fd) == -EBADMSG);
	CHECK(open_fds() == before);
	close(sp[1]);
	CHECK(conmon_stdio_recv_fd(sp[0], &fd) == -EBADMSG);  /* EOF: nothing came */
	close(sp[0]);
}

TEST(conmon_stdio_pipes)
{
	struct conmon_stdio s;
	CHECK_RC(conmon_stdio_pipes(true, &s));
	CHECK(s.in >= 0 && s.out >= 0 && s.err >= 0 && s.pty < 0);
	CHECK(fcntl(s.out, F_GETFL) & O_NONBLOCK);
	CHECK(!(fcntl(s.child[1], F_GETFL) & O_NONBLOCK));    /* the container's end blocks */
	CHECK(write(s.child[1], "o", 1) == 1 && write(s.child[2], "e", 1) == 1);
	char c;
	CHECK(read(s.out, &c, 1) == 1 && c == 'o' && read(s.err, &c, 1) == 1 && c == 'e');
	CHECK(write(s.in, "i", 1) == 1 && read(s.child[0], &c, 1) == 1 && c == 'i');
	conmon_stdio_close_stdin(&s);
	CHECK(s.in < 0 && read(s.child[0], &c, 1) == 0);      /* EOF for the container */
	conmon_stdio_child_close(&s);
	CHECK(read(s.out, &c, 1) == 0);
	conmon_stdio_close(&s);

	CHECK_RC(conmon_stdio_pipes(false, &s));
	CHECK(s.in < 0 && read(s.child[0], &c, 1) == 0);      /* /dev/null */
	conmon_stdio_close(&s);
}

static int attach_client(const char *dir)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, CONMON_ATTACH_SOCK);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
	return fd;
}

TEST(conmon_attach_fan_out_and_slow_client)
{
	int dfd = open(unit_tmpdir(), O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	struct conmon_attach a;
	CHECK_RC(conmon_attach_listen(unit_tmpdir(), dfd, &a));
	char path[600];
	snprintf(path, sizeof path, "%s/%s", unit_tmpdir(), CONMON_ATTACH_SOCK);
	struct stat st;
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	int c1 = attach_client(unit_tmpdir()), c2 = attach_client(unit_tmpdir());
	conmon_attach_accept(&a);
	conmon_attach_accept(&a);
	CHECK(a.c[0].fd >= 0 && a.c[1].fd >= 0);

	/* a chunk over CONMON_ATTACH_CHUNK goes as several datagrams */
	static char big[CONMON_ATTACH_CHUNK + 10];
	memset(big, 'b', sizeof big);
	conmon_attach_send(&a, CONMON_ATTACH_STDERR, big, sizeof big);
	static char buf[CONMON_ATTACH_CHUNK + 2];
	for (int k = 0; k < 2; k++) {
		int c = k ? c2 : c1;
		CHECK(recv(c, buf, sizeof buf, 0) == CONMON_ATTACH_CHUNK + 1);
		CHECK(buf[0] == CONMON_ATTACH_STDERR && buf[1] == 'b');
		CHECK(recv(c, buf, sizeof buf, 0) == 11 && buf[0] == CONMON_ATTACH_STDERR);
	}
	/* c2 stops reading: it is dropped once full, c1 keeps everything */
	int sent = 0;
	for (; sent < 10000 && a.c[1].fd >= 0; sent++) {
		conmon_attach_send(&a, CONMON_ATTACH_STDOUT, big, 1000);
		CHECK(recv(c1, buf, sizeof buf, 0) == 1001);
	}
	CHECK(a.c[1].fd < 0 && a.c[0].fd >= 0 && sent < 10000);
	int got = 0;
	while (recv(c2, buf, sizeof buf, 0) > 0)
		got++;
	CHECK(got > 0 && got < sent);                   /* then its EOF */

	/* input and EOF */
	CHECK(send(c1, "in", 2, 0) == 2);
	CHECK(conmon_attach_recv(&a, 0, buf, sizeof buf) == 2 && !memcmp(buf, "in", 2));
	CHECK(conmon_attach_recv(&a, 0, buf, sizeof buf) == -EAGAIN);
	CHECK(shutdown(c1, SHUT_WR) == 0);
	CHECK(conmon_attach_recv(&a, 0, buf, sizeof buf) == 0 && a.c[0].input_done);
	conmon_attach_send(&a, CONMON_ATTACH_STDOUT, "after", 5);   /* still gets output */
	CHECK(recv(c1, buf, sizeof buf, 0) == 6);
	/* a datagram over the cap drops the client */
	int c3 = attach_client(unit_tmpdir());
	conmon_attach_accept(&a);
	CHECK(a.c[1].fd >= 0);
	CHECK(send(c3, big, sizeof big, 0) == (ssize_t)sizeof big);
	CHECK(conmon_attach_recv(&a, 1, buf, sizeof buf) == -EMSGSIZE && a.c[1].fd < 0);
	conmon_attach_close(&a);
	CHECK(recv(c1, buf, sizeof buf, 0) == 0);
	close(c1);
	close(c2);
	close(c3);
	close(dfd);
}

TEST(conmon_attach_client_limit)
{
	int dfd = open(unit_tmpdir(), O_DIRECTORY | O_CLOEXEC);
	struct conmon_attach a;
	CHECK_RC(conmon_attach_listen(unit_tmpdir(), dfd, &a));
	int c[CONMON_ATTACH_CLIENTS + 1];
	for (int i = 0; i <= CONMON_ATTACH_CLIENTS; i++) {
		c[i] = attach_client(unit_tmpdir());
		conmon_attach_accept(&a);
	}
	char b;
	CHECK(recv(c[CONMON_ATTACH_CLIENTS], &b, 1, 0) == 0);  /* refused: closed at once */
	conmon_attach_send(&a, CONMON_ATTACH_STDOUT, "x", 1);
	for (int i = 0; i < CONMON_ATTACH_CLIENTS; i++) {
		char buf[4];
		CHECK(recv(c[i], buf, sizeof buf, 0) == 2);
	}
	for (int i = 0; i <= CONMON_ATTACH_CLIENTS; i++)
		close(c[i]);
	conmon_attach_close(&a);
	close(dfd);
}
