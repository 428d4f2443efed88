/*
 * rpc_int: the server and call objects shared by rpc_server.c (the server,
 * its completion queue and workers) and rpc_call.c (one call's state
 * machine). Internal to criserver/rpc*.c; nothing else may include it.
 */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <grpc/grpc.h>
#include "criserver/rpc.h"

#define RPC_NAME_MAX 128
#define RPC_DETAILS_MAX 1024
#define RPC_OUT_MAX_BYTES (64u << 20)   /* queued stream bytes per call */
#define RPC_PREPOSTED 8                 /* grpc_server_request_call in wait */

/* A completion queue tag: what to do when the operation completes. */
struct cq_tag {
	void (*fn)(struct cq_tag *t, bool ok);
};

struct rpc_server {
	struct rpc_server_opts opts;
	grpc_server *server;
	grpc_completion_queue *cq;
	grpc_server_credentials *creds;
	pthread_t *workers;
	unsigned n_workers;

	pthread_mutex_t lock;
	pthread_cond_t cond;            /* live or shutdown_done changed */
	unsigned live;                  /* struct rpc alive (with a call or waiting for one) */
	unsigned calls;                 /* of which have a call */
	bool shutting_down;
	bool shutdown_done;
	bool drained;
	struct cq_tag tag_shutdown;

	/* calls with a deadline the server gave them (opts.default_timeout_ms),
	 * watched by the deadline thread; s->lock */
	struct rpc *dl_head;
	pthread_t dl_thread;
	pthread_cond_t dl_cond;         /* CLOCK_MONOTONIC: the list or stop changed */
	bool dl_started;
	bool dl_stop;
};

/* Something queued to send: a message (bb) or, last, the status. */
struct rpc_out {
	struct rpc_out *next;
	grpc_byte_buffer *bb;           /* NULL: this is the status */
	size_t bytes;
	grpc_status_code code;
	char *details;
};

struct rpc {
	struct rpc_server *srv;
	pthread_mutex_t lock;
	unsigned refs;

	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	const struct rpc_method *method;
	char name[RPC_NAME_MAX];
	ProtobufCMessage *req;
	grpc_byte_buffer *recv_bb;
	int close_cancelled;            /* GRPC_OP_RECV_CLOSE_ON_SERVER's answer */
	int64_t start_ms;
	int64_t default_deadline_ms;    /* CLOCK_MONOTONIC; 0: none given (s->lock) */
	struct rpc *dl_prev, *dl_next;  /* in srv->dl_head while it has one */
	bool dl_linked;
	uint64_t conn_token;            /* from opts.conn_call_start */

	bool counted;                   /* in srv->calls */
	bool cancelled;
	bool finished;                  /* the handler gave its answer */
	bool md_sent;
	bool sending;                   /* a send batch is in flight */
	grpc_status_code code;          /* the answer, for the log */
	struct rpc_out *out_head, **out_tail;
	size_t out_bytes;
	grpc_byte_buffer *send_bb;      /* of the batch in flight */
	grpc_slice send_details;
	bool send_details_set;

	void (*cancel_fn)(void *obj, uint64_t id);
	void *cancel_obj;
	uint64_t cancel_id;

	struct cq_tag tag_new, tag_recv, tag_send, tag_close;
};

/* rpc_call.c */
int rpc_call_post(struct rpc_server *s);        /* wait for one more call */
/* rpc_server.c */
void rpc_server_call_gone(struct rpc_server *s, bool counted);
/* rpc_deadline.c: the deadline thread and its list (s->lock held for
 * link/unlink). */
int rpc_deadline_start(struct rpc_server *s);
void rpc_deadline_stop(struct rpc_server *s);
void rpc_deadline_link(struct rpc_server *s, struct rpc *r);
void rpc_deadline_unlink(struct rpc_server *s, struct rpc *r);
int64_t rpc_mono_ms(void);
