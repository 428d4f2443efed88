/*
 * rpc: criserver's gRPC server, on grpc's C core API (no C++), with
 * protobuf-c messages. Owns grpc's life in the process (grpc_init and
 * grpc_shutdown), the grpc_server fed with connections that criserver
 * accepted itself (rpc_server_add_fd), one completion queue served by a few
 * worker threads, and the state of every call (rpc_call.c).
 *
 * Every call is taken as an unregistered call and looked up in the method
 * table by its path: an unknown path answers UNIMPLEMENTED; the request is
 * then unpacked with protobuf-c (undecodable: INVALID_ARGUMENT naming the
 * request type); a method without a handler answers UNIMPLEMENTED naming the
 * method; otherwise its handler runs on a worker thread and answers when it
 * likes, from any thread (rpc_finish*, rpc_send for streams). grpc enforces
 * the message size cap both ways (RESOURCE_EXHAUSTED).
 *
 * A call that comes without a deadline gets one (default_timeout_ms after it
 * started; a handler may raise it, rpc_default_deadline_at_least): handlers
 * see its time left in rpc_timeout_ms like a client's own deadline, and when
 * it passes the server's deadline thread ends the call DEADLINE_EXCEEDED
 * (the cancel hook runs, as for a client's deadline).
 *
 * Connections: a connection with no call in flight for max_idle_ms is closed
 * by grpc itself (GRPC_ARG_MAX_CONNECTION_IDLE_MS, which holds for channels
 * added from an fd: its filter is in every server channel stack; grpc checks
 * once per max_idle_ms, so the close comes between one and two max_idle_ms
 * after the last call, with a GOAWAY first). Which connection a call came
 * on is told to conn_call_start/conn_call_end (rpc_call.c: the peer grpc
 * gives a transport added from fd N is "fd:N").
 *
 * Must never: let a handler block a worker on a daemon (handlers hand off and
 * answer later), start a second send on a call while one is in flight (sends
 * are queued), or log a request's contents (they may hold credentials).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

struct rpc;
struct rpc_server;

/* Runs on a worker thread; req belongs to r (valid until r is finished).
 * Must finish r exactly once, now or later, from any thread. */
typedef void (*rpc_handler)(struct rpc *r, const ProtobufCMessage *req, void *userdata);

struct rpc_method {
	const char *path;                               /* "/runtime.v1.RuntimeService/Version" */
	const ProtobufCMessageDescriptor *request;
	bool server_streaming;
	rpc_handler handler;                            /* NULL: not built yet */
};

struct rpc_server_opts {
	const struct rpc_method *methods;
	size_t n_methods;
	void *userdata;                 /* passed to the handlers */
	uint64_t max_msg_size;          /* bytes, both ways */
	unsigned workers;               /* completion queue threads */
	unsigned max_calls;             /* calls at once; more answer RESOURCE_EXHAUSTED */
	int64_t default_timeout_ms;     /* the deadline of a call without one; 0: none */
	int64_t max_idle_ms;            /* close a connection idle this long; 0: never */
	/* Told when a call starts on the connection that was handed over as fd
	 * (-1: not known) and when it ends, with what start returned. Any
	 * thread; may be NULL. */
	uint64_t (*conn_call_start)(void *conn_data, int fd);
	void (*conn_call_end)(void *conn_data, uint64_t token);
	void *conn_data;
};

/* grpc_init, the server and its threads: call after the privilege drop. */
int rpc_server_new(const struct rpc_server_opts *o, struct rpc_server **ret);
/* Serve HTTP/2 on the connected stream socket fd (ownership passes). */
int rpc_server_add_fd(struct rpc_server *s, int fd);
/* Stop taking calls, cancel those in flight and wait up to timeout_ms for
 * them to end. false: some did not (rpc_server_free then leaves grpc as it
 * is: the process is about to exit). */
bool rpc_server_shutdown(struct rpc_server *s, int timeout_ms);
void rpc_server_free(struct rpc_server *s);
unsigned rpc_server_calls(struct rpc_server *s);

/* The handler's side of one call. */
const char *rpc_name(const struct rpc *r);      /* "runtime.v1.RuntimeService/Version" */
bool rpc_streaming(const struct rpc *r);        /* a server stream */
/* Time left before the call's deadline in ms (>= 1), or 0 when it has none
 * (neither its own nor the server's default). */
int64_t rpc_timeout_ms(const struct rpc *r);
/* A call that came without a deadline: let the one the server gave it end
 * no sooner than ms after the call started; RPC_NO_DEADLINE takes it away
 * (a watch that lives as long as its client, such as GetContainerEvents).
 * No effect on a call with its own deadline. */
#define RPC_NO_DEADLINE INT64_MAX
void rpc_default_deadline_at_least(struct rpc *r, int64_t ms);
/* The client cancelled, the deadline passed or the connection went away. */
bool rpc_cancelled(struct rpc *r);

/* Answer a unary call with msg (status OK). */
void rpc_finish(struct rpc *r, const ProtobufCMessage *msg);
/* Answer with a status (for a stream, OK ends it); fmt may be NULL. */
void rpc_finish_status(struct rpc *r, grpc_status_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Queue one message of a server stream. -ECANCELED when the call is over
 * (stop producing and finish), -ENOBUFS when the client is not reading
 * (too much queued). */
int rpc_send(struct rpc *r, const ProtobufCMessage *msg);

/* End the call now with code/text (e.g. the client reads too slowly): the
 * cancel hook runs; the handler still finishes r (that answer is dropped). */
void rpc_abort(struct rpc *r, grpc_status_code code, const char *text);

/* Call fn(obj, id) once if the call is cancelled before it is finished (at
 * once, when it already is). Replaces an earlier hook. */
void rpc_on_cancel(struct rpc *r, void (*fn)(void *obj, uint64_t id), void *obj, uint64_t id);
/* Keep r alive across an operation that may finish it. */
void rpc_ref(struct rpc *r);
void rpc_unref(struct rpc *r);
