/*
 * test_conmon_ctl: conmon/ctl.c, the control socket's requests: parsing
 * (exact size, known type), value checks, and a served connection over a
 * real SOCK_SEQPACKET socket in a temporary directory (a bad request ends
 * the connection, a good one is answered with the handler's result).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conmon/ctl.h"
#include "tests/unit/unit.h"

TEST(conmon_ctl_parse)
{
	struct conmon_ctl_req r = { CONMON_CTL_RESIZE, 80, 24 }, out;
	CHECK_RC(conmon_ctl_parse(&r, sizeof r, &out));
	CHECK(out.type == CONMON_CTL_RESIZE && out.a == 80 && out.b == 24);
	CHECK(conmon_ctl_parse(&r, sizeof r - 1, &out) == -EBADMSG);
	char big[sizeof r + 1] = { 0 };
	memcpy(big, &r, sizeof r);
	CHECK(conmon_ctl_parse(big, sizeof big, &out) == -EBADMSG);
	CHECK(conmon_ctl_parse(&r, 0, &out) == -EBADMSG);
	for (uint32_t t = 0; t < 10; t++) {
		r.type = t;
		int e = conmon_ctl_parse(&r, sizeof r, &out);
		CHECK(t >= 1 && t <= 3 ? e == 0 : e == -EOPNOTSUPP);
	}
	r.type = 0xffffffffu;
	CHECK(conmon_ctl_parse(&r, sizeof r, &out) == -EOPNOTSUPP);
}

TEST(conmon_ctl_check)
{
	struct conmon_ctl_req r = { CONMON_CTL_RESIZE, 80, 24 };
	CHECK(conmon_ctl_check(&r) == 0);
	r.a = 0;
	CHECK(conmon_ctl_check(&r) == -EINVAL);
	r = (struct conmon_ctl_req){ CONMON_CTL_RESIZE, 65535, 65535 };
	CHECK(conmon_ctl_check(&r) == 0);
	r.b = 65536;
	CHECK(conmon_ctl_check(&r) == -EINVAL);
	/* the others carry no values */
	r = (struct conmon_ctl_req){ CONMON_CTL_REOPEN_LOG, 7, 7 };
	CHECK(conmon_ctl_check(&r) == 0);
}

struct seen { int n; uint32_t type; };

static int handler(const struct conmon_ctl_req *req, void *data)
{
	struct seen *s = data;
	s->n++;
	s->type = req->type;
	return req->type == CONMON_CTL_CLOSE_STDIN ? -EBADF : 0;
}

static int client(const char *dir)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, CONMON_CTL_SOCK);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
	return fd;
}

static int slot_of(struct conmon_ctl *c)
{
	for (int i = 0; i < CONMON_CTL_CLIENTS; i++)
		if (c->c[i] >= 0)
			return i;
	return -1;
}

TEST(conmon_ctl_serve)
{
	int dfd = open(unit_tmpdir(), O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	struct conmon_ctl c;
	CHECK_RC(conmon_ctl_listen(unit_tmpdir(), dfd, &c));
	int fd = client(unit_tmpdir());
	conmon_ctl_accept(&c);
	int i = slot_of(&c);
	CHECK(i >= 0);
	struct seen s = { 0 };
	struct conmon_ctl_resp resp;

	struct conmon_ctl_req r = { CONMON_CTL_CLOSE_STDIN, 0, 0 };
	CHECK(send(fd, &r, sizeof r, 0) == sizeof r);
	conmon_ctl_serve(&c, i, handler, &s);
	CHECK(recv(fd, &resp, sizeof resp, 0) == sizeof resp && resp.result == -EBADF);
	CHECK(s.n == 1 && s.type == CONMON_CTL_CLOSE_STDIN);

	/* a RESIZE out of range: answered -EINVAL without the handler */
	r = (struct conmon_ctl_req){ CONMON_CTL_RESIZE, 0, 10 };
	CHECK(send(fd, &r, sizeof r, 0) == sizeof r);
	conmon_ctl_serve(&c, i, handler, &s);
	CHECK(recv(fd, &resp, sizeof resp, 0) == sizeof resp && resp.result == -EINVAL);
	CHECK(s.n == 1 && c.c[i] >= 0);

	/* nothing waiting: nothing happens */
	conmon_ctl_serve(&c, i, handler, &s);
	CHECK(c.c[i] >= 0);

	/* one byte more than a request: the connection ends, no answer */
	char big[sizeof r + 1] = { 0 };
	CHECK(send(fd, big, sizeof big, 0) == sizeof big);
	conmon_ctl_serve(&c, i, handler, &s);
	CHECK(c.c[i] < 0 && s.n == 1);
	CHECK(recv(fd, &resp, sizeof resp, 0) == 0);
	close(fd);

	/* past the limit a connection is closed at once */
	int fds[CONMON_CTL_CLIENTS + 1];
	for (int k = 0; k <= CONMON_CTL_CLIENTS; k++) {
		fds[k] = client(unit_tmpdir());
		conmon_ctl_accept(&c);
	}
	CHECK(recv(fds[CONMON_CTL_CLIENTS], &resp, sizeof resp, 0) == 0);
	for (int k = 0; k <= CONMON_CTL_CLIENTS; k++)
		close(fds[k]);
	conmon_ctl_close(&c);
	close(dfd);
}
