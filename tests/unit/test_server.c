/*
 * test_server: the request server (common/server*.c) with its loop on a
 * thread and clients on the test's main thread: the handshake rules (uid,
 * role per socket), the dispatch table's rules (type, role, fd, payload),
 * built-ins (Health, Cancel, Hello again), the in-flight cap, streaming,
 * and late answers after the asker, or the whole server, went away.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/log.h"
#include "common/server.h"
#include "common/status.h"
#include "crisp.pb-c.h"
#include "tests/unit/unit.h"

#define T_ECHO   100    /* NetworkStatusRequest -> NetworkStatus; criserver */
#define T_HOLD   101    /* kept for the test to answer; criserver */
#define T_SBX    102    /* sandboxd only */
#define T_FD     103    /* takes an fd */
#define T_STREAM 104    /* two MORE parts, then the answer */
#define T_FAIL   105    /* handler fails with -ENOENT */
#define HOLD_MAX 1100

#define WAIT_FOR(cond) do {                                             \
	for (int _i = 0; _i < 3000 && !(cond); _i++)                    \
		usleep(1000);                                           \
	CHECK(cond); } while (0)

static _Atomic(struct server_req *) held[HOLD_MAX];
static atomic_int n_held;

static int h_echo(struct server_req *req, void *userdata)
{
	Crisp__NetworkStatus st = CRISP__NETWORK_STATUS__INIT;

	CHECK(req->body && req->body->descriptor == &crisp__network_status_request__descriptor);
	CHECK(userdata == (void *)held);
	st.ready = true;
	st.reason = "echo";
	return server_answer(req, CRISP_STATUS_OK, NULL, &st.base, -1);
}

static int h_hold(struct server_req *req, void *userdata)
{
	int i = atomic_fetch_add(&n_held, 1);

	CHECK(i < HOLD_MAX && req->body == NULL);
	atomic_store(&held[i], req);
	return 0;
}

static int h_ok(struct server_req *req, void *userdata)
{
	return server_answer(req, CRISP_STATUS_OK, NULL, NULL, -1);
}

static int h_fd(struct server_req *req, void *userdata)
{
	if (req->msg.fd < 0)
		return server_answer(req, CRISP_STATUS_INVALID_ARGUMENT, "no fd", NULL, -1);
	CHECK(fcntl(req->msg.fd, F_GETFD) & FD_CLOEXEC);
	CHECK(write(req->msg.fd, "ok", 2) == 2);
	return server_answer(req, CRISP_STATUS_OK, NULL, NULL, -1);
}

static int h_stream(struct server_req *req, void *userdata)
{
	Crisp__NetworkStatus st = CRISP__NETWORK_STATUS__INIT;

	st.reason = "part 1";
	CHECK_RC(server_answer_more(req, &st.base));
	st.reason = "part 2";
	CHECK_RC(server_answer_more(req, &st.base));
	st.reason = "done";
	return server_answer(req, CRISP_STATUS_OK, NULL, &st.base, -1);
}

static int h_fail(struct server_req *req, void *userdata)
{
	return -ENOENT;
}

static const struct dispatch_entry table[] = {
	{ T_ECHO, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER),
	  &crisp__network_status_request__descriptor, false, h_echo },
	{ T_HOLD, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), NULL, false, h_hold },
	{ T_SBX, ROLE_BIT(CRISP__ROLE__ROLE_SANDBOXD), NULL, false, h_ok },
	{ T_FD, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), NULL, true, h_fd },
	{ T_STREAM, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), NULL, false, h_stream },
	{ T_FAIL, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), NULL, false, h_fail },
};

struct fixture {
	struct loop *loop;
	struct server *srv;
	pthread_t thread;
	int rc;
	char path[PATH_MAX];
};

static void *loop_thread(void *arg)
{
	struct fixture *f = arg;

	f->rc = loop_run(f->loop);
	return NULL;
}

static void start(struct fixture *f, uid_t peer_uid)
{
	log_init("test_server", LOG_WARN);
	snprintf(f->path, sizeof f->path, "%s/srv.sock", unit_tmpdir());
	CHECK_RC(loop_new(&f->loop));
	CHECK_RC(server_new(f->loop, CRISP__ROLE__ROLE_SANDBOXD, "testd", table,
			    sizeof table / sizeof table[0], (void *)held, &f->srv));
	CHECK_RC(server_listen(f->srv, f->path, 0600, (uid_t)-1, (gid_t)-1, peer_uid,
			       ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER) |
			       ROLE_BIT(CRISP__ROLE__ROLE_SANDBOXD), CHAN_FDS));
	CHECK(pthread_create(&f->thread, NULL, loop_thread, f) == 0);
}

static void stop(struct fixture *f)
{
	loop_quit(f->loop, 0);
	pthread_join(f->thread, NULL);
	CHECK(f->rc == 0);
	server_free(f->srv);
	loop_free(f->loop);
}

static int client(struct fixture *f, int role, struct chan **ret)
{
	int fd, r, srole = -1;

	CHECK_RC(chan_connect(f->path, &fd));
	CHECK_RC(chan_new(fd, CHAN_FDS, ret));
	r = chan_hello_client(*ret, role, "client", 2000, &srole);
	if (r == 0)
		CHECK(srole == CRISP__ROLE__ROLE_SANDBOXD);
	return r;
}

static void call(struct chan *c, uint32_t type, uint64_t id, const ProtobufCMessage *msg,
		 int fd, struct chan_msg *ans)
{
	CHECK_RC(chan_send_pb(c, type, id, 0, msg, fd));
	CHECK_RC(chan_recv_timeout(c, 3000, ans));
	CHECK(ans->type == type && ans->id == id && (ans->flags & CHAN_MSG_ANSWER));
}

static void expect_ended(struct chan *c)
{
	struct chan_msg m = CHAN_MSG_INIT;

	CHECK(chan_recv_timeout(c, 3000, &m) == -ECONNRESET);
}

static void echo_works(struct chan *c, uint64_t id)
{
	Crisp__NetworkStatusRequest rq = CRISP__NETWORK_STATUS_REQUEST__INIT;
	Crisp__NetworkStatus *st;
	struct chan_msg m = CHAN_MSG_INIT;

	call(c, T_ECHO, id, &rq.base, -1, &m);
	CHECK(m.status == CRISP_STATUS_OK && !(m.flags & CHAN_MSG_MORE));
	CHECK_RC(chan_msg_unpack(&m, &crisp__network_status__descriptor, (ProtobufCMessage **)&st));
	CHECK(st->ready && strcmp(st->reason, "echo") == 0);
	crisp__network_status__free_unpacked(st, NULL);
	chan_msg_clear(&m);
}

TEST(server_echo_and_socket)
{
	struct fixture f;
	struct chan *c;
	struct stat st;

	start(&f, getuid());
	CHECK(lstat(f.path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	echo_works(c, 1);
	echo_works(c, 2);
	WAIT_FOR(server_peer_count(f.srv) == 1);
	chan_free(c);
	WAIT_FOR(server_peer_count(f.srv) == 0);
	stop(&f);
	CHECK(lstat(f.path, &st) < 0 && errno == ENOENT);       /* unlinked */
}

TEST(server_unknown_type_ends_only_that_peer)
{
	char logpath[PATH_MAX], text[4096] = { 0 }, want[64];
	struct fixture f;
	struct chan *a, *b;
	int saved = dup(2), logfd;

	snprintf(logpath, sizeof logpath, "%s/log", unit_tmpdir());
	logfd = open(logpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(saved >= 0 && logfd >= 0 && dup2(logfd, 2) == 2);
	start(&f, (uid_t)-1);
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &a));
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &b));
	WAIT_FOR(server_peer_count(f.srv) == 2);
	CHECK_RC(chan_send_pb(a, 999, 1, 0, NULL, -1));
	expect_ended(a);
	WAIT_FOR(server_peer_count(f.srv) == 1);
	echo_works(b, 1);
	stop(&f);
	CHECK(dup2(saved, 2) == 2);
	CHECK(pread(logfd, text, sizeof text - 1, 0) > 0);
	snprintf(want, sizeof want, "pid %d", (int)getpid());
	CHECK(strstr(text, want) && strstr(text, "unknown message type 999"));
	chan_free(a);
	chan_free(b);
}

TEST(server_role_rules)
{
	struct fixture f;
	struct chan *c;
	struct chan_msg m = CHAN_MSG_INIT;
	Crisp__NetworkStatusRequest rq = CRISP__NETWORK_STATUS_REQUEST__INIT;

	start(&f, getuid());
	/* sandboxd may use the socket and T_SBX, not T_ECHO */
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_SANDBOXD, &c));
	call(c, T_SBX, 1, NULL, -1, &m);
	CHECK(m.status == CRISP_STATUS_OK);
	chan_msg_clear(&m);
	CHECK_RC(chan_send_pb(c, T_ECHO, 2, 0, &rq.base, -1));
	expect_ended(c);
	chan_free(c);
	/* criserver may not send T_SBX */
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	CHECK_RC(chan_send_pb(c, T_SBX, 1, 0, NULL, -1));
	expect_ended(c);
	chan_free(c);
	/* conmon may not use this socket at all */
	CHECK(client(&f, CRISP__ROLE__ROLE_CONMON, &c) == -EPERM);
	expect_ended(c);
	chan_free(c);
	WAIT_FOR(server_peer_count(f.srv) == 0);
	stop(&f);
}

TEST(server_uid_refused)
{
	struct fixture f;
	struct chan *c;
	int r;

	start(&f, getuid() + 1);
	r = client(&f, CRISP__ROLE__ROLE_CRISERVER, &c);
	CHECK(r == -ECONNRESET || r == -EPIPE);
	chan_free(c);
	CHECK(server_peer_count(f.srv) == 0);
	stop(&f);
}

TEST(server_protocol_errors_end_peer)
{
	Crisp__Hello hello = CRISP__HELLO__INIT;
	struct fixture f;
	struct chan *c;
	struct chan_msg m = CHAN_MSG_INIT;
	uint8_t junk[] = { 0xff, 0xff, 0xff };
	int p[2];

	start(&f, getuid());
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	/* Hello again */
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	hello.version = CRISP_PROTOCOL_VERSION;
	hello.role = CRISP__ROLE__ROLE_CRISERVER;
	CHECK_RC(chan_send_pb(c, CRISP__MSG_TYPE__MSG_HELLO, 1, 0, &hello.base, -1));
	expect_ended(c);
	chan_free(c);
	/* a payload that does not unpack as the entry's type */
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	m.type = T_ECHO;
	m.payload = junk;
	m.payload_len = sizeof junk;
	CHECK_RC(chan_send(c, &m));
	expect_ended(c);
	chan_free(c);
	/* a payload where the entry takes none */
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	CHECK_RC(chan_send_pb(c, T_HOLD, 1, 0, &hello.base, -1));
	expect_ended(c);
	chan_free(c);
	/* an fd where the entry takes none; where it does, it works */
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	call(c, T_FD, 1, NULL, p[1], &m);
	CHECK(m.status == CRISP_STATUS_OK);
	chan_msg_clear(&m);
	char got[2];
	CHECK(read(p[0], got, 2) == 2 && memcmp(got, "ok", 2) == 0);
	CHECK_RC(chan_send_pb(c, T_HOLD, 2, 0, NULL, p[1]));
	expect_ended(c);
	chan_free(c);
	/* an answer where requests are expected */
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	CHECK_RC(chan_send_pb(c, T_ECHO, 1, CHAN_MSG_ANSWER, NULL, -1));
	expect_ended(c);
	chan_free(c);
	/* a request id that is already in flight */
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	CHECK_RC(chan_send_pb(c, T_HOLD, 7, 0, NULL, -1));
	CHECK_RC(chan_send_pb(c, T_HOLD, 7, 0, NULL, -1));
	expect_ended(c);
	chan_free(c);
	CHECK(atomic_load(&n_held) == 1);
	WAIT_FOR(server_peer_count(f.srv) == 0);
	CHECK_RC(server_answer(atomic_load(&held[0]), CRISP_STATUS_OK, NULL, NULL, -1));
	CHECK(server_requests_in_flight(f.srv) == 0);
	close(p[0]);
	close(p[1]);
	stop(&f);
}

TEST(server_health)
{
	struct fixture f;
	struct chan *a, *b;
	struct chan_msg m = CHAN_MSG_INIT;
	Crisp__Health *h;

	start(&f, getuid());
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &a));
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_SANDBOXD, &b));
	CHECK_RC(chan_send_pb(a, T_HOLD, 1, 0, NULL, -1));
	WAIT_FOR(atomic_load(&n_held) == 1);
	usleep(20 * 1000);
	call(b, CRISP__MSG_TYPE__MSG_HEALTH, 5, NULL, -1, &m);
	CHECK(m.status == CRISP_STATUS_OK);
	CHECK_RC(chan_msg_unpack(&m, &crisp__health__descriptor, (ProtobufCMessage **)&h));
	CHECK(strcmp(h->name, "testd") == 0 && h->pid == (uint32_t)getpid());
	CHECK(h->peers == 2 && h->requests_in_flight == 1);
	CHECK(h->uptime_ms >= 20 && h->uptime_ms < 60000);
	crisp__health__free_unpacked(h, NULL);
	chan_msg_clear(&m);
	CHECK_RC(server_answer(atomic_load(&held[0]), CRISP_STATUS_OK, NULL, NULL, -1));
	CHECK_RC(chan_recv_timeout(a, 3000, &m));
	CHECK(m.id == 1 && m.status == CRISP_STATUS_OK);
	chan_msg_clear(&m);
	chan_free(a);
	chan_free(b);
	stop(&f);
}

TEST(server_cancel_marks_request)
{
	struct fixture f;
	struct chan *c;
	struct chan_msg m = CHAN_MSG_INIT;
	struct server_req *req;

	start(&f, getuid());
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	CHECK_RC(chan_send_pb(c, T_HOLD, 5, 0, NULL, -1));
	CHECK_RC(chan_send_pb(c, T_HOLD, 6, 0, NULL, -1));
	WAIT_FOR(atomic_load(&n_held) == 2);
	req = atomic_load(&held[0]);
	CHECK(req->msg.id == 5 && req->peer_role == CRISP__ROLE__ROLE_CRISERVER);
	CHECK(req->peer_pid == getpid() && req->peer_uid == getuid());
	CHECK(!atomic_load(&req->cancelled));
	/* an unknown id is ignored; Cancel has no answer */
	CHECK_RC(chan_send_pb(c, CRISP__MSG_TYPE__MSG_CANCEL, 77, 0, NULL, -1));
	CHECK_RC(chan_send_pb(c, CRISP__MSG_TYPE__MSG_CANCEL, 5, 0, NULL, -1));
	WAIT_FOR(atomic_load(&req->cancelled));
	CHECK(!atomic_load(&atomic_load(&held[1])->cancelled));
	CHECK(server_requests_in_flight(f.srv) == 2);
	CHECK(server_answer_more(req, NULL) == -ECANCELED);
	CHECK_RC(server_answer(req, CRISP_STATUS_CANCELLED, "cancelled", NULL, -1));
	CHECK_RC(chan_recv_timeout(c, 3000, &m));
	CHECK(m.id == 5 && m.status == CRISP_STATUS_CANCELLED);
	chan_msg_clear(&m);
	CHECK(chan_recv_timeout(c, 50, &m) == -ETIMEDOUT);     /* nothing for the Cancels */
	CHECK(server_requests_in_flight(f.srv) == 1);
	CHECK_RC(server_answer(atomic_load(&held[1]), CRISP_STATUS_OK, NULL, NULL, -1));
	CHECK_RC(chan_recv_timeout(c, 3000, &m));
	CHECK(m.id == 6);
	chan_msg_clear(&m);
	CHECK(server_requests_in_flight(f.srv) == 0);
	echo_works(c, 8);       /* still connected */
	chan_free(c);
	stop(&f);
}

TEST(server_peer_gone_with_request_in_flight)
{
	Crisp__NetworkStatus st = CRISP__NETWORK_STATUS__INIT;
	struct fixture f;
	struct chan *c;
	struct server_req *req;

	start(&f, getuid());
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	CHECK_RC(chan_send_pb(c, T_HOLD, 9, 0, NULL, -1));
	WAIT_FOR(atomic_load(&n_held) == 1);
	req = atomic_load(&held[0]);
	chan_free(c);
	WAIT_FOR(atomic_load(&req->cancelled));
	WAIT_FOR(server_peer_count(f.srv) == 0);
	CHECK(server_requests_in_flight(f.srv) == 1);
	CHECK(server_answer_more(req, &st.base) == -ECANCELED);
	CHECK(server_answer(req, CRISP_STATUS_OK, NULL, &st.base, -1) == 0);
	CHECK(server_requests_in_flight(f.srv) == 0);
	stop(&f);
}

TEST(server_freed_with_request_in_flight)
{
	struct fixture f;
	struct chan *c;
	struct server_req *req;

	start(&f, getuid());
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	CHECK_RC(chan_send_pb(c, T_HOLD, 9, 0, NULL, -1));
	WAIT_FOR(atomic_load(&n_held) == 1);
	req = atomic_load(&held[0]);
	stop(&f);               /* server_free + loop_free; the request lives on */
	CHECK(atomic_load(&req->cancelled));
	expect_ended(c);        /* the peer was told by EOF at once */
	CHECK(server_answer(req, CRISP_STATUS_OK, NULL, NULL, -1) == 0);
	chan_free(c);
}

TEST(server_stream_and_handler_error)
{
	Crisp__NetworkStatus *st;
	struct fixture f;
	struct chan *c;
	struct chan_msg m = CHAN_MSG_INIT;
	const char *parts[] = { "part 1", "part 2", "done" };

	start(&f, getuid());
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	CHECK_RC(chan_send_pb(c, T_STREAM, 3, 0, NULL, -1));
	for (int i = 0; i < 3; i++) {
		CHECK_RC(chan_recv_timeout(c, 3000, &m));
		CHECK(m.id == 3 && (m.flags & CHAN_MSG_ANSWER));
		CHECK(!!(m.flags & CHAN_MSG_MORE) == (i < 2));
		CHECK_RC(chan_msg_unpack(&m, &crisp__network_status__descriptor,
					 (ProtobufCMessage **)&st));
		CHECK(strcmp(st->reason, parts[i]) == 0);
		crisp__network_status__free_unpacked(st, NULL);
		chan_msg_clear(&m);
	}
	call(c, T_FAIL, 4, NULL, -1, &m);
	CHECK(m.status == CRISP_STATUS_INTERNAL && m.error && strstr(m.error, "No such file"));
	chan_msg_clear(&m);
	CHECK(server_requests_in_flight(f.srv) == 0);
	chan_free(c);
	stop(&f);
}

TEST(server_in_flight_cap)
{
	struct fixture f;
	struct chan *c;
	struct chan_msg m = CHAN_MSG_INIT;
	int cap = 1024;

	start(&f, getuid());
	CHECK_RC(client(&f, CRISP__ROLE__ROLE_CRISERVER, &c));
	for (int i = 0; i <= cap; i++)
		CHECK_RC(chan_send_pb(c, T_HOLD, (uint64_t)i + 1, 0, NULL, -1));
	CHECK_RC(chan_recv_timeout(c, 3000, &m));
	CHECK(m.id == (uint64_t)cap + 1 && m.status == CRISP_STATUS_RESOURCE_EXHAUSTED);
	chan_msg_clear(&m);
	CHECK(atomic_load(&n_held) == cap);
	CHECK(server_requests_in_flight(f.srv) == (unsigned)cap);
	/* the peer stays connected; at the cap every request is refused */
	call(c, T_ECHO, 5000, NULL, -1, &m);
	CHECK(m.status == CRISP_STATUS_RESOURCE_EXHAUSTED);
	chan_msg_clear(&m);
	/* answering one makes room again */
	CHECK_RC(server_answer(atomic_load(&held[0]), CRISP_STATUS_OK, NULL, NULL, -1));
	CHECK_RC(chan_recv_timeout(c, 3000, &m));
	CHECK(m.id == 1);
	chan_msg_clear(&m);
	echo_works(c, 5001);
	CHECK_RC(chan_send_pb(c, T_HOLD, 6000, 0, NULL, -1));
	WAIT_FOR(atomic_load(&n_held) == cap + 1);
	/* the asker goes: every late answer is dropped */
	chan_free(c);
	WAIT_FOR(server_peer_count(f.srv) == 0);
	for (int i = 1; i <= cap; i++)
		CHECK(server_answer(atomic_load(&held[i]), CRISP_STATUS_OK, NULL, NULL, -1) == 0);
	CHECK(server_requests_in_flight(f.srv) == 0);
	stop(&f);
}
