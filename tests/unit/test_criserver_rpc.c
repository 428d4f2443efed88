/*
 * test_criserver_rpc: criserver's gRPC server (criserver/rpc*.c) driven by a
 * grpc core client in the same process over a socket pair: unary answers,
 * unknown paths and methods without a handler (UNIMPLEMENTED), undecodable
 * requests (INVALID_ARGUMENT), the size cap and the unpack budget
 * (RESOURCE_EXHAUSTED), a long server stream through the send queue, client
 * cancellation and deadlines reaching the handler's cancel hook, and a
 * shutdown that drains a call in flight. Also the CRI socket
 * (criserver/cri_socket.c): mode, stale socket, connection cap.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "criserver/cri_socket.h"
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

static int keep_fd(int fd, void *data)
{
	int *fds = data;
	for (int i = 0; i < 4; i++) {
		if (fds[i] < 0) {
			fds[i] = fd;
			return 0;
		}
	}
	close(fd);
	return -ENOSPC;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	return fd;
}

TEST(criserver_cri_socket_mode_stale_and_cap)
{
	char path[PATH_MAX];
	struct cri_socket *cs;
	struct stat st;
	int fds[4] = { -1, -1, -1, -1 }, cl[4];
	char byte;

	snprintf(path, sizeof path, "%s/sub/cri.sock", unit_tmpdir());
	CHECK_RC(cri_socket_open(path, 2, &cs));
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK((st.st_mode & 07777) == 0660 && st.st_uid == 0 && st.st_gid == 0);
	/* a second one on the same path replaces the stale socket file */
	cri_socket_free(cs);
	CHECK_RC(cri_socket_open(path, 2, &cs));
	for (int i = 0; i < 3; i++)
		cl[i] = connect_to(path);
	CHECK(cri_socket_accept(cs, keep_fd, fds) == 2);
	CHECK(cri_socket_conns(cs) == 2);
	CHECK(read(cl[2], &byte, 1) == 0);       /* the third was closed at once */
	close(fds[0]);                          /* one ends: room for another */
	fds[0] = -1;
	cl[3] = connect_to(path);
	CHECK(cri_socket_accept(cs, keep_fd, fds) == 1);
	CHECK(cri_socket_conns(cs) == 2);
	CHECK_RC(cri_socket_close(cs));
	CHECK(lstat(path, &st) < 0 && errno == ENOENT);
	cri_socket_free(cs);
	for (int i = 0; i < 4; i++) {
		close(cl[i]);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	/* something else at the path is never touched */
	int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(f >= 0);
	close(f);
	CHECK(cri_socket_open(path, 2, &cs) == -EEXIST);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
}
