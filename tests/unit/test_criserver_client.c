/*
 * test_criserver_client: the grpc core client of criserver's unit tests
 * (see test_criserver_client.h). Test code only.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "tests/unit/test_criserver_client.h"
#include "tests/unit/unit.h"

void client_open(struct client *c, struct rpc_server *srv)
{
	int sv[2];
	grpc_init();            /* the client's own reference */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
	c->server_fd = sv[0];
	CHECK_RC(rpc_server_add_fd(srv, sv[0]));
	grpc_arg a = { .type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
		       .value.integer = 64 << 20 };
	grpc_channel_args args = { .num_args = 1, .args = &a };
	grpc_channel_credentials *cr = grpc_insecure_credentials_create();
	c->ch = grpc_channel_create_from_fd("test", sv[1], cr, &args);
	grpc_channel_credentials_release(cr);
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
	CHECK(c->ch && c->cq);
}

void client_close(struct client *c)
{
	grpc_channel_destroy(c->ch);
	grpc_completion_queue_shutdown(c->cq);
	while (grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME),
					   NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(c->cq);
	grpc_shutdown();
}

static bool pluck(struct client *c, void *tag)
{
	gpr_timespec end = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
					gpr_time_from_seconds(10, GPR_TIMESPAN));
	grpc_event ev = grpc_completion_queue_pluck(c->cq, tag, end, NULL);
	CHECK(ev.type == GRPC_OP_COMPLETE);
	return ev.success;
}

/* Read one message of the call into r (false: the stream ended). */
static bool recv_one(struct client *c, grpc_call *call, struct reply *r)
{
	grpc_byte_buffer *bb = NULL;
	grpc_op op = { .op = GRPC_OP_RECV_MESSAGE };
	op.data.recv_message.recv_message = &bb;
	CHECK(grpc_call_start_batch(call, &op, 1, (void *)3, NULL) == GRPC_CALL_OK);
	pluck(c, (void *)3);
	if (!bb)
		return false;
	grpc_byte_buffer_reader rd;
	CHECK(grpc_byte_buffer_reader_init(&rd, bb));
	grpc_slice sl = grpc_byte_buffer_reader_readall(&rd);
	Crisp__Health *h = crisp__health__unpack(NULL, GRPC_SLICE_LENGTH(sl),
						 GRPC_SLICE_START_PTR(sl));
	CHECK(h);
	if (h->pid != (uint32_t)r->n)
		r->in_order = false;
	if (r->last)
		crisp__health__free_unpacked(r->last, NULL);
	r->last = h;
	r->n++;
	grpc_slice_unref(sl);
	grpc_byte_buffer_reader_destroy(&rd);
	grpc_byte_buffer_destroy(bb);
	return true;
}

void client_call(struct client *c, const char *method, const void *req, size_t len,
		 int deadline_ms, int cancel_ms, struct reply *r)
{
	gpr_timespec dl = deadline_ms ?
		gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			     gpr_time_from_millis(deadline_ms, GPR_TIMESPAN)) :
		gpr_inf_future(GPR_CLOCK_MONOTONIC);
	grpc_slice m = grpc_slice_from_copied_string(method);
	grpc_call *cl = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, m,
						 NULL, dl, NULL);
	grpc_slice_unref(m);
	grpc_metadata_array imd, tmd;
	grpc_metadata_array_init(&imd);
	grpc_metadata_array_init(&tmd);
	grpc_slice body = grpc_slice_from_copied_buffer(req, len), details;
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&body, 1);
	grpc_op ops[4];
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
	CHECK(grpc_call_start_batch(cl, ops, 4, (void *)1, NULL) == GRPC_CALL_OK);
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &tmd;
	ops[0].data.recv_status_on_client.status = &r->status;
	ops[0].data.recv_status_on_client.status_details = &details;
	CHECK(grpc_call_start_batch(cl, ops, 1, (void *)2, NULL) == GRPC_CALL_OK);
	if (cancel_ms) {
		usleep((useconds_t)cancel_ms * 1000);
		CHECK(grpc_call_cancel(cl, NULL) == GRPC_CALL_OK);
	}
	pluck(c, (void *)1);
	r->n = 0;
	r->in_order = true;
	while (recv_one(c, cl, r))
		;
	pluck(c, (void *)2);
	snprintf(r->details, sizeof r->details, "%.*s", (int)GRPC_SLICE_LENGTH(details),
		 (const char *)GRPC_SLICE_START_PTR(details));
	grpc_slice_unref(details);
	grpc_slice_unref(body);
	grpc_byte_buffer_destroy(bb);
	grpc_metadata_array_destroy(&imd);
	grpc_metadata_array_destroy(&tmd);
	grpc_call_unref(cl);
}

void client_call_hello(struct client *c, const char *method, const char *name, uint32_t pid,
		       int deadline_ms, int cancel_ms, struct reply *r)
{
	Crisp__Hello h = CRISP__HELLO__INIT;
	uint8_t buf[256];
	h.name = (char *)name;
	h.pid = pid;
	size_t len = crisp__hello__pack(&h, buf);
	client_call(c, method, buf, len, deadline_ms, cancel_ms, r);
}

void reply_clear(struct reply *r)
{
	if (r->last)
		crisp__health__free_unpacked(r->last, NULL);
	memset(r, 0, sizeof *r);
}
