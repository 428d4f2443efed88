/*
 * test_criserver_forward: a CRI call handed to a daemon and its answers
 * relayed (criserver/call_backend.c), end to end inside one process: a grpc
 * core client -> criserver's rpc server -> backend.c -> a fake daemon (a
 * thread speaking common/chan). Unary answers, streamed answers becoming a
 * gRPC stream, the daemon's error status, a deadline turning into
 * MSG_CANCEL with the time left sent along, and a daemon that is down.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "common/chan.h"
#include "common/server.h"
#include "common/status.h"
#include "criserver/criserver.h"
#include "crisp.pb-c.h"
#include "tests/unit/test_criserver_client.h"
#include "tests/unit/unit.h"

enum { T_UNARY = 1000, T_STREAM, T_FAIL, T_HANG };
#define STREAM_PARTS 50

struct fake {
	int lfd;
	pthread_t thread;
	atomic_bool stop;
	atomic_llong hang_id;           /* the T_HANG request */
	atomic_llong hang_timeout_ms;
	atomic_llong cancelled_id;      /* from MSG_CANCEL */
};

struct world {
	struct backend *up, *down;
	struct fake fake;
};

static void answer(struct chan *c, const struct chan_msg *m)
{
	Crisp__Health h = CRISP__HEALTH__INIT;

	switch (m->type) {
	case T_UNARY:
		h.name = (char *)"unary";
		CHECK_RC(chan_answer(c, m, 0, NULL, &h.base, -1));
		break;
	case T_STREAM:
		for (uint32_t i = 0; i < STREAM_PARTS; i++) {
			h.pid = i;
			CHECK_RC(chan_send_pb(c, m->type, m->id, CHAN_MSG_ANSWER | CHAN_MSG_MORE,
					      &h.base, -1));
		}
		CHECK_RC(chan_answer(c, m, 0, NULL, NULL, -1));
		break;
	case T_FAIL:
		CHECK_RC(chan_answer(c, m, CRISP_STATUS_NOT_FOUND, "no such pod", NULL, -1));
		break;
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	struct chan *c;
	int fd, role;

	CHECK(poll(&p, 1, 3000) == 1);
	CHECK_RC(chan_accept(f->lfd, &fd));
	CHECK_RC(chan_new(fd, 0, &c));
	CHECK_RC(chan_hello_server(c, CRISP__ROLE__ROLE_SANDBOXD, "fake",
				   ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), 2000, &role));
	while (!atomic_load(&f->stop)) {
		struct chan_msg m = CHAN_MSG_INIT;
		int r = chan_recv_timeout(c, 50, &m);
		if (r == -ETIMEDOUT)
			continue;
		if (r == -ECONNRESET)
			break;          /* criserver's side stopped */
		CHECK_RC(r);
		if (m.type == CRISP__MSG_TYPE__MSG_HEALTH) {
			Crisp__Health h = CRISP__HEALTH__INIT;
			CHECK_RC(chan_answer(c, &m, 0, NULL, &h.base, -1));
		} else if (m.type == CRISP__MSG_TYPE__MSG_CANCEL) {
			atomic_store(&f->cancelled_id, (long long)m.id);
		} else if (m.type == T_HANG) {
			atomic_store(&f->hang_timeout_ms, m.timeout_ms);
			atomic_store(&f->hang_id, (long long)m.id);
		} else {
			answer(c, &m);
		}
		chan_msg_clear(&m);
	}
	chan_free(c);
	return NULL;
}

static void forward(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	struct world *w = userdata;
	const Crisp__Hello *h = (const Crisp__Hello *)req;
	struct backend *b = strcmp(h->name, "down") == 0 ? w->down : w->up;
	cri_forward(r, b, h->pid, req, &crisp__health__descriptor);
}

static const struct rpc_method methods[] = {
	{ "/t.F/Unary", &crisp__hello__descriptor, false, forward },
	{ "/t.F/Stream", &crisp__hello__descriptor, true, forward },
};

static struct rpc_server *world_up(struct world *w)
{
	char path[PATH_MAX], nowhere[PATH_MAX];
	struct rpc_server *srv;
	struct rpc_server_opts o = {
		.methods = methods, .n_methods = 2, .userdata = w,
		.max_msg_size = 1 << 20, .workers = 2, .max_calls = 64,
	};

	snprintf(path, sizeof path, "%s/sandboxd.sock", unit_tmpdir());
	snprintf(nowhere, sizeof nowhere, "%s/imaged.sock", unit_tmpdir());
	CHECK_RC(chan_listen(path, 0600, -1, -1, &w->fake.lfd));
	CHECK(pthread_create(&w->fake.thread, NULL, fake_main, &w->fake) == 0);
	CHECK_RC(backend_new("sandboxd", CRISP__ROLE__ROLE_SANDBOXD, path, &w->up));
	CHECK_RC(backend_new("imaged", CRISP__ROLE__ROLE_IMAGED, nowhere, &w->down));
	CHECK_RC(backend_start(w->up));
	CHECK_RC(backend_start(w->down));
	for (int i = 0; i < 200 && !backend_ready(w->up); i++)
		usleep(10000);
	CHECK(backend_ready(w->up));
	CHECK_RC(rpc_server_new(&o, &srv));
	return srv;
}

static void world_down(struct world *w, struct rpc_server *srv)
{
	backend_stop(w->up);
	backend_stop(w->down);
	CHECK(rpc_server_shutdown(srv, 2000));
	rpc_server_free(srv);
	atomic_store(&w->fake.stop, true);
	pthread_join(w->fake.thread, NULL);
	backend_free(w->up);
	backend_free(w->down);
	close(w->fake.lfd);
}

TEST(criserver_forward_answers_streams_errors_and_cancels)
{
	static struct world w;
	struct rpc_server *srv = world_up(&w);
	struct client c;
	struct reply r = { 0 };

	client_open(&c, srv);
	client_call_hello(&c, "/t.F/Unary", "", T_UNARY, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_OK && r.n == 1 && strcmp(r.last->name, "unary") == 0);
	reply_clear(&r);

	client_call_hello(&c, "/t.F/Stream", "", T_STREAM, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_OK && r.n == STREAM_PARTS && r.in_order);
	reply_clear(&r);

	client_call_hello(&c, "/t.F/Unary", "", T_FAIL, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_NOT_FOUND && strcmp(r.details, "no such pod") == 0);
	reply_clear(&r);

	/* the daemon never answers: the deadline passes, the daemon is told */
	client_call_hello(&c, "/t.F/Unary", "", T_HANG, 300, 0, &r);
	CHECK(r.status == GRPC_STATUS_DEADLINE_EXCEEDED);
	for (int i = 0; i < 100 && atomic_load(&w.fake.cancelled_id) == 0; i++)
		usleep(10000);
	CHECK(atomic_load(&w.fake.hang_id) > 0);
	CHECK(atomic_load(&w.fake.cancelled_id) == atomic_load(&w.fake.hang_id));
	long long t = atomic_load(&w.fake.hang_timeout_ms);
	CHECK(t > 150 && t <= 300);
	reply_clear(&r);

	/* a client cancel of a stream reaches the daemon too */
	atomic_store(&w.fake.cancelled_id, 0);
	client_call_hello(&c, "/t.F/Stream", "", T_HANG, 0, 200, &r);
	CHECK(r.status == GRPC_STATUS_CANCELLED);
	for (int i = 0; i < 100 && atomic_load(&w.fake.cancelled_id) == 0; i++)
		usleep(10000);
	CHECK(atomic_load(&w.fake.cancelled_id) == atomic_load(&w.fake.hang_id));
	CHECK(atomic_load(&w.fake.hang_timeout_ms) == 0);
	reply_clear(&r);

	client_call_hello(&c, "/t.F/Unary", "down", T_UNARY, 0, 0, &r);
	CHECK(r.status == GRPC_STATUS_UNAVAILABLE);
	CHECK(strstr(r.details, "imaged is not connected"));
	reply_clear(&r);

	client_close(&c);
	world_down(&w, srv);
}
