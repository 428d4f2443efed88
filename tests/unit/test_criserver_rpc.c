/*
 * test_criserver_rpc: criserver's gRPC server (criserver/rpc*.c) driven by a
 * grpc core client in the same process over a socket pair: unary answers,
 * unknown paths and methods without a handler (UNIMPLEMENTED), undecodable
 * requests (INVALID_ARGUMENT), the size cap and the unpack budget
 * (RESOURCE_EXHAUSTED), a long server stream through the send queue, client
 * cancellation and deadlines reaching the handler's cancel hook, and a
 * shutdown that drains a call in flight; the deadline the server gives a
 * call without one (DEADLINE_EXCEEDED, the cancel hook, a handler raising
 * it); which connection each call came on (grpc's peer "fd:N"); grpc closing
 * an idle connection added from an fd (GRPC_ARG_MAX_CONNECTION_IDLE_MS)
 * with a GOAWAY, and not one with a call in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "criserver/rpc.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"
#include "tests/unit/test_criserver_client.h"
#include "tests/unit/unit.h"

#define MAX_MSG (4u << 20)

struct seen {
	atomic_int cancels;
	atomic_llong timeout_ms;
};

static void echo(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Crisp__Hello *h = (const Crisp__Hello *)req;
	Crisp__Health out = CRISP__HEALTH__INIT;
	out.name = h->name;
	out.pid = h->pid;
	rpc_finish(r, &out.base);
}

/* Streams hello.pid messages, then OK. */
static void stream(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Crisp__Hello *h = (const Crisp__Hello *)req;
	for (uint32_t i = 0; i < h->pid; i++) {
		Crisp__Health out = CRISP__HEALTH__INIT;
		out.pid = i;
		CHECK_RC(rpc_send(r, &out.base));
	}
	rpc_finish_status(r, GRPC_STATUS_OK, NULL);
}

static void on_cancel(void *obj, uint64_t id)
{
	struct rpc *r = obj;
	struct seen *s = (struct seen *)(uintptr_t)id;
	atomic_fetch_add(&s->cancels, 1);
	CHECK(rpc_cancelled(r));
	rpc_finish_status(r, GRPC_STATUS_CANCELLED, "gone");
}

/* Never answers until the call is cancelled. */
static void wait_cancel(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	struct seen *s = userdata;
	atomic_store(&s->timeout_ms, rpc_timeout_ms(r));
	rpc_on_cancel(r, on_cancel, r, (uint64_t)(uintptr_t)s);
}

static const struct rpc_method methods[] = {
	{ "/t.S/Echo", &crisp__hello__descriptor, false, echo },
	{ "/t.S/Stream", &crisp__hello__descriptor, true, stream },
	{ "/t.S/Wait", &crisp__hello__descriptor, false, wait_cancel },
	{ "/t.S/Later", &crisp__hello__descriptor, false, NULL },
	{ "/t.S/Big", &runtime__v1__list_containers_response__descriptor, false, NULL },
};

static struct rpc_server *server_up(struct seen *s)
{
	struct rpc_server *srv;
	struct rpc_server_opts o = {
		.methods = methods, .n_methods = sizeof methods / sizeof methods[0],
		.userdata = s, .max_msg_size = MAX_MSG, .workers = 2, .max_calls = 64,
	};
	CHECK_RC(rpc_server_new(&o, &srv));
	return srv;
}

static void server_down(struct rpc_server *srv)
{
	CHECK(rpc_server_shutdown(srv, 2000));
	rpc_server_free(srv);
}

TEST(criserver_rpc_unary_and_errors)
{
	static struct seen s;
	struct rpc_server *srv = server_up(&s);
	struct client c;
	struct reply r = { 0 };

	client_open(&c, srv);
	client_call_hello(&c, "/t.S/Echo", "hi", 7, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_OK && r.n == 1);
	CHECK(strcmp(r.last->name, "hi") == 0 && r.last->pid == 7);
	reply_clear(&r);

	client_call_hello(&c, "/t.S/Nope", "", 0, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_UNIMPLEMENTED && r.n == 0);
	CHECK(strstr(r.details, "t.S/Nope"));
	reply_clear(&r);

	client_call_hello(&c, "/t.S/Later", "", 0, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_UNIMPLEMENTED);
	CHECK(strcmp(r.details, "t.S/Later is not implemented by crisp yet") == 0);
	reply_clear(&r);

	/* field 4 (string) whose length runs past the end */
	client_call(&c, "/t.S/Echo", "\x22\xff\xff\x0f", 4, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strstr(r.details, "crisp.Hello"));
	reply_clear(&r);

	/* over the cap: grpc refuses it before us */
	size_t big = MAX_MSG + 10;
	char *junk = calloc(1, big);
	client_call(&c, "/t.S/Echo", junk, big, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_RESOURCE_EXHAUSTED);
	reply_clear(&r);

	/* small on the wire, huge in memory: 512 Ki empty Container messages */
	size_t n = 1u << 20;
	for (size_t i = 0; i < n; i += 2) {
		junk[i] = 0x0a;
		junk[i + 1] = 0x00;
	}
	client_call(&c, "/t.S/Big", junk, n, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_RESOURCE_EXHAUSTED);
	CHECK(strstr(r.details, "too much memory"));
	reply_clear(&r);
	/* a few of them decode (and the method is not built) */
	client_call(&c, "/t.S/Big", junk, 64, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_UNIMPLEMENTED);
	reply_clear(&r);
	free(junk);

	client_call_hello(&c, "/t.S/Echo", "still", 1, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_OK && strcmp(r.last->name, "still") == 0);
	reply_clear(&r);
	client_close(&c);
	server_down(srv);
}

TEST(criserver_rpc_server_stream)
{
	static struct seen s;
	struct rpc_server *srv = server_up(&s);
	struct client c;
	struct reply r = { 0 };

	client_open(&c, srv);
	client_call_hello(&c, "/t.S/Stream", "", 2000, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_OK);
	CHECK(r.n == 2000 && r.in_order);
	reply_clear(&r);
	client_call_hello(&c, "/t.S/Stream", "", 0, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_OK && r.n == 0);
	reply_clear(&r);
	client_close(&c);
	server_down(srv);
}

TEST(criserver_rpc_cancel_and_deadline_reach_the_handler)
{
	static struct seen s;
	struct rpc_server *srv = server_up(&s);
	struct client c;
	struct reply r = { 0 };

	client_open(&c, srv);
	client_call_hello(&c, "/t.S/Wait", "", 0, 0, 200, &r);
	CHECK(r.status == GRPC_STATUS_CANCELLED);
	for (int i = 0; i < 100 && atomic_load(&s.cancels) < 1; i++)
		usleep(10000);
	CHECK(atomic_load(&s.cancels) == 1);
	CHECK(atomic_load(&s.timeout_ms) == 0);         /* no deadline */
	reply_clear(&r);

	client_call_hello(&c, "/t.S/Wait", "", 0, 300, 0, &r);
	CHECK(r.status == GRPC_STATUS_DEADLINE_EXCEEDED);
	for (int i = 0; i < 100 && atomic_load(&s.cancels) < 2; i++)
		usleep(10000);
	CHECK(atomic_load(&s.cancels) == 2);
	long long t = atomic_load(&s.timeout_ms);
	CHECK(t > 100 && t <= 300);
	reply_clear(&r);
	client_close(&c);
	server_down(srv);
}

struct bg_call {
	struct client *c;
	struct reply r;
};

static void *bg(void *arg)
{
	struct bg_call *b = arg;
	client_call_hello(b->c, "/t.S/Wait", "", 0, 0, 0, &b->r);
	return NULL;
}

TEST(criserver_rpc_shutdown_cancels_calls_in_flight)
{
	static struct seen s;
	struct rpc_server *srv = server_up(&s);
	struct client c;
	struct bg_call b = { .c = &c };
	pthread_t t;

	client_open(&c, srv);
	CHECK(pthread_create(&t, NULL, bg, &b) == 0);
	for (int i = 0; i < 200 && rpc_server_calls(srv) < 1; i++)
		usleep(10000);
	CHECK(rpc_server_calls(srv) == 1);
	CHECK(rpc_server_shutdown(srv, 2000));   /* the hook finished it */
	CHECK(atomic_load(&s.cancels) == 1);
	pthread_join(t, NULL);
	CHECK(b.r.status != GRPC_STATUS_OK);
	reply_clear(&b.r);
	rpc_server_free(srv);
	client_close(&c);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Raises the server's deadline for this call to 800 ms, then waits. */
static void wait_long(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	rpc_default_deadline_at_least(r, 800);
	rpc_default_deadline_at_least(r, 100);  /* never lowers it */
	wait_cancel(r, req, userdata);
}

struct hooks {
	atomic_int starts, ends;
	atomic_int last_fd;
	atomic_ullong token_sum;
};

static uint64_t hook_start(void *data, int fd)
{
	struct hooks *h = data;
	atomic_store(&h->last_fd, fd);
	int n = atomic_fetch_add(&h->starts, 1) + 1;
	atomic_fetch_add(&h->token_sum, (uint64_t)n * 1000);
	return (uint64_t)n * 1000;
}

static void hook_end(void *data, uint64_t token)
{
	struct hooks *h = data;
	atomic_fetch_add(&h->ends, 1);
	atomic_fetch_sub(&h->token_sum, token);
}

/* Takes the server's deadline away (a watch), then waits. */
static void wait_forever(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	rpc_default_deadline_at_least(r, RPC_NO_DEADLINE);
	wait_cancel(r, req, userdata);
}

static const struct rpc_method methods2[] = {
	{ "/t.S/Echo", &crisp__hello__descriptor, false, echo },
	{ "/t.S/Wait", &crisp__hello__descriptor, false, wait_cancel },
	{ "/t.S/Long", &crisp__hello__descriptor, false, wait_long },
	{ "/t.S/Watch", &crisp__hello__descriptor, false, wait_forever },
};

static struct rpc_server *server_up2(struct seen *s, struct hooks *h, int64_t default_ms,
				     int64_t idle_ms)
{
	struct rpc_server *srv;
	struct rpc_server_opts o = {
		.methods = methods2, .n_methods = sizeof methods2 / sizeof methods2[0],
		.userdata = s, .max_msg_size = MAX_MSG, .workers = 2, .max_calls = 64,
		.default_timeout_ms = default_ms, .max_idle_ms = idle_ms,
		.conn_call_start = h ? hook_start : NULL, .conn_call_end = h ? hook_end : NULL,
		.conn_data = h,
	};
	CHECK_RC(rpc_server_new(&o, &srv));
	return srv;
}

static void wait_cancels(struct seen *s, int n)
{
	for (int i = 0; i < 200 && atomic_load(&s->cancels) < n; i++)
		usleep(10000);
	CHECK(atomic_load(&s->cancels) == n);
}

TEST(criserver_rpc_default_deadline)
{
	static struct seen s;
	struct rpc_server *srv = server_up2(&s, NULL, 300, 0);
	struct client c;
	struct reply r = { 0 };

	client_open(&c, srv);
	/* quick calls do not notice it */
	client_call_hello(&c, "/t.S/Echo", "hi", 1, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_OK);
	reply_clear(&r);
	/* no deadline: the server's, 300 ms, ends it */
	int64_t t0 = now_ms();
	client_call_hello(&c, "/t.S/Wait", "", 0, 0, 0, &r);
	int64_t took = now_ms() - t0;
	CHECK(r.status == GRPC_STATUS_DEADLINE_EXCEEDED);
	CHECK(strstr(r.details, "api.max_call_timeout"));
	CHECK(took >= 280 && took < 1500);
	long long t = atomic_load(&s.timeout_ms);       /* the handler saw it as time left */
	CHECK(t > 100 && t <= 300);
	wait_cancels(&s, 1);                            /* and its cancel hook ran */
	reply_clear(&r);
	/* the client's own deadline wins, also when it is longer */
	t0 = now_ms();
	client_call_hello(&c, "/t.S/Wait", "", 0, 700, 0, &r);
	took = now_ms() - t0;
	CHECK(r.status == GRPC_STATUS_DEADLINE_EXCEEDED);
	CHECK(!strstr(r.details, "api.max_call_timeout"));
	CHECK(took >= 650);
	t = atomic_load(&s.timeout_ms);
	CHECK(t > 300 && t <= 700);
	wait_cancels(&s, 2);
	reply_clear(&r);
	/* a handler may raise the server's deadline (ExecSync's own timeout) */
	t0 = now_ms();
	client_call_hello(&c, "/t.S/Long", "", 0, 0, 0, &r);
	took = now_ms() - t0;
	CHECK(r.status == GRPC_STATUS_DEADLINE_EXCEEDED);
	CHECK(took >= 780 && took < 2000);
	t = atomic_load(&s.timeout_ms);
	CHECK(t > 300 && t <= 800);
	wait_cancels(&s, 3);
	reply_clear(&r);
	/* a watch may take it away: it ends only when its client goes */
	client_call_hello(&c, "/t.S/Watch", "", 0, 0, 900, &r);
	CHECK(r.status == GRPC_STATUS_CANCELLED);
	CHECK(atomic_load(&s.timeout_ms) == 0);
	wait_cancels(&s, 4);
	reply_clear(&r);
	client_call_hello(&c, "/t.S/Echo", "still", 2, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_OK);
	reply_clear(&r);
	client_close(&c);
	server_down(srv);
}

TEST(criserver_rpc_calls_name_their_connection)
{
	static struct seen s;
	static struct hooks h;
	struct rpc_server *srv = server_up2(&s, &h, 0, 0);
	struct client c;
	struct reply r = { 0 };

	atomic_store(&h.last_fd, -2);
	client_open(&c, srv);
	client_call_hello(&c, "/t.S/Echo", "a", 1, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_OK);
	reply_clear(&r);
	client_call_hello(&c, "/t.S/Nope", "", 0, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_UNIMPLEMENTED);
	reply_clear(&r);
	/* grpc's peer of a transport added from fd N is "fd:N" */
	CHECK(atomic_load(&h.last_fd) == c.server_fd);
	client_close(&c);
	server_down(srv);
	/* every start was ended once, with its own token */
	CHECK(atomic_load(&h.starts) == 2 && atomic_load(&h.ends) == 2);
	CHECK(atomic_load(&h.token_sum) == 0);
}

/* Read HTTP/2 frames from fd until EOF; when a GOAWAY came, and the EOF. */
static void read_until_eof(int fd, int64_t t0, int64_t *ret_goaway, int64_t *ret_eof)
{
	uint8_t buf[4096];
	size_t have = 0;

	*ret_goaway = *ret_eof = -1;
	while (now_ms() - t0 < 5000) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) != 1)
			continue;
		ssize_t n = read(fd, buf + have, sizeof buf - have);
		if (n <= 0) {
			*ret_eof = now_ms() - t0;
			return;
		}
		have += (size_t)n;
		while (have >= 9) {
			size_t len = (size_t)buf[0] << 16 | (size_t)buf[1] << 8 | buf[2];
			CHECK(len + 9 <= sizeof buf);
			if (have < len + 9)
				break;
			if (buf[3] == 7 && *ret_goaway < 0)
				*ret_goaway = now_ms() - t0;
			memmove(buf, buf + len + 9, have - len - 9);
			have -= len + 9;
		}
	}
}

TEST(criserver_rpc_idle_connections_closed_by_grpc)
{
	static struct seen s;
	struct rpc_server *srv = server_up2(&s, NULL, 0, 300);
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
				      "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
	int sv[2];
	int64_t goaway, eof;

	/* a client that says hello and then nothing: GOAWAY, then the end,
	 * between one and two idle times (+ slack) after it came */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	int64_t t0 = now_ms();
	CHECK_RC(rpc_server_add_fd(srv, sv[0]));
	CHECK(write(sv[1], preface, sizeof preface - 1) == (ssize_t)sizeof preface - 1);
	read_until_eof(sv[1], t0, &goaway, &eof);
	CHECK(goaway >= 280 && goaway < 1000);
	CHECK(eof >= goaway && eof < 1500);
	close(sv[1]);

	/* a call in flight for longer than that keeps its connection: it
	 * ends as the client cancels it, not by a lost connection */
	struct client c;
	struct reply r = { 0 };
	client_open(&c, srv);
	client_call_hello(&c, "/t.S/Wait", "", 0, 0, 1000, &r);
	CHECK(r.status == GRPC_STATUS_CANCELLED);
	reply_clear(&r);
	client_close(&c);
	server_down(srv);
}
