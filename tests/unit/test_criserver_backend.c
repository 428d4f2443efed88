/*
 * test_criserver_backend: criserver's connection to a daemon
 * (criserver/backend.c) against a fake daemon made of common/chan calls in
 * the test's thread: handshake and Health, answers by id with the time left,
 * streamed answers, cancel (MSG_CANCEL sent, late answer ignored), a daemon
 * breaking the protocol, disconnect (UNAVAILABLE, then reconnect) and stop.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/chan.h"
#include "common/server.h"
#include "common/status.h"
#include "criserver/backend.h"
#include "crisp.pb-c.h"
#include "tests/unit/unit.h"

struct result {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int parts;
	int finals;
	int32_t status;
	char error[128];
	bool ready;
	char message[64];
};

static void result_init(struct result *r)
{
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
}

static void cb(void *ctx, const struct backend_answer *a)
{
	struct result *r = ctx;
	const Crisp__NetworkStatus *ns = (const Crisp__NetworkStatus *)a->body;
	pthread_mutex_lock(&r->mu);
	if (a->more)
		r->parts++;
	else
		r->finals++;
	r->status = a->status;
	snprintf(r->error, sizeof r->error, "%s", a->error ? a->error : "");
	if (ns) {
		r->ready = ns->ready;
		snprintf(r->message, sizeof r->message, "%s", ns->message);
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Wait until r has finals final answers (2 s). */
static void wait_finals(struct result *r, int finals)
{
	struct timespec end;
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += 2;
	pthread_mutex_lock(&r->mu);
	while (r->finals < finals)
		if (pthread_cond_timedwait(&r->cv, &r->mu, &end) != 0)
			break;
	int got = r->finals;
	pthread_mutex_unlock(&r->mu);
	CHECK(got == finals);
}

static void wait_ready(struct backend *b, bool want)
{
	for (int i = 0; i < 200 && backend_ready(b) != want; i++)
		usleep(10000);
	CHECK(backend_ready(b) == want);
}

/* The fake daemon: accept criserver, shake hands, answer its Health. */
static struct chan *fake_accept(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	struct chan *c;
	struct chan_msg m = CHAN_MSG_INIT;
	Crisp__Health h = CRISP__HEALTH__INIT;
	int fd, role = 0;

	CHECK(poll(&p, 1, 3000) == 1);
	CHECK_RC(chan_accept(lfd, &fd));
	CHECK_RC(chan_new(fd, 0, &c));
	CHECK_RC(chan_hello_server(c, CRISP__ROLE__ROLE_SANDBOXD, "fake",
				   ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), 2000, &role));
	CHECK(role == CRISP__ROLE__ROLE_CRISERVER);
	CHECK_RC(chan_recv_timeout(c, 2000, &m));
	CHECK(m.type == CRISP__MSG_TYPE__MSG_HEALTH && !(m.flags & CHAN_MSG_ANSWER));
	h.name = (char *)"fake";
	h.pid = 4242;
	CHECK_RC(chan_answer(c, &m, 0, NULL, &h.base, -1));
	chan_msg_clear(&m);
	return c;
}

static void recv_req(struct chan *c, uint32_t type, struct chan_msg *m)
{
	CHECK_RC(chan_recv_timeout(c, 2000, m));
	CHECK(m->type == type);
	CHECK(!(m->flags & CHAN_MSG_ANSWER));
}

static int setup(struct backend **ret_b, int *ret_lfd)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/sandboxd.sock", unit_tmpdir());
	CHECK_RC(chan_listen(path, 0600, -1, -1, ret_lfd));
	CHECK_RC(backend_new("sandboxd", CRISP__ROLE__ROLE_SANDBOXD, path, ret_b));
	CHECK(!backend_ready(*ret_b));
	CHECK_RC(backend_start(*ret_b));
	return 0;
}

static uint64_t ask(struct backend *b, struct result *r, int64_t timeout_ms)
{
	Crisp__NetworkStatusRequest q = CRISP__NETWORK_STATUS_REQUEST__INIT;
	uint64_t id = 0;
	CHECK_RC(backend_call(b, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &q.base,
			      &crisp__network_status__descriptor, timeout_ms, cb, r, &id));
	CHECK(id > 0);
	return id;
}

TEST(criserver_backend_answers_by_id)
{
	struct backend *b;
	struct backend_info bi;
	struct result r1, r2;
	struct chan_msg m1 = CHAN_MSG_INIT, m2 = CHAN_MSG_INIT;
	Crisp__NetworkStatus ns = CRISP__NETWORK_STATUS__INIT;
	int lfd;

	setup(&b, &lfd);
	struct chan *c = fake_accept(lfd);
	wait_ready(b, true);
	for (int i = 0; i < 100; i++) {        /* the Health answer lands */
		backend_get_info(b, &bi);
		if (bi.pid)
			break;
		usleep(10000);
	}
	CHECK(bi.pid == 4242 && strcmp(bi.peer_name, "fake") == 0 && bi.connects == 1);
	result_init(&r1);
	result_init(&r2);
	uint64_t id1 = ask(b, &r1, 1234);
	uint64_t id2 = ask(b, &r2, 0);
	CHECK(id1 != id2);
	recv_req(c, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &m1);
	recv_req(c, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &m2);
	CHECK(m1.id == id1 && m1.timeout_ms == 1234);
	CHECK(m2.id == id2 && m2.timeout_ms == 0);
	/* answered out of order */
	ns.ready = false;
	ns.message = (char *)"second";
	CHECK_RC(chan_answer(c, &m2, 0, NULL, &ns.base, -1));
	CHECK_RC(chan_answer(c, &m1, CRISP_STATUS_NOT_FOUND, "no such thing", NULL, -1));
	wait_finals(&r2, 1);
	wait_finals(&r1, 1);
	CHECK(r2.status == 0 && !r2.ready && strcmp(r2.message, "second") == 0);
	CHECK(r1.status == CRISP_STATUS_NOT_FOUND && strcmp(r1.error, "no such thing") == 0);
	chan_msg_clear(&m1);
	chan_msg_clear(&m2);
	backend_free(b);
	chan_free(c);
	close(lfd);
}

TEST(criserver_backend_streamed_answers)
{
	struct backend *b;
	struct result r;
	struct chan_msg m = CHAN_MSG_INIT;
	Crisp__NetworkStatus ns = CRISP__NETWORK_STATUS__INIT;
	int lfd;

	setup(&b, &lfd);
	struct chan *c = fake_accept(lfd);
	wait_ready(b, true);
	result_init(&r);
	ask(b, &r, 0);
	recv_req(c, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &m);
	for (int i = 0; i < 3; i++)
		CHECK_RC(chan_send_pb(c, m.type, m.id, CHAN_MSG_ANSWER | CHAN_MSG_MORE, &ns.base, -1));
	ns.ready = true;
	CHECK_RC(chan_answer(c, &m, 0, NULL, &ns.base, -1));
	wait_finals(&r, 1);
	CHECK(r.parts == 3 && r.ready);
	chan_msg_clear(&m);
	backend_free(b);
	chan_free(c);
	close(lfd);
}

TEST(criserver_backend_cancel)
{
	struct backend *b;
	struct result r, r2;
	struct chan_msg m = CHAN_MSG_INIT, cancel = CHAN_MSG_INIT, m2 = CHAN_MSG_INIT;
	Crisp__NetworkStatus ns = CRISP__NETWORK_STATUS__INIT;
	int lfd;

	setup(&b, &lfd);
	struct chan *c = fake_accept(lfd);
	wait_ready(b, true);
	result_init(&r);
	uint64_t id = ask(b, &r, 0);
	recv_req(c, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &m);
	backend_cancel(b, id);
	wait_finals(&r, 1);
	CHECK(r.status == CRISP_STATUS_CANCELLED);
	recv_req(c, CRISP__MSG_TYPE__MSG_CANCEL, &cancel);
	CHECK(cancel.id == id);
	backend_cancel(b, id);                  /* twice: nothing */
	/* a late answer is dropped; the channel stays usable */
	CHECK_RC(chan_answer(c, &m, 0, NULL, &ns.base, -1));
	result_init(&r2);
	ask(b, &r2, 0);
	recv_req(c, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &m2);
	CHECK_RC(chan_answer(c, &m2, 0, NULL, &ns.base, -1));
	wait_finals(&r2, 1);
	usleep(50000);
	pthread_mutex_lock(&r.mu);
	CHECK(r.finals == 1);                   /* never called again */
	pthread_mutex_unlock(&r.mu);
	CHECK(backend_ready(b));
	chan_msg_clear(&m);
	chan_msg_clear(&m2);
	chan_msg_clear(&cancel);
	backend_free(b);
	chan_free(c);
	close(lfd);
}

TEST(criserver_backend_disconnect_fails_pending_and_reconnects)
{
	struct backend *b;
	struct result r, r2;
	struct chan_msg m = CHAN_MSG_INIT;
	int lfd;

	setup(&b, &lfd);
	struct chan *c = fake_accept(lfd);
	wait_ready(b, true);
	result_init(&r);
	ask(b, &r, 0);
	recv_req(c, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &m);
	chan_msg_clear(&m);
	chan_free(c);                           /* the daemon dies */
	wait_finals(&r, 1);
	CHECK(r.status == CRISP_STATUS_UNAVAILABLE);
	CHECK(strcmp(r.error, "sandboxd is restarting") == 0);
	/* down: asking fails at once, cb never runs */
	result_init(&r2);
	Crisp__NetworkStatusRequest q = CRISP__NETWORK_STATUS_REQUEST__INIT;
	int e = backend_call(b, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &q.base, NULL, 0, cb,
			     &r2, NULL);
	CHECK(e == -ENOTCONN);  /* the fake accepts no new connection yet */
	CHECK(r2.finals == 0);
	c = fake_accept(lfd);                   /* it comes back by itself */
	wait_ready(b, true);
	struct backend_info bi;
	backend_get_info(b, &bi);
	CHECK(bi.connects == 2);
	backend_free(b);
	chan_free(c);
	close(lfd);
}

TEST(criserver_backend_protocol_violation_drops_the_daemon)
{
	struct backend *b;
	struct result r;
	struct chan_msg m = CHAN_MSG_INIT;
	Crisp__NetworkStatus ns = CRISP__NETWORK_STATUS__INIT;
	int lfd;

	setup(&b, &lfd);
	struct chan *c = fake_accept(lfd);
	wait_ready(b, true);
	result_init(&r);
	ask(b, &r, 0);
	recv_req(c, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &m);
	/* an answer of another type than the request */
	CHECK_RC(chan_send_pb(c, CRISP__MSG_TYPE__MSG_HEALTH, m.id, CHAN_MSG_ANSWER, &ns.base, -1));
	wait_finals(&r, 1);
	CHECK(r.status == CRISP_STATUS_UNAVAILABLE);
	chan_msg_clear(&m);
	chan_free(c);
	/* and it reconnects; a request from the daemon is also fatal */
	c = fake_accept(lfd);
	wait_ready(b, true);
	CHECK_RC(chan_send_pb(c, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, 7, 0, NULL, -1));
	wait_ready(b, false);
	chan_free(c);
	backend_free(b);
	close(lfd);
}

TEST(criserver_backend_wrong_role_is_not_ready)
{
	char path[PATH_MAX];
	struct backend *b;
	int lfd, fd, role;
	struct chan *c;
	struct pollfd p;

	snprintf(path, sizeof path, "%s/imaged.sock", unit_tmpdir());
	CHECK_RC(chan_listen(path, 0600, -1, -1, &lfd));
	CHECK_RC(backend_new("imaged", CRISP__ROLE__ROLE_IMAGED, path, &b));
	CHECK_RC(backend_start(b));
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	CHECK(poll(&p, 1, 3000) == 1);
	CHECK_RC(chan_accept(lfd, &fd));
	CHECK_RC(chan_new(fd, 0, &c));
	/* a sandboxd behind imaged's socket */
	CHECK_RC(chan_hello_server(c, CRISP__ROLE__ROLE_SANDBOXD, "impostor",
				   ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), 2000, &role));
	usleep(100000);
	CHECK(!backend_ready(b));
	chan_free(c);
	backend_free(b);
	close(lfd);
}

TEST(criserver_backend_stop_fails_pending)
{
	struct backend *b;
	struct result r;
	struct chan_msg m = CHAN_MSG_INIT;
	int lfd;

	setup(&b, &lfd);
	struct chan *c = fake_accept(lfd);
	wait_ready(b, true);
	result_init(&r);
	ask(b, &r, 0);
	recv_req(c, CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, &m);
	backend_stop(b);
	CHECK(r.finals == 1 && r.status == CRISP_STATUS_UNAVAILABLE);
	CHECK(strcmp(r.error, "criserver is shutting down") == 0);
	CHECK(!backend_ready(b));
	chan_msg_clear(&m);
	backend_free(b);
	chan_free(c);
	close(lfd);
}
