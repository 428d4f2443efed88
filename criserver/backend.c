/*
 * backend: criserver's connection to one daemon behind it (see backend.h).
 *
 * Locking: b->lock guards the state (ready, stopping, the pending list, the
 * info for Status); b->chan_lock guards the b->chan pointer: senders hold it
 * for reading while they send (sending is thread-safe in chan), the backend
 * thread takes it for writing only to publish or retire the channel. No
 * callback runs with either lock held. The backend thread is the only reader
 * of the channel.
 *
 * A pending request whose streamed part is being delivered is marked
 * `delivering`: backend_cancel then only marks it, and the backend thread
 * completes it after the part's callback returns, so a callback is never
 * entered twice at once for one request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/chan.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/status.h"
#include "criserver/backend.h"
#include "crisp.pb-c.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
#define HELLO_TIMEOUT_MS 2000
#define HEALTH_TIMEOUT_MS 2000
#define PENDING_MAX 4096u

struct pending {
	struct pending *next;
	uint64_t id;
	uint32_t type;
	const ProtobufCMessageDescriptor *answer_desc;
	backend_cb cb;
	void *ctx;
	bool delivering;        /* the backend thread is in cb with a part */
	bool cancelled;         /* backend_cancel came meanwhile */
};

struct backend {
	char name[32];
	int role;
	char *path;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;
	pthread_cond_t wake;            /* stop during the backoff */
	bool stopping;
	bool ready;
	uint64_t next_id;
	struct pending *pending;
	unsigned n_pending;
	pid_t pid;
	char peer_name[64];
	int64_t since_ms;
	unsigned connects;
	char last_error[128];

	pthread_rwlock_t chan_lock;
	struct chan *chan;
};

static int64_t realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int backend_new(const char *name, int role, const char *path, struct backend **ret)
{
	struct backend *b;
	pthread_condattr_t ca;

	if (!name || strlen(name) >= sizeof b->name || !path)
		return -EINVAL;
	b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->path = strdup(path);
	if (!b->path) {
		free(b);
		return -ENOMEM;
	}
	snprintf(b->name, sizeof b->name, "%s", name);
	b->role = role;
	b->since_ms = realtime_ms();
	snprintf(b->last_error, sizeof b->last_error, "not connected yet");
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_rwlock_init(&b->chan_lock, NULL);
	*ret = b;
	return 0;
}

void backend_free(struct backend *b)
{
	if (!b)
		return;
	backend_stop(b);
	pthread_rwlock_destroy(&b->chan_lock);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->lock);
	free(b->path);
	free(b);
}

const char *backend_name(const struct backend *b)
{
	return b->name;
}

bool backend_ready(struct backend *b)
{
	pthread_mutex_lock(&b->lock);
	bool r = b->ready;
	pthread_mutex_unlock(&b->lock);
	return r;
}

void backend_get_info(struct backend *b, struct backend_info *ret)
{
	pthread_mutex_lock(&b->lock);
	*ret = (struct backend_info){
		.name = b->name, .ready = b->ready, .pid = b->pid, .since_ms = b->since_ms,
		.connects = b->connects, .pending = b->n_pending,
	};
	snprintf(ret->peer_name, sizeof ret->peer_name, "%s", b->peer_name);
	snprintf(ret->last_error, sizeof ret->last_error, "%s", b->last_error);
	pthread_mutex_unlock(&b->lock);
}

/* Pending table (b->lock held). */

static struct pending *pending_find(struct backend *b, uint64_t id)
{
	for (struct pending *p = b->pending; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void pending_unlink(struct backend *b, struct pending *p)
{
	for (struct pending **pp = &b->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			b->n_pending--;
			return;
		}
	}
}

/* Complete p with a status of our own, and free it. */
static void pending_fail(struct pending *p, int32_t status, const char *error)
{
	struct backend_answer a = { .status = status, .error = error };
	p->cb(p->ctx, &a);
	free(p);
}

/* Fail every pending request (no lock held). */
static void pending_fail_list(struct pending *list, int32_t status, const char *error)
{
	while (list) {
		struct pending *next = list->next;
		pending_fail(list, status, error);
		list = next;
	}
}

static int send_msg(struct backend *b, const struct chan_msg *m)
{
	int r = -ENOTCONN;
	pthread_rwlock_rdlock(&b->chan_lock);
	if (b->chan)
		r = chan_send(b->chan, m);
	pthread_rwlock_unlock(&b->chan_lock);
	return r;
}

static int pack(const ProtobufCMessage *msg, uint8_t **ret_buf, size_t *ret_len)
{
	size_t len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
	uint8_t *buf;

	if (len > CHAN_PAYLOAD_MAX)
		return -EMSGSIZE;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	if (msg)
		protobuf_c_message_pack(msg, buf);
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/* Add p to the table with a fresh id; -ENOTCONN / -ENOBUFS. */
static int pending_add(struct backend *b, struct pending *p)
{
	int r = 0;
	pthread_mutex_lock(&b->lock);
	if (!b->ready || b->stopping)
		r = -ENOTCONN;
	else if (b->n_pending >= PENDING_MAX)
		r = -ENOBUFS;
	if (r == 0) {
		p->id = ++b->next_id;
		p->next = b->pending;
		b->pending = p;
		b->n_pending++;
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

int backend_call(struct backend *b, uint32_t type, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *answer_desc, int64_t timeout_ms,
		 backend_cb cb, void *ctx, uint64_t *ret_id)
{
	struct chan_msg m = CHAN_MSG_INIT;
	struct pending *p;
	uint64_t id;
	int r;

	p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	*p = (struct pending){ .type = type, .answer_desc = answer_desc, .cb = cb, .ctx = ctx };
	r = pack(req, &m.payload, &m.payload_len);
	if (r < 0) {
		free(p);
		return r;
	}
	r = pending_add(b, p);
	if (r < 0) {
		free(m.payload);
		free(p);
		return r;
	}
	id = p->id;             /* p may be completed and freed from here on */
	m.type = type;
	m.id = id;
	m.timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
	r = send_msg(b, &m);
	free(m.payload);
	if (r < 0) {
		pthread_mutex_lock(&b->lock);
		p = pending_find(b, id);
		if (p)
			pending_unlink(b, p);
		pthread_mutex_unlock(&b->lock);
		if (p) {
			free(p);
			return r;
		}
		/* the connection died and failed it already: cb was called */
	}
	if (ret_id)
		*ret_id = id;
	return 0;
}

void backend_cancel(struct backend *b, uint64_t id)
{
	struct pending *p;
	bool complete = false;

	pthread_mutex_lock(&b->lock);
	p = pending_find(b, id);
	if (p && p->delivering) {
		p->cancelled = true;
	} else if (p) {
		pending_unlink(b, p);
		complete = true;
	}
	pthread_mutex_unlock(&b->lock);
	if (!p)
		return;
	struct chan_msg m = CHAN_MSG_INIT;
	m.type = CRISP__MSG_TYPE__MSG_CANCEL;
	m.id = id;
	int r = send_msg(b, &m);
	if (r < 0 && r != -ENOTCONN)
		log_debug("%s: could not send cancel for request %llu: %s", b->name,
			  (unsigned long long)id, strerror(-r));
	if (complete)
		pending_fail(p, CRISP_STATUS_CANCELLED, "the CRI call was cancelled");
}

/* After delivering a streamed part: complete p now if it was cancelled. */
static void pending_delivered(struct backend *b, struct pending *p)
{
	bool cancelled;

	pthread_mutex_lock(&b->lock);
	p->delivering = false;
	cancelled = p->cancelled;
	if (cancelled)
		pending_unlink(b, p);
	pthread_mutex_unlock(&b->lock);
	if (cancelled)
		pending_fail(p, CRISP_STATUS_CANCELLED, "the CRI call was cancelled");
}

/* One answer from the daemon. < 0: the daemon broke the protocol. */
static int handle_answer(struct backend *b, const struct chan_msg *m)
{
	ProtobufCMessage *body = NULL;
	struct pending *p;
	bool more = m->flags & CHAN_MSG_MORE;
	uint32_t want = 0;
	int r = 0;

	if (!(m->flags & CHAN_MSG_ANSWER)) {
		log_warn("%s sent a request (type %u): dropping the connection", b->name, m->type);
		return -EPROTO;
	}
	pthread_mutex_lock(&b->lock);
	p = pending_find(b, m->id);
	if (p && p->type != m->type) {
		want = p->type;
		r = -EPROTO;
	}
	else if (p && more)
		p->delivering = true;
	else if (p)
		pending_unlink(b, p);
	pthread_mutex_unlock(&b->lock);
	if (r < 0) {
		log_warn("%s answered request %llu with type %u, not %u: dropping the connection",
			 b->name, (unsigned long long)m->id, m->type, want);
		return r;
	}
	if (!p) {
		log_debug("%s: answer to request %llu that is no longer waited for", b->name,
			  (unsigned long long)m->id);
		return 0;
	}
	if (m->status == CRISP_STATUS_OK && p->answer_desc &&
	    chan_msg_unpack(m, p->answer_desc, &body) < 0) {
		log_warn("%s: answer to request %llu does not unpack as %s: dropping the connection",
			 b->name, (unsigned long long)m->id, p->answer_desc->name);
		if (more) {
			pending_delivered(b, p);    /* the teardown fails it */
			return -EPROTO;
		}
		pending_fail(p, CRISP_STATUS_INTERNAL, "a malformed answer from a crisp daemon");
		return -EPROTO;
	}
	struct backend_answer a = {
		.status = m->status, .error = m->error, .body = body, .more = more,
	};
	p->cb(p->ctx, &a);
	if (body)
		protobuf_c_message_free_unpacked(body, NULL);
	if (more)
		pending_delivered(b, p);
	else
		free(p);
	return 0;
}

static void health_cb(void *ctx, const struct backend_answer *a)
{
	struct backend *b = ctx;
	const Crisp__Health *h = (const Crisp__Health *)a->body;

	if (a->status != CRISP_STATUS_OK || !h) {
		log_debug("%s: no health answer: %s", b->name, a->error ? a->error : "?");
		return;
	}
	pthread_mutex_lock(&b->lock);
	b->pid = (pid_t)h->pid;
	snprintf(b->peer_name, sizeof b->peer_name, "%s", h->name ? h->name : "");
	pthread_mutex_unlock(&b->lock);
	log_debug("%s: pid %u, %u peers, %u requests in flight", b->name, h->pid, h->peers,
		  h->requests_in_flight);
}

static void set_state(struct backend *b, bool ready, const char *why, struct pending **ret_list)
{
	pthread_mutex_lock(&b->lock);
	if (b->ready != ready)
		b->since_ms = realtime_ms();
	b->ready = ready;
	if (ready) {
		b->connects++;
		b->last_error[0] = '\0';
	} else {
		snprintf(b->last_error, sizeof b->last_error, "%s", why);
		b->pid = 0;
		b->peer_name[0] = '\0';
	}
	if (ret_list) {
		*ret_list = b->pending;
		b->pending = NULL;
		b->n_pending = 0;
	}
	pthread_mutex_unlock(&b->lock);
}

static bool is_stopping(struct backend *b)
{
	pthread_mutex_lock(&b->lock);
	bool s = b->stopping;
	pthread_mutex_unlock(&b->lock);
	return s;
}

static void publish(struct backend *b, struct chan *c)
{
	pthread_rwlock_wrlock(&b->chan_lock);
	b->chan = c;
	pthread_rwlock_unlock(&b->chan_lock);
}

/* Read answers until the connection fails; returns why. */
static int serve(struct backend *b, struct chan *c)
{
	for (;;) {
		struct chan_msg m = CHAN_MSG_INIT;
		int r = chan_recv(c, &m);
		if (r < 0)
			return r;
		r = handle_answer(b, &m);
		chan_msg_clear(&m);
		if (r < 0)
			return r;
	}
}

/* Handshake on c; the daemon must be the one we expect. */
static int handshake(struct backend *b, struct chan *c)
{
	int role = 0;
	int r = chan_hello_client(c, CRISP__ROLE__ROLE_CRISERVER, "criserver", HELLO_TIMEOUT_MS,
				  &role);
	if (r < 0)
		return r;
	if (role != b->role) {
		log_error("%s: the socket %s is served by %s (role %d), not %s", b->name, b->path,
			  proc_role_name(role), role, b->name);
		return -EPROTO;
	}
	return 0;
}

/* One connection, from connect to its end. *ret_up: the handshake passed. */
static int session(struct backend *b, bool *ret_up)
{
	struct pending *list = NULL;
	struct chan *c;
	char why[128];
	int fd, r;

	r = chan_connect(b->path, &fd);
	if (r < 0)
		return r;
	r = chan_new(fd, 0, &c);
	if (r < 0) {
		close(fd);
		return r;
	}
	publish(b, c);          /* from here backend_stop can shut it down */
	r = is_stopping(b) ? -ECANCELED : handshake(b, c);
	if (r >= 0) {
		*ret_up = true;
		set_state(b, true, NULL, NULL);
		log_info("connected to %s", b->name);
		if (backend_call(b, CRISP__MSG_TYPE__MSG_HEALTH, NULL, &crisp__health__descriptor,
				 HEALTH_TIMEOUT_MS, health_cb, b, NULL) < 0)
			log_debug("%s: could not ask for health", b->name);
		r = serve(b, c);
	}
	snprintf(why, sizeof why, "%s", strerror(-r));
	set_state(b, false, why, &list);
	publish(b, NULL);
	chan_free(c);
	if (is_stopping(b))
		snprintf(why, sizeof why, "criserver is shutting down");
	else
		snprintf(why, sizeof why, "%s is restarting", b->name);
	pending_fail_list(list, CRISP_STATUS_UNAVAILABLE, why);
	return r;
}

/* Sleep ms unless stopped. */
static void backoff_wait(struct backend *b, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	while (!b->stopping && pthread_cond_timedwait(&b->wake, &b->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&b->lock);
}

static void *backend_thread(void *arg)
{
	struct backend *b = arg;
	unsigned backoff = BACKOFF_MIN_MS;
	bool complained = false;

	while (!is_stopping(b)) {
		bool up = false;
		int r = session(b, &up);
		if (is_stopping(b))
			break;
		if (up) {
			log_warn("lost %s: %s; reconnecting", b->name, strerror(-r));
			backoff = BACKOFF_MIN_MS;
			complained = false;
		} else if (!complained) {
			log_warn("cannot connect to %s at %s: %s; retrying", b->name, b->path,
				 strerror(-r));
			complained = true;
		}
		backoff_wait(b, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

int backend_start(struct backend *b)
{
	int r = pthread_create(&b->thread, NULL, backend_thread, b);
	if (r != 0)
		return -r;
	b->started = true;
	return 0;
}

void backend_stop(struct backend *b)
{
	if (!b->started)
		return;
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->lock);
	pthread_rwlock_rdlock(&b->chan_lock);
	if (b->chan)
		shutdown(chan_fd(b->chan), SHUT_RDWR);
	pthread_rwlock_unlock(&b->chan_lock);
	pthread_join(b->thread, NULL);
	b->started = false;
}
