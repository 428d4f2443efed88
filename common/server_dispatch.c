/*
 * server_dispatch: what a server does with each message from a peer (see
 * server.h). Owns the Hello step, the built-in messages (Health, Cancel),
 * the strict check of every request against the dispatch table (type known,
 * role allowed, fd only where the entry takes one, payload unpacks as the
 * entry's type), the in-flight cap, and answering (from any thread). A
 * message that breaks a rule ends that peer and nothing else. Must never
 * call a handler for a request that failed a check.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/log.h"
#include "common/server_int.h"
#include "common/status.h"

#define node_of(r) ((struct req_node *)((char *)(r) - offsetof(struct req_node, req)))

static int peer_hello(struct peer *p, const struct chan_msg *m)
{
	struct server *s = p->server;
	int role, r;

	r = chan_hello_check(p->chan, m, s->role, s->name, p->roles, &role);
	if (r < 0)
		return peer_fail(p, "handshake refused: %s",
				 r == -EPERM ? "its role may not use this socket" :
				 r == -EPROTONOSUPPORT ? "its protocol version differs" :
				 r == -EPROTO ? "the first message is not a Hello" : strerror(-r));
	pthread_mutex_lock(&p->lock);
	p->role = role;
	p->state = PEER_READY;
	pthread_mutex_unlock(&p->lock);
	loop_remove(s->loop, p->hello_timer);
	p->hello_timer = NULL;
	log_debug("%s: peer pid %d is role %d", s->name, (int)p->pid, role);
	return 0;
}

/* An answer sent on the loop thread: a peer that does not read is ended. */
static int peer_sent(struct peer *p, int r)
{
	if (r == -EAGAIN)
		return peer_fail(p, "does not read its answers");
	return 0;       /* other failures show up as EOF on the next read */
}

static int peer_health(struct peer *p, const struct chan_msg *m)
{
	struct server *s = p->server;
	Crisp__Health h = CRISP__HEALTH__INIT;
	ProtobufCMessage *req;

	if (m->fd >= 0 || chan_msg_unpack(m, &crisp__health_request__descriptor, &req) < 0)
		return peer_fail(p, "malformed HealthRequest");
	protobuf_c_message_free_unpacked(req, NULL);
	h.name = s->name;
	h.pid = (uint32_t)getpid();
	h.uptime_ms = server_now_ms() - s->started_ms;
	h.peers = atomic_load(&s->n_peers);
	h.requests_in_flight = atomic_load(&s->in_flight);
	return peer_sent(p, chan_answer(p->chan, m, CRISP_STATUS_OK, NULL, &h.base, -1));
}

static int peer_cancel(struct peer *p, const struct chan_msg *m)
{
	ProtobufCMessage *req;

	if (m->fd >= 0 || chan_msg_unpack(m, &crisp__cancel__descriptor, &req) < 0)
		return peer_fail(p, "malformed Cancel");
	protobuf_c_message_free_unpacked(req, NULL);
	pthread_mutex_lock(&p->lock);
	for (struct req_node *n = p->reqs; n; n = n->next)
		if (n->req.msg.id == m->id)
			atomic_store(&n->req.cancelled, true);
	pthread_mutex_unlock(&p->lock);
	return 0;       /* no answer; an unknown id was already answered */
}

static const struct dispatch_entry *table_find(const struct server *s, uint32_t type)
{
	for (size_t i = 0; i < s->n_table; i++)
		if (s->table[i].type == type)
			return &s->table[i];
	return NULL;
}

/* The checks that only the table can make. body: the unpacked payload. */
static int request_check(struct peer *p, const struct dispatch_entry *e,
			 const struct chan_msg *m, ProtobufCMessage **body)
{
	*body = NULL;
	if (!e)
		return peer_fail(p, "unknown message type %u", m->type);
	if (p->role <= 0 || p->role >= 32 || !(e->roles & ROLE_BIT(p->role)))
		return peer_fail(p, "role %d may not send message type %u", p->role, m->type);
	if (m->fd >= 0 && !e->takes_fd)
		return peer_fail(p, "an fd came with message type %u", m->type);
	if (!e->request)
		return m->payload_len == 0 ? 0 :
		       peer_fail(p, "a payload came with message type %u", m->type);
	if (chan_msg_unpack(m, e->request, body) < 0)
		return peer_fail(p, "message type %u does not unpack as %s", m->type,
				 e->request->name);
	return 0;
}

static bool peer_has_id(const struct peer *p, uint64_t id)
{
	for (const struct req_node *n = p->reqs; n; n = n->next)
		if (n->req.msg.id == id)
			return true;
	return false;
}

/* Make m (taken over: left empty) a request in flight on p and hand it to
 * its handler. */
static int request_start(struct peer *p, const struct dispatch_entry *e, struct chan_msg *m,
			 ProtobufCMessage *body)
{
	struct server *s = p->server;
	struct req_node *n;
	bool busy, dup;
	int r;

	pthread_mutex_lock(&p->lock);
	dup = peer_has_id(p, m->id);
	busy = p->n_reqs >= SERVER_REQS_MAX;
	pthread_mutex_unlock(&p->lock);
	if (dup || busy || !(n = calloc(1, sizeof *n))) {
		if (body)
			protobuf_c_message_free_unpacked(body, NULL);
		if (dup)
			return peer_fail(p, "request id %llu is already in flight",
					 (unsigned long long)m->id);
		return peer_sent(p, chan_answer(p->chan, m, CRISP_STATUS_RESOURCE_EXHAUSTED,
						busy ? "too many requests in flight" : "out of memory",
						NULL, -1));
	}
	n->req.server = s;
	n->req.peer = p;
	n->req.peer_role = p->role;
	n->req.peer_pid = p->pid;
	n->req.peer_uid = p->uid;
	n->req.msg = *m;
	*m = (struct chan_msg)CHAN_MSG_INIT;
	n->req.body = body;
	atomic_init(&n->req.cancelled, false);
	peer_ref(p);
	atomic_fetch_add(&s->in_flight, 1);
	pthread_mutex_lock(&p->lock);
	n->next = p->reqs;
	if (p->reqs)
		p->reqs->prev = n;
	p->reqs = n;
	p->n_reqs++;
	pthread_mutex_unlock(&p->lock);
	r = e->handle(&n->req, s->userdata);
	if (r < 0)
		(void)server_answer(&n->req, CRISP_STATUS_INTERNAL, strerror(-r), NULL, -1);
	return 0;
}

static int peer_message(struct peer *p, struct chan_msg *m)
{
	const struct dispatch_entry *e;
	ProtobufCMessage *body;

	if (m->flags & (CHAN_MSG_ANSWER | CHAN_MSG_MORE))
		return peer_fail(p, "an answer (type %u) where requests are expected", m->type);
	if (m->timeout_ms < 0)
		return peer_fail(p, "negative timeout in message type %u", m->type);
	switch (m->type) {
	case CRISP__MSG_TYPE__MSG_HELLO:
		return peer_fail(p, "Hello after the handshake");
	case CRISP__MSG_TYPE__MSG_CANCEL:
		return peer_cancel(p, m);
	case CRISP__MSG_TYPE__MSG_HEALTH:
		return peer_health(p, m);
	default:
		break;
	}
	e = table_find(p->server, m->type);
	if (request_check(p, e, m, &body) < 0)
		return -EPROTO;
	return request_start(p, e, m, body);
}

int peer_on_readable(struct loop *l, int fd, uint32_t events, void *data)
{
	struct peer *p = data;

	for (int i = 0; i < SERVER_RECV_BATCH; i++) {
		struct chan_msg m = CHAN_MSG_INIT;
		int r = chan_recv(p->chan, &m);
		if (r == -EAGAIN)
			return 0;
		if (r == -ECONNRESET) {
			log_debug("%s: peer pid %d went away", p->server->name, (int)p->pid);
			peer_end(p);
			return 0;
		}
		if (r < 0) {
			(void)peer_fail(p, "bad message: %s", strerror(-r));
			return 0;
		}
		r = p->state == PEER_HELLO ? peer_hello(p, &m) : peer_message(p, &m);
		chan_msg_clear(&m);
		if (r < 0)
			return 0;       /* p has been ended and may be gone */
	}
	return 0;
}

/* Unlink req from its peer; true when the peer can still be answered. */
static bool request_detach(struct server_req *req)
{
	struct req_node *n = node_of(req);
	struct peer *p = req->peer;
	bool alive;

	pthread_mutex_lock(&p->lock);
	if (n->prev)
		n->prev->next = n->next;
	else
		p->reqs = n->next;
	if (n->next)
		n->next->prev = n->prev;
	p->n_reqs--;
	alive = p->state != PEER_DEAD;
	pthread_mutex_unlock(&p->lock);
	atomic_fetch_sub(&p->server->in_flight, 1);
	return alive;
}

int server_answer(struct server_req *req, int32_t status, const char *error,
		  const ProtobufCMessage *msg, int fd)
{
	struct peer *p;
	int r = 0;

	if (!req)
		return -EINVAL;
	p = req->peer;
	if (request_detach(req)) {
		r = chan_answer(p->chan, &req->msg, status, error, msg, fd);
		/* a peer that does not read: make the loop thread see EOF and end it */
		if (r == -EAGAIN)
			(void)shutdown(chan_fd(p->chan), SHUT_RDWR);
		if (r == -EPIPE || r == -ECONNRESET)
			r = 0;          /* it went away meanwhile: nobody to tell */
	}
	chan_msg_clear(&req->msg);
	if (req->body)
		protobuf_c_message_free_unpacked(req->body, NULL);
	free(node_of(req));
	peer_unref(p);
	return r;
}

int server_answer_more(struct server_req *req, const ProtobufCMessage *msg)
{
	struct peer *p;
	bool alive;
	int r;

	if (!req)
		return -EINVAL;
	p = req->peer;
	pthread_mutex_lock(&p->lock);
	alive = p->state != PEER_DEAD;
	pthread_mutex_unlock(&p->lock);
	if (!alive || atomic_load(&req->cancelled))
		return -ECANCELED;
	r = chan_send_pb(p->chan, req->msg.type, req->msg.id, CHAN_MSG_ANSWER | CHAN_MSG_MORE,
			 msg, -1);
	if (r == -EAGAIN)
		(void)shutdown(chan_fd(p->chan), SHUT_RDWR);
	return r;
}
