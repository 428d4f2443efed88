/*
 * rpc_call: one CRI call's life on the completion queue (see rpc.h):
 *   taken (grpc_server_request_call) -> RECV_CLOSE_ON_SERVER armed, so that a
 *   cancel, a passed deadline or a lost connection is seen; RECV_MESSAGE ->
 *   the path looked up, the request unpacked, the handler run -> the
 *   handler's messages and status queued and sent one batch at a time (grpc
 *   allows one send in flight per call) -> freed with its last reference.
 *
 * When a call is taken, the owner of the connections is told which one it
 * came on (grpc's peer for a transport added from fd N is "fd:N"), and told
 * again when the call is freed; a call without a deadline gets the server's
 * default one (rpc_deadline.c).
 *
 * References: one for the handler (taken with the call, dropped when it
 * finishes), one per batch in flight, and rpc_ref()s.
 *
 * Unpacking is capped: protobuf-c allocates through a counting allocator
 * with a budget proportional to the message size, so that a small message
 * cannot make criserver allocate without bound.
 *
 * Must never log request contents; never touch r after dropping the last
 * reference it holds; never start a batch on a call whose send failed.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "common/log.h"
#include "criserver/rpc_int.h"

#define RPC_OF(t, member) ((struct rpc *)((char *)(t) - offsetof(struct rpc, member)))
/* protobuf-c may allocate this much per byte of message, plus a floor */
#define UNPACK_BUDGET_PER_BYTE 16u
#define UNPACK_BUDGET_FLOOR (1u << 20)
#define UNPACK_ALLOC_OVERHEAD 16u

static void on_new(struct cq_tag *t, bool ok);
static void on_recv(struct cq_tag *t, bool ok);
static void on_send(struct cq_tag *t, bool ok);
static void on_close(struct cq_tag *t, bool ok);

static const char *code_name(grpc_status_code c)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};
	return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "?";
}

static void out_free(struct rpc_out *o)
{
	if (o->bb)
		grpc_byte_buffer_destroy(o->bb);
	free(o->details);
	free(o);
}

/* r->lock held */
static void out_drop(struct rpc *r)
{
	while (r->out_head) {
		struct rpc_out *o = r->out_head;
		r->out_head = o->next;
		out_free(o);
	}
	r->out_tail = &r->out_head;
	r->out_bytes = 0;
}

static void out_append(struct rpc *r, struct rpc_out *o)
{
	o->next = NULL;
	*r->out_tail = o;
	r->out_tail = &o->next;
	r->out_bytes += o->bytes;
}

static struct rpc_out *out_pop(struct rpc *r)
{
	struct rpc_out *o = r->out_head;
	r->out_head = o->next;
	if (!r->out_head)
		r->out_tail = &r->out_head;
	r->out_bytes -= o->bytes;
	return o;
}

static void rpc_free(struct rpc *r)
{
	struct rpc_server *s = r->srv;
	bool counted = r->counted;

	pthread_mutex_lock(&s->lock);   /* first: the deadline thread may look at r */
	rpc_deadline_unlink(s, r);
	pthread_mutex_unlock(&s->lock);
	if (r->conn_token && s->opts.conn_call_end)
		s->opts.conn_call_end(s->opts.conn_data, r->conn_token);
	out_drop(r);
	if (r->req)
		protobuf_c_message_free_unpacked(r->req, NULL);
	if (r->recv_bb)
		grpc_byte_buffer_destroy(r->recv_bb);
	if (r->call)
		grpc_call_unref(r->call);
	grpc_call_details_destroy(&r->details);
	grpc_metadata_array_destroy(&r->md);
	pthread_mutex_destroy(&r->lock);
	free(r);
	rpc_server_call_gone(s, counted);
}

void rpc_ref(struct rpc *r)
{
	pthread_mutex_lock(&r->lock);
	r->refs++;
	pthread_mutex_unlock(&r->lock);
}

void rpc_unref(struct rpc *r)
{
	pthread_mutex_lock(&r->lock);
	bool last = --r->refs == 0;
	pthread_mutex_unlock(&r->lock);
	if (last)
		rpc_free(r);
}

int rpc_call_post(struct rpc_server *s)
{
	struct rpc *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->srv = s;
	r->refs = 1;
	pthread_mutex_init(&r->lock, NULL);
	grpc_call_details_init(&r->details);
	grpc_metadata_array_init(&r->md);
	r->out_tail = &r->out_head;
	r->tag_new.fn = on_new;
	r->tag_recv.fn = on_recv;
	r->tag_send.fn = on_send;
	r->tag_close.fn = on_close;
	pthread_mutex_lock(&s->lock);
	s->live++;
	pthread_mutex_unlock(&s->lock);
	grpc_call_error e = grpc_server_request_call(s->server, &r->call, &r->details, &r->md,
						     s->cq, s->cq, &r->tag_new);
	if (e != GRPC_CALL_OK) {
		log_error("grpc_server_request_call: %s", grpc_call_error_to_string(e));
		rpc_free(r);
		return -EIO;
	}
	return 0;
}

/* Start a batch holding a reference for it; r->lock held or r not shared. */
static bool start_batch(struct rpc *r, const grpc_op *ops, size_t n, struct cq_tag *tag)
{
	r->refs++;
	grpc_call_error e = grpc_call_start_batch(r->call, ops, n, tag, NULL);
	if (e == GRPC_CALL_OK)
		return true;
	r->refs--;              /* never the last: the caller holds one */
	log_error("%s: grpc_call_start_batch: %s", r->name, grpc_call_error_to_string(e));
	return false;
}

/* Release what the send batch carried (r->lock held). */
static void send_done(struct rpc *r)
{
	if (r->send_bb) {
		grpc_byte_buffer_destroy(r->send_bb);
		r->send_bb = NULL;
	}
	if (r->send_details_set) {
		grpc_slice_unref(r->send_details);
		r->send_details_set = false;
	}
}

/* Start the next send batch if none is in flight (r->lock held). A message
 * followed by the status go in one batch. */
static void send_next(struct rpc *r)
{
	grpc_op ops[3];
	size_t n = 0;

	if (r->sending || !r->out_head)
		return;
	if (r->cancelled) {
		out_drop(r);
		return;
	}
	memset(ops, 0, sizeof ops);
	if (!r->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		r->md_sent = true;
	}
	if (r->out_head->bb) {
		struct rpc_out *o = out_pop(r);
		r->send_bb = o->bb;
		o->bb = NULL;
		out_free(o);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = r->send_bb;
	}
	if (r->out_head && !r->out_head->bb) {
		struct rpc_out *o = out_pop(r);
		r->send_details = grpc_slice_from_copied_string(o->details ? o->details : "");
		r->send_details_set = true;
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = o->code;
		ops[n++].data.send_status_from_server.status_details = &r->send_details;
		out_free(o);
	}
	r->sending = start_batch(r, ops, n, &r->tag_send);
	if (!r->sending) {
		send_done(r);
		r->cancelled = true;
		out_drop(r);
	}
}

static void on_send(struct cq_tag *t, bool ok)
{
	struct rpc *r = RPC_OF(t, tag_send);

	pthread_mutex_lock(&r->lock);
	r->sending = false;
	send_done(r);
	if (!ok)
		r->cancelled = true;    /* the call is over: nothing more will go */
	send_next(r);
	pthread_mutex_unlock(&r->lock);
	rpc_unref(r);
}

static void on_close(struct cq_tag *t, bool ok)
{
	struct rpc *r = RPC_OF(t, tag_close);
	void (*fn)(void *, uint64_t) = NULL;
	void *obj = NULL;
	uint64_t id = 0;

	pthread_mutex_lock(&r->lock);
	if (r->close_cancelled || !ok) {
		r->cancelled = true;
		if (!r->finished && r->cancel_fn) {
			fn = r->cancel_fn;
			obj = r->cancel_obj;
			id = r->cancel_id;
			r->cancel_fn = NULL;
		}
	}
	bool cancelled = r->cancelled, finished = r->finished;
	pthread_mutex_unlock(&r->lock);
	if (cancelled && !finished)
		log_debug("%s: cancelled by the client%s", r->name,
			  rpc_timeout_ms(r) == 1 ? " (its deadline passed)" : "");
	if (fn)
		fn(obj, id);
	rpc_unref(r);
}

/* The answer: queue it and drop the handler's reference. bb may be NULL. */
static void finish(struct rpc *r, grpc_byte_buffer *bb, size_t bytes, grpc_status_code code,
		   const char *details)
{
	struct rpc_out *m = bb ? calloc(1, sizeof *m) : NULL;
	struct rpc_out *st = calloc(1, sizeof *st);
	char *d = strdup(details ? details : "");

	pthread_mutex_lock(&r->lock);
	if (r->finished) {
		pthread_mutex_unlock(&r->lock);
		log_error("%s: answered twice (a bug): ignoring the second answer", r->name);
		goto drop;
	}
	r->finished = true;
	r->code = code;
	r->cancel_fn = NULL;
	if (!st || !d || (bb && !m)) {
		pthread_mutex_unlock(&r->lock);
		grpc_call_cancel_with_status(r->call, GRPC_STATUS_INTERNAL, "out of memory", NULL);
		rpc_unref(r);
		goto drop;
	}
	if (m) {
		*m = (struct rpc_out){ .bb = bb, .bytes = bytes };
		out_append(r, m);
	}
	*st = (struct rpc_out){ .code = code, .details = d };
	out_append(r, st);
	bool gone = r->cancelled;       /* then send_next drops it */
	send_next(r);
	pthread_mutex_unlock(&r->lock);
	int level = !gone && (code == GRPC_STATUS_INTERNAL || code == GRPC_STATUS_UNKNOWN ||
			      code == GRPC_STATUS_DATA_LOSS) ? LOG_WARN : LOG_DEBUG;
	log_msg(level, "%s: %s%s%s (%lld ms)%s", r->name, code_name(code), details ? ": " : "",
		details ? details : "", (long long)(rpc_mono_ms() - r->start_ms),
		gone ? ", not sent: the call is over" : "");
	rpc_unref(r);
	return;
drop:
	if (bb)
		grpc_byte_buffer_destroy(bb);
	free(m);
	free(st);
	free(d);
}

void rpc_finish_status(struct rpc *r, grpc_status_code code, const char *fmt, ...)
{
	char details[RPC_DETAILS_MAX];
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(details, sizeof details, fmt, ap);
		va_end(ap);
	}
	finish(r, NULL, 0, code, fmt ? details : NULL);
}

static int pack(const ProtobufCMessage *msg, uint64_t max, grpc_byte_buffer **ret_bb,
		size_t *ret_len)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	if (len > max)
		return -EMSGSIZE;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	grpc_slice sl = grpc_slice_new(buf, len, free);
	*ret_bb = grpc_raw_byte_buffer_create(&sl, 1);
	grpc_slice_unref(sl);
	*ret_len = len;
	return 0;
}

void rpc_finish(struct rpc *r, const ProtobufCMessage *msg)
{
	grpc_byte_buffer *bb;
	size_t len;
	int e = pack(msg, r->srv->opts.max_msg_size, &bb, &len);

	if (e == -EMSGSIZE)
		rpc_finish_status(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
				  "the answer (%zu bytes) is over the limit of %llu bytes (api.max_msg_size)",
				  protobuf_c_message_get_packed_size(msg),
				  (unsigned long long)r->srv->opts.max_msg_size);
	else if (e < 0)
		rpc_finish_status(r, GRPC_STATUS_INTERNAL, "out of memory");
	else
		finish(r, bb, len, GRPC_STATUS_OK, NULL);
}

int rpc_send(struct rpc *r, const ProtobufCMessage *msg)
{
	grpc_byte_buffer *bb;
	size_t len;
	int e;

	if (!r->method || !r->method->server_streaming)
		return -EINVAL;
	e = pack(msg, r->srv->opts.max_msg_size, &bb, &len);
	if (e < 0)
		return e;
	struct rpc_out *o = calloc(1, sizeof *o);
	if (!o) {
		grpc_byte_buffer_destroy(bb);
		return -ENOMEM;
	}
	*o = (struct rpc_out){ .bb = bb, .bytes = len };
	pthread_mutex_lock(&r->lock);
	if (r->finished)
		e = -EINVAL;
	else if (r->cancelled)
		e = -ECANCELED;
	else if (r->out_bytes + len > RPC_OUT_MAX_BYTES)
		e = -ENOBUFS;
	if (e == 0) {
		out_append(r, o);
		send_next(r);
	}
	pthread_mutex_unlock(&r->lock);
	if (e < 0)
		out_free(o);
	return e;
}

void rpc_on_cancel(struct rpc *r, void (*fn)(void *obj, uint64_t id), void *obj, uint64_t id)
{
	bool now = false;

	pthread_mutex_lock(&r->lock);
	if (!r->finished && r->cancelled) {
		now = true;
	} else if (!r->finished) {
		r->cancel_fn = fn;
		r->cancel_obj = obj;
		r->cancel_id = id;
	}
	pthread_mutex_unlock(&r->lock);
	if (now)
		fn(obj, id);
}

void rpc_abort(struct rpc *r, grpc_status_code code, const char *text)
{
	log_debug("%s: aborted: %s", r->name, text);
	grpc_call_cancel_with_status(r->call, code, text, NULL);
}

bool rpc_cancelled(struct rpc *r)
{
	pthread_mutex_lock(&r->lock);
	bool c = r->cancelled;
	pthread_mutex_unlock(&r->lock);
	return c;
}

const char *rpc_name(const struct rpc *r)
{
	return r->name;
}

bool rpc_streaming(const struct rpc *r)
{
	return r->method && r->method->server_streaming;
}

static bool has_deadline(const struct rpc *r)
{
	gpr_timespec d = gpr_convert_clock_type(r->details.deadline, GPR_CLOCK_MONOTONIC);
	return gpr_time_cmp(d, gpr_inf_future(GPR_CLOCK_MONOTONIC)) < 0;
}

int64_t rpc_timeout_ms(const struct rpc *r)
{
	int64_t ms;

	if (has_deadline(r)) {
		gpr_timespec d = gpr_convert_clock_type(r->details.deadline, GPR_CLOCK_MONOTONIC);
		gpr_timespec left = gpr_time_sub(d, gpr_now(GPR_CLOCK_MONOTONIC));
		ms = (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
	} else {
		pthread_mutex_lock(&r->srv->lock);
		int64_t given = r->default_deadline_ms;
		pthread_mutex_unlock(&r->srv->lock);
		if (given == 0)
			return 0;
		ms = given - rpc_mono_ms();
	}
	return ms < 1 ? 1 : ms;
}

void rpc_default_deadline_at_least(struct rpc *r, int64_t ms)
{
	struct rpc_server *s = r->srv;

	pthread_mutex_lock(&s->lock);
	if (r->default_deadline_ms && ms == RPC_NO_DEADLINE) {
		r->default_deadline_ms = 0;
		rpc_deadline_unlink(s, r);
	} else if (r->default_deadline_ms && ms > 0) {
		int64_t at = ms < INT64_MAX - r->start_ms ? r->start_ms + ms : INT64_MAX - 1;
		if (at > r->default_deadline_ms)
			r->default_deadline_ms = at;
	}
	pthread_mutex_unlock(&s->lock);
}

/* The fd of grpc's peer text "fd:N" (a transport added from fd N), or -1. */
static int peer_fd(const char *peer)
{
	char *end;
	long n;

	if (!peer || strncmp(peer, "fd:", 3) != 0 || peer[3] < '0' || peer[3] > '9')
		return -1;
	errno = 0;
	n = strtol(peer + 3, &end, 10);
	if (errno || *end || n > INT_MAX)
		return -1;
	return (int)n;
}

/* Tell the owner of the connections which one this call came on. */
static void conn_call_start(struct rpc *r)
{
	struct rpc_server *s = r->srv;
	char *peer;

	if (!s->opts.conn_call_start)
		return;
	peer = grpc_call_get_peer(r->call);
	int fd = peer_fd(peer);
	if (fd < 0)
		log_debug("%s: a call from peer \"%s\", not an fd criserver handed over", r->name,
			  peer ? peer : "");
	gpr_free(peer);
	r->conn_token = s->opts.conn_call_start(s->opts.conn_data, fd);
}

/* The method's path without its '/', printable, for messages and logs. */
static void set_name(struct rpc *r)
{
	const char *p = (const char *)GRPC_SLICE_START_PTR(r->details.method);
	size_t len = GRPC_SLICE_LENGTH(r->details.method), n = 0;

	if (len && p[0] == '/') {
		p++;
		len--;
	}
	for (size_t i = 0; i < len && n + 1 < sizeof r->name; i++)
		r->name[n++] = p[i] > 0x20 && p[i] < 0x7f ? p[i] : '?';
	r->name[n] = '\0';
}

static const struct rpc_method *method_find(const struct rpc_server *s, grpc_slice path)
{
	size_t len = GRPC_SLICE_LENGTH(path);
	const uint8_t *p = GRPC_SLICE_START_PTR(path);

	for (size_t i = 0; i < s->opts.n_methods; i++) {
		const char *m = s->opts.methods[i].path;
		if (strlen(m) == len && memcmp(m, p, len) == 0)
			return &s->opts.methods[i];
	}
	return NULL;
}

struct budget {
	size_t left;
	bool exhausted;
};

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;
	size_t cost = size + UNPACK_ALLOC_OVERHEAD;
	if (cost < size || cost > b->left) {
		b->exhausted = true;
		return NULL;
	}
	b->left -= cost;
	return malloc(size);
}

static void budget_free(void *data, void *p)
{
	free(p);
}

/* Unpack bb as the method's request; consumes bb. -EINVAL: undecodable;
 * -E2BIG: it would take too much memory. */
static int decode(struct rpc *r, grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader rd;
	int ret = -EINVAL;

	if (grpc_byte_buffer_reader_init(&rd, bb)) {
		grpc_slice sl = grpc_byte_buffer_reader_readall(&rd);
		size_t len = GRPC_SLICE_LENGTH(sl);
		struct budget b = { .left = UNPACK_BUDGET_FLOOR + len * UNPACK_BUDGET_PER_BYTE };
		ProtobufCAllocator a = { .alloc = budget_alloc, .free = budget_free,
					 .allocator_data = &b };
		r->req = protobuf_c_message_unpack(r->method->request, &a, len,
						   GRPC_SLICE_START_PTR(sl));
		ret = r->req ? 0 : b.exhausted ? -E2BIG : -EINVAL;
		grpc_slice_unref(sl);
		grpc_byte_buffer_reader_destroy(&rd);
	}
	grpc_byte_buffer_destroy(bb);
	return ret;
}

static void on_recv(struct cq_tag *t, bool ok)
{
	struct rpc *r = RPC_OF(t, tag_recv);
	grpc_byte_buffer *bb = r->recv_bb;
	const char *type = r->method->request->name;

	r->recv_bb = NULL;
	if (!ok || !bb) {
		if (bb)
			grpc_byte_buffer_destroy(bb);
		if (ok)
			rpc_finish_status(r, GRPC_STATUS_INVALID_ARGUMENT, "no %s in the call", type);
		else
			rpc_finish_status(r, GRPC_STATUS_CANCELLED, "the call ended before its request came");
		rpc_unref(r);
		return;
	}
	int e = decode(r, bb);
	if (e == -E2BIG)
		rpc_finish_status(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
				  "the %s would take too much memory to decode", type);
	else if (e < 0)
		rpc_finish_status(r, GRPC_STATUS_INVALID_ARGUMENT,
				  "the request is not a valid %s message", type);
	else if (!r->method->handler)
		rpc_finish_status(r, GRPC_STATUS_UNIMPLEMENTED,
				  "%s is not implemented by crisp yet", r->name);
	else
		r->method->handler(r, r->req, r->srv->opts.userdata);
	rpc_unref(r);
}

/* Arm RECV_CLOSE_ON_SERVER: it completes when the call is over. */
static void arm_close(struct rpc *r)
{
	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &r->close_cancelled;
	pthread_mutex_lock(&r->lock);
	if (!start_batch(r, &op, 1, &r->tag_close))
		r->cancelled = true;
	pthread_mutex_unlock(&r->lock);
}

static void on_new(struct cq_tag *t, bool ok)
{
	struct rpc *r = RPC_OF(t, tag_new);
	struct rpc_server *s = r->srv;
	grpc_op op;

	if (!ok) {              /* the server is shutting down */
		rpc_unref(r);
		return;
	}
	r->start_ms = rpc_mono_ms();
	set_name(r);
	conn_call_start(r);
	pthread_mutex_lock(&s->lock);
	bool down = s->shutting_down;
	bool over = ++s->calls > s->opts.max_calls;
	r->counted = true;
	if (s->opts.default_timeout_ms > 0 && !has_deadline(r)) {
		r->default_deadline_ms = r->start_ms + s->opts.default_timeout_ms;
		rpc_deadline_link(s, r);
	}
	pthread_mutex_unlock(&s->lock);
	if (!down && rpc_call_post(s) < 0)
		log_error("could not wait for more calls");
	arm_close(r);
	r->method = method_find(s, r->details.method);
	if (over) {
		rpc_finish_status(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
				  "criserver is serving %u calls at once, its limit", s->opts.max_calls);
		return;
	}
	if (!r->method) {
		rpc_finish_status(r, GRPC_STATUS_UNIMPLEMENTED, "unknown method %s", r->name);
		return;
	}
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &r->recv_bb;
	pthread_mutex_lock(&r->lock);
	bool started = start_batch(r, &op, 1, &r->tag_recv);
	pthread_mutex_unlock(&r->lock);
	if (!started)
		rpc_finish_status(r, GRPC_STATUS_INTERNAL, "could not read the request");
}
