/*
 * test_chan: the internal channel (common/chan*.c, common/memfd.c): framing,
 * memfd payloads and their checks, fd passing rules, malformed datagrams,
 * EOF, the Hello handshake and the socket helpers. Hostile input is made by
 * hand with raw sendmsg so that every refusal path is exercised.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/chan.h"
#include "common/status.h"
#include "crisp.pb-c.h"
#include "tests/unit/unit.h"

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	CHECK(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void pair(unsigned fa, unsigned fb, struct chan **a, struct chan **b)
{
	int fds[2];

	CHECK_RC(chan_socketpair(fds));
	CHECK_RC(chan_new(fds[0], fa, a));
	CHECK_RC(chan_new(fds[1], fb, b));
}

/* Send env with fds as SCM_RIGHTS, bypassing chan_send's rules. */
static void raw_send(struct chan *c, const Crisp__Envelope *env, const int *fds, size_t n)
{
	uint8_t buf[4096];
	char ctl[CMSG_SPACE(16 * sizeof(int))];
	size_t len = crisp__envelope__get_packed_size(env);
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	CHECK(len <= sizeof buf && n <= 16);
	crisp__envelope__pack(env, buf);
	if (n > 0) {
		memset(ctl, 0, sizeof ctl);
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	}
	CHECK(sendmsg(chan_fd(c), &mh, MSG_NOSIGNAL) == (ssize_t)len);
}

/* A memfd holding len bytes, with the given seals added. */
static int memfd_with(size_t len, int seals)
{
	int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)len) == 0);
	if (seals)
		CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

#define ALL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* Announce fd as a memfd payload of size bytes; the receiver must refuse it
 * without keeping any fd. */
static void expect_memfd_refused(int fd, uint64_t size, size_t cap)
{
	Crisp__Envelope env = CRISP__ENVELOPE__INIT;
	struct chan_msg m = CHAN_MSG_INIT;
	struct chan *a, *b;

	pair(0, 0, &a, &b);
	if (cap)
		chan_set_payload_max(b, cap);
	env.type = 7;
	env.flags = CHAN_MSG_MEMFD;
	env.payload_size = size;
	raw_send(a, &env, &fd, 1);
	close(fd);
	int before = fd_count();
	CHECK(chan_recv(b, &m) == -EPROTO);
	CHECK(fd_count() == before);            /* the received copy was closed */
	CHECK(m.fd == -1 && m.payload == NULL);
	chan_free(a);
	chan_free(b);
}

TEST(chan_roundtrip)
{
	struct chan *a, *b;
	struct chan_msg m = CHAN_MSG_INIT, ans = CHAN_MSG_INIT;
	Crisp__Hello h = CRISP__HELLO__INIT, *got;

	pair(0, 0, &a, &b);
	h.version = 9;
	h.name = "roundtrip";
	CHECK_RC(chan_send_pb(a, CRISP__MSG_TYPE__MSG_HELLO, 42, 0, &h.base, -1));
	CHECK_RC(chan_recv(b, &m));
	CHECK(m.type == CRISP__MSG_TYPE__MSG_HELLO && m.id == 42 && m.flags == 0);
	CHECK(m.fd == -1 && !m.payload_mapped && m.error == NULL);
	CHECK_RC(chan_msg_unpack(&m, &crisp__hello__descriptor, (ProtobufCMessage **)&got));
	CHECK(got->version == 9 && strcmp(got->name, "roundtrip") == 0);
	crisp__hello__free_unpacked(got, NULL);

	CHECK_RC(chan_answer(b, &m, CRISP_STATUS_NOT_FOUND, "no such thing", NULL, -1));
	CHECK_RC(chan_recv(a, &ans));
	CHECK(ans.type == CRISP__MSG_TYPE__MSG_HELLO && ans.id == 42);
	CHECK(ans.flags == CHAN_MSG_ANSWER && ans.status == CRISP_STATUS_NOT_FOUND);
	CHECK(ans.error && strcmp(ans.error, "no such thing") == 0);
	CHECK(ans.payload_len == 0);
	chan_msg_clear(&m);
	chan_msg_clear(&ans);

	/* timeout travels; an answer may not be MORE without ANSWER */
	struct chan_msg t = CHAN_MSG_INIT;
	t.type = 3;
	t.id = 7;
	t.timeout_ms = 1234;
	CHECK_RC(chan_send(a, &t));
	CHECK_RC(chan_recv(b, &m));
	CHECK(m.timeout_ms == 1234 && m.id == 7);
	chan_msg_clear(&m);
	chan_free(a);
	chan_free(b);
}

TEST(chan_large_payload_memfd)
{
	const size_t len = 5u * 1024 * 1024;
	struct chan *a, *b;
	struct chan_msg s = CHAN_MSG_INIT, m = CHAN_MSG_INIT;
	uint8_t *buf = malloc(len);

	CHECK(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 31 + (i >> 12));
	pair(0, 0, &a, &b);
	s.type = 100;
	s.id = 1;
	s.payload = buf;
	s.payload_len = len;
	int before = fd_count();
	CHECK_RC(chan_send(a, &s));
	CHECK(fd_count() == before);            /* the sender closed its memfd */
	CHECK_RC(chan_recv(b, &m));
	CHECK(m.flags & CHAN_MSG_MEMFD);
	CHECK(m.payload_mapped && m.payload_len == len && m.fd == -1);
	CHECK(memcmp(m.payload, buf, len) == 0);
	CHECK(fd_count() == before);            /* the receiver closed it after mapping */
	chan_msg_clear(&m);

	/* just over the inline limit goes by memfd too; at it, inline */
	s.payload_len = CHAN_INLINE_MAX;
	CHECK_RC(chan_send(a, &s));
	CHECK_RC(chan_recv(b, &m));
	CHECK(!(m.flags & CHAN_MSG_MEMFD) && m.payload_len == CHAN_INLINE_MAX);
	chan_msg_clear(&m);
	s.payload_len = CHAN_INLINE_MAX + 1;
	CHECK_RC(chan_send(a, &s));
	CHECK_RC(chan_recv(b, &m));
	CHECK((m.flags & CHAN_MSG_MEMFD) && memcmp(m.payload, buf, CHAN_INLINE_MAX + 1) == 0);
	chan_msg_clear(&m);
	free(buf);
	chan_free(a);
	chan_free(b);
}

TEST(chan_payload_over_cap)
{
	const size_t len = 5u * 1024 * 1024;
	struct chan *a, *b;
	struct chan_msg s = CHAN_MSG_INIT, m = CHAN_MSG_INIT;
	uint8_t *buf = calloc(1, len);

	CHECK(buf);
	pair(0, 0, &a, &b);
	chan_set_payload_max(b, 1024 * 1024);
	s.type = 100;
	s.payload = buf;
	s.payload_len = len;
	int before = fd_count();
	CHECK_RC(chan_send(a, &s));
	CHECK(chan_recv(b, &m) == -EPROTO);
	CHECK(fd_count() == before);
	/* the sender honours its own cap */
	chan_set_payload_max(a, 1024);
	CHECK(chan_send(a, &s) == -EMSGSIZE);
	/* an inline payload over the receiver's cap */
	chan_set_payload_max(a, CHAN_PAYLOAD_MAX);
	chan_set_payload_max(b, 100);
	s.payload_len = 101;
	CHECK_RC(chan_send(a, &s));
	CHECK(chan_recv(b, &m) == -EPROTO);
	free(buf);
	chan_free(a);
	chan_free(b);

	/* a sealed memfd whose size is not the announced one */
	expect_memfd_refused(memfd_with(100000, ALL_SEALS), 200000, 0);
	expect_memfd_refused(memfd_with(200000, ALL_SEALS), 100000, 0);
	/* within the sender's claim but over the receiver's cap */
	expect_memfd_refused(memfd_with(200000, ALL_SEALS), 200000, 100000);
	/* an empty memfd payload */
	expect_memfd_refused(memfd_with(0, ALL_SEALS), 0, 0);
}

TEST(chan_unsealed_memfd_refused)
{
	int p[2];

	expect_memfd_refused(memfd_with(100000, 0), 100000, 0);
	/* sealed against resizing but still writable */
	expect_memfd_refused(memfd_with(100000, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW),
			     100000, 0);
	/* not a memfd at all */
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	close(p[1]);
	expect_memfd_refused(p[0], 100000, 0);
	char path[4096];
	snprintf(path, sizeof path, "%s/file", unit_tmpdir());
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(f >= 0 && ftruncate(f, 100000) == 0);
	expect_memfd_refused(f, 100000, 0);

	/* a memfd flag with an inline payload, or with no fd at all */
	Crisp__Envelope env = CRISP__ENVELOPE__INIT;
	struct chan_msg m = CHAN_MSG_INIT;
	struct chan *a, *b;
	pair(0, 0, &a, &b);
	env.flags = CHAN_MSG_MEMFD;
	env.payload_size = 10;
	raw_send(a, &env, NULL, 0);
	CHECK(chan_recv(b, &m) == -EPROTO);
	chan_free(a);
	chan_free(b);
}

TEST(chan_fd_passing)
{
	struct chan *a, *b;
	struct chan_msg m = CHAN_MSG_INIT;
	char got[8] = { 0 };
	int p[2];

	pair(CHAN_FDS, CHAN_FDS, &a, &b);
	CHECK(pipe2(p, 0) == 0);        /* no CLOEXEC: the receiver's copy must get it */
	CHECK_RC(chan_send_pb(a, 50, 1, 0, NULL, p[1]));
	CHECK_RC(chan_recv(b, &m));
	CHECK(m.flags & CHAN_MSG_FD);
	CHECK(m.fd >= 0 && m.fd != p[1]);
	CHECK(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
	CHECK(write(m.fd, "hi", 2) == 2);
	CHECK(read(p[0], got, sizeof got) == 2 && memcmp(got, "hi", 2) == 0);
	chan_msg_clear(&m);
	CHECK(m.fd == -1);

	/* a large payload and an fd do not go together (one fd per message) */
	struct chan_msg s = CHAN_MSG_INIT;
	uint8_t *big = calloc(1, CHAN_INLINE_MAX + 1);
	CHECK(big);
	s.payload = big;
	s.payload_len = CHAN_INLINE_MAX + 1;
	s.fd = p[1];
	CHECK(chan_send(a, &s) == -EMSGSIZE);
	free(big);
	close(p[0]);
	close(p[1]);
	chan_free(a);
	chan_free(b);
}

TEST(chan_fd_refused_without_chan_fds)
{
	struct chan *a, *b;
	struct chan_msg m = CHAN_MSG_INIT;
	int p[2];

	pair(CHAN_FDS, 0, &a, &b);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	/* the sender's side refuses too */
	CHECK(chan_send_pb(b, 50, 1, 0, NULL, p[1]) == -EINVAL);
	int before = fd_count();
	CHECK_RC(chan_send_pb(a, 50, 1, 0, NULL, p[1]));
	CHECK(chan_recv(b, &m) == -EPROTO);
	CHECK(fd_count() == before);
	CHECK(m.fd == -1);

	/* an fd the envelope does not announce at all */
	Crisp__Envelope env = CRISP__ENVELOPE__INIT;
	env.type = 50;
	raw_send(a, &env, &p[1], 1);
	CHECK(chan_recv(b, &m) == -EPROTO);
	CHECK(fd_count() == before);
	/* ... not even on a CHAN_FDS channel */
	raw_send(b, &env, &p[1], 1);
	CHECK(chan_recv(a, &m) == -EPROTO);
	CHECK(fd_count() == before);

	/* the only way to learn the write end was closed everywhere: EOF */
	close(p[1]);
	char c;
	CHECK(read(p[0], &c, 1) == 0);
	close(p[0]);
	chan_free(a);
	chan_free(b);
}

TEST(chan_two_fds_refused)
{
	Crisp__Envelope env = CRISP__ENVELOPE__INIT;
	struct chan *a, *b;
	struct chan_msg m = CHAN_MSG_INIT;
	int p[2], q[2], many[12];

	pair(CHAN_FDS, CHAN_FDS, &a, &b);
	CHECK(pipe2(p, O_CLOEXEC) == 0 && pipe2(q, O_CLOEXEC) == 0);
	int fds[2] = { p[1], q[1] };
	env.type = 50;
	env.flags = CHAN_MSG_FD;
	int before = fd_count();
	raw_send(a, &env, fds, 2);
	CHECK(chan_recv(b, &m) == -EPROTO);
	CHECK(fd_count() == before);
	/* more fds than the receiver makes room for: the rest are cut (CTRUNC) */
	for (int i = 0; i < 12; i++)
		many[i] = i % 2 ? p[1] : q[1];
	raw_send(a, &env, many, 12);
	CHECK(chan_recv(b, &m) == -EPROTO);
	CHECK(fd_count() == before);
	close(p[1]);
	close(q[1]);
	char c;
	CHECK(read(p[0], &c, 1) == 0 && read(q[0], &c, 1) == 0);
	close(p[0]);
	close(q[0]);
	chan_free(a);
	chan_free(b);
}

TEST(chan_garbage_refused)
{
	struct chan *a, *b;
	struct chan_msg m = CHAN_MSG_INIT;
	const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };

	pair(0, 0, &a, &b);
	CHECK(send(chan_fd(a), junk, sizeof junk, 0) == (ssize_t)sizeof junk);
	CHECK(chan_recv(b, &m) == -EPROTO);
	/* field 4 (payload) claiming more bytes than follow */
	const uint8_t cut[] = { 0x22, 0x50, 'x' };
	CHECK(send(chan_fd(a), cut, sizeof cut, 0) == (ssize_t)sizeof cut);
	CHECK(chan_recv(b, &m) == -EPROTO);
	/* unknown envelope flag bits */
	Crisp__Envelope env = CRISP__ENVELOPE__INIT;
	env.flags = 0x100;
	raw_send(a, &env, NULL, 0);
	CHECK(chan_recv(b, &m) == -EPROTO);
	/* MORE without ANSWER */
	env.flags = CHAN_MSG_MORE;
	raw_send(a, &env, NULL, 0);
	CHECK(chan_recv(b, &m) == -EPROTO);
	/* a payload size without a memfd */
	env.flags = 0;
	env.payload_size = 5;
	raw_send(a, &env, NULL, 0);
	CHECK(chan_recv(b, &m) == -EPROTO);
	/* the channel still works after refusing */
	CHECK_RC(chan_send_pb(a, 9, 9, 0, NULL, -1));
	CHECK_RC(chan_recv(b, &m));
	CHECK(m.type == 9 && m.id == 9);
	chan_msg_clear(&m);
	chan_free(a);
	chan_free(b);
}

TEST(chan_truncated_datagram)
{
	const size_t len = 100 * 1024;  /* more than the receive buffer */
	struct chan *a, *b;
	struct chan_msg m = CHAN_MSG_INIT;
	uint8_t *buf = malloc(len);

	/* "type = 1" over and over: every even-length prefix is a valid
	 * envelope, so only MSG_TRUNC can tell that this one was cut */
	CHECK(buf);
	for (size_t i = 0; i < len; i += 2) {
		buf[i] = 0x08;
		buf[i + 1] = 0x01;
	}
	pair(0, 0, &a, &b);
	CHECK(send(chan_fd(a), buf, 100, 0) == 100);
	CHECK_RC(chan_recv(b, &m));
	CHECK(m.type == 1);
	chan_msg_clear(&m);
	CHECK(send(chan_fd(a), buf, len, 0) == (ssize_t)len);
	CHECK(chan_recv(b, &m) == -EPROTO);
	free(buf);
	chan_free(a);
	chan_free(b);
}

TEST(chan_eof)
{
	struct chan *a, *b;
	struct chan_msg m = CHAN_MSG_INIT;

	pair(0, CHAN_NONBLOCK, &a, &b);
	CHECK(chan_recv(b, &m) == -EAGAIN);
	CHECK(chan_recv_timeout(b, 20, &m) == -ETIMEDOUT);
	chan_free(a);
	CHECK(chan_recv(b, &m) == -ECONNRESET);
	CHECK(chan_recv_timeout(b, 20, &m) == -ECONNRESET);
	chan_free(b);
}

struct hello_server {
	struct chan *c;
	uint32_t allowed;
	int rc;
	int role;
};

static void *hello_server_thread(void *arg)
{
	struct hello_server *h = arg;

	h->rc = chan_hello_server(h->c, CRISP__ROLE__ROLE_SANDBOXD, "srv", h->allowed, 2000,
				  &h->role);
	return NULL;
}

TEST(chan_hello_handshake)
{
	struct hello_server h = { .allowed = 1u << CRISP__ROLE__ROLE_CRISERVER, .role = -1 };
	struct chan *a;
	pthread_t t;
	int role = -1;

	pair(0, 0, &a, &h.c);
	CHECK(pthread_create(&t, NULL, hello_server_thread, &h) == 0);
	CHECK_RC(chan_hello_client(a, CRISP__ROLE__ROLE_CRISERVER, "cli", 2000, &role));
	pthread_join(t, NULL);
	CHECK_RC(h.rc);
	CHECK(role == CRISP__ROLE__ROLE_SANDBOXD);
	CHECK(h.role == CRISP__ROLE__ROLE_CRISERVER);
	chan_free(a);
	chan_free(h.c);
}

TEST(chan_hello_role_refused)
{
	struct hello_server h = { .allowed = 1u << CRISP__ROLE__ROLE_CRISP_UP, .role = -1 };
	struct chan *a;
	pthread_t t;
	int role = -1;

	pair(0, 0, &a, &h.c);
	CHECK(pthread_create(&t, NULL, hello_server_thread, &h) == 0);
	CHECK(chan_hello_client(a, CRISP__ROLE__ROLE_CRISERVER, "cli", 2000, &role) == -EPERM);
	pthread_join(t, NULL);
	CHECK(h.rc == -EPERM);
	CHECK(role == -1 && h.role == -1);
	chan_free(a);
	chan_free(h.c);
}

TEST(chan_hello_version_mismatch)
{
	struct hello_server h = { .allowed = 1u << CRISP__ROLE__ROLE_CRISERVER, .role = -1 };
	Crisp__Hello hello = CRISP__HELLO__INIT, *theirs;
	struct chan_msg m = CHAN_MSG_INIT;
	struct chan *a;

	/* a client from the future: the server answers why, then refuses */
	pair(0, 0, &a, &h.c);
	hello.version = CRISP_PROTOCOL_VERSION + 1;
	hello.role = CRISP__ROLE__ROLE_CRISERVER;
	CHECK_RC(chan_send_pb(a, CRISP__MSG_TYPE__MSG_HELLO, 0, 0, &hello.base, -1));
	hello_server_thread(&h);
	CHECK(h.rc == -EPROTONOSUPPORT && h.role == -1);
	CHECK_RC(chan_recv(a, &m));
	CHECK(m.flags == CHAN_MSG_ANSWER && m.status == CRISP_STATUS_FAILED_PRECONDITION);
	CHECK(m.error && strstr(m.error, "protocol version"));
	chan_msg_clear(&m);
	chan_free(a);
	chan_free(h.c);

	/* a server from the future: the client refuses */
	struct chan *srv;
	int role = -1;
	pair(0, 0, &a, &srv);
	hello.version = CRISP_PROTOCOL_VERSION + 1;
	hello.role = CRISP__ROLE__ROLE_SANDBOXD;
	struct chan_msg req = { .type = CRISP__MSG_TYPE__MSG_HELLO, .id = 0, .fd = -1 };
	CHECK_RC(chan_answer(srv, &req, CRISP_STATUS_OK, NULL, &hello.base, -1));
	CHECK(chan_hello_client(a, CRISP__ROLE__ROLE_CRISERVER, "cli", 2000, &role) ==
	      -EPROTONOSUPPORT);
	CHECK(role == -1);
	CHECK_RC(chan_recv(srv, &m));   /* it did speak first */
	CHECK_RC(chan_msg_unpack(&m, &crisp__hello__descriptor, (ProtobufCMessage **)&theirs));
	CHECK(theirs->version == CRISP_PROTOCOL_VERSION && theirs->pid == (uint32_t)getpid());
	crisp__hello__free_unpacked(theirs, NULL);
	chan_msg_clear(&m);
	chan_free(a);
	chan_free(srv);

	/* something else than a Hello first */
	pair(0, 0, &a, &h.c);
	CHECK_RC(chan_send_pb(a, CRISP__MSG_TYPE__MSG_HEALTH, 0, 0, NULL, -1));
	hello_server_thread(&h);
	CHECK(h.rc == -EPROTO);
	/* and a client that gets no answer in time */
	CHECK(chan_hello_client(h.c, CRISP__ROLE__ROLE_CRISERVER, "cli", 50, &role) ==
	      -ETIMEDOUT);
	chan_free(a);
	chan_free(h.c);
}

TEST(chan_listen_connect)
{
	char path[4096];
	struct stat st;
	int l, c, s;
	pid_t pid;
	uid_t uid;
	gid_t gid;

	snprintf(path, sizeof path, "%s/t.sock", unit_tmpdir());
	CHECK_RC(chan_listen(path, 0660, (uid_t)-1, getgid(), &l));
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK((st.st_mode & 07777) == 0660 && st.st_gid == getgid());
	CHECK(fcntl(l, F_GETFD) & FD_CLOEXEC);
	CHECK(chan_accept(l, &s) == -EAGAIN);
	CHECK_RC(chan_connect(path, &c));
	CHECK_RC(chan_accept(l, &s));
	CHECK(fcntl(s, F_GETFD) & FD_CLOEXEC);
	CHECK(!(fcntl(s, F_GETFL) & O_NONBLOCK));
	CHECK_RC(chan_peer_cred(s, &pid, &uid, &gid));
	CHECK(pid == getpid() && uid == getuid() && gid == getgid());
	close(c);
	close(s);
	close(l);

	/* a stale socket is replaced; anything else is not touched */
	CHECK_RC(chan_listen(path, 0600, (uid_t)-1, (gid_t)-1, &l));
	CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	close(l);
	CHECK(unlink(path) == 0);
	int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(f >= 0);
	close(f);
	CHECK(chan_listen(path, 0600, (uid_t)-1, (gid_t)-1, &l) == -EEXIST);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(chan_connect(path, &c) == -ECONNREFUSED);
	char longpath[200];
	memset(longpath, 'x', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = 0;
	CHECK(chan_listen(longpath, 0600, (uid_t)-1, (gid_t)-1, &l) == -ENAMETOOLONG);
}
