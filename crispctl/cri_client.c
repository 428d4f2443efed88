/*
 * cri_client: see cri_client.h. The whole unary call is one batch (send
 * initial metadata, the message, close; receive initial metadata, the
 * message, the status), plucked from the queue in slices so that an
 * interrupt can cancel it. grpc's own log lines are silenced unless
 * GRPC_VERBOSITY asks for them: the caller reports the status itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "crispctl/cri_client.h"

#define PLUCK_SLICE_MS 100

struct cri_client {
	grpc_channel *ch;
	grpc_completion_queue *cq;
};

static void quiet_log(gpr_log_func_args *args)
{
	(void)args;
}

const char *cri_status_name(int code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};
	if (code < 0 || (size_t)code >= sizeof names / sizeof names[0])
		return "UNKNOWN";
	return names[code];
}

int cri_client_open(const char *target, struct cri_client **ret)
{
	struct cri_client *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	if (!getenv("GRPC_VERBOSITY"))
		gpr_set_log_function(quiet_log);
	grpc_init();
	grpc_arg a[2] = {
		{ .type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		  .value.integer = CRI_CLIENT_MSG_MAX },
		{ .type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
		  .value.integer = CRI_CLIENT_MSG_MAX },
	};
	grpc_channel_args args = { .num_args = 2, .args = a };
	grpc_channel_credentials *cr = grpc_insecure_credentials_create();
	if (cr) {
		c->ch = grpc_channel_create(target, cr, &args);
		grpc_channel_credentials_release(cr);
	}
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
	if (!c->ch || !c->cq) {
		cri_client_close(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void cri_client_close(struct cri_client *c)
{
	if (!c)
		return;
	if (c->ch)
		grpc_channel_destroy(c->ch);
	if (c->cq) {
		grpc_completion_queue_shutdown(c->cq);
		while (grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME),
						   NULL).type != GRPC_QUEUE_SHUTDOWN)
			;
		grpc_completion_queue_destroy(c->cq);
	}
	free(c);
	grpc_shutdown();
}

/* The request packed into a byte buffer (NULL: out of memory). */
static grpc_byte_buffer *pack(const ProtobufCMessage *req)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	grpc_slice s = grpc_slice_malloc(len);
	protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(s));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

static int unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
		  ProtobufCMessage **ret)
{
	grpc_byte_buffer_reader rd;
	if (!grpc_byte_buffer_reader_init(&rd, bb))
		return -EBADMSG;
	grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s),
							GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	grpc_byte_buffer_reader_destroy(&rd);
	if (!m)
		return -EBADMSG;
	*ret = m;
	return 0;
}

/* Waits for the batch tagged tag; cancels the call once when interrupted. */
static void wait_batch(struct cri_client *c, grpc_call *call, void *tag,
		       const volatile sig_atomic_t *interrupts, bool *ret_cancelled)
{
	sig_atomic_t seen = interrupts ? *interrupts : 0;
	*ret_cancelled = false;
	for (;;) {
		gpr_timespec slice = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
						  gpr_time_from_millis(PLUCK_SLICE_MS, GPR_TIMESPAN));
		grpc_event ev = grpc_completion_queue_pluck(c->cq, tag, slice, NULL);
		if (ev.type == GRPC_OP_COMPLETE)
			return;
		if (interrupts && *interrupts != seen && !*ret_cancelled) {
			grpc_call_cancel(call, NULL);
			*ret_cancelled = true;
		}
	}
}

int cri_client_call(struct cri_client *c, const char *method, const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *desc, int64_t timeout_ms,
		    const volatile sig_atomic_t *interrupts, ProtobufCMessage **ret,
		    struct cri_status *st)
{
	gpr_timespec dl = timeout_ms > 0 ?
		gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			     gpr_time_from_millis(timeout_ms, GPR_TIMESPAN)) :
		gpr_inf_future(GPR_CLOCK_MONOTONIC);
	grpc_metadata_array imd, tmd;
	grpc_byte_buffer *out = NULL, *in = NULL;
	grpc_slice details = grpc_empty_slice();
	grpc_status_code code = GRPC_STATUS_UNKNOWN;
	bool cancelled = false;
	int r = 0;

	st->code = GRPC_STATUS_UNKNOWN;
	st->details[0] = '\0';
	grpc_slice m = grpc_slice_from_copied_string(method);
	grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
						   m, NULL, dl, NULL);
	grpc_slice_unref(m);
	if (!call)
		return -EIO;
	grpc_metadata_array_init(&imd);
	grpc_metadata_array_init(&tmd);
	out = pack(req);
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	grpc_op ops[6];
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &in;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &tmd;
	ops[5].data.recv_status_on_client.status = &code;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(call, ops, 6, (void *)call, NULL) != GRPC_CALL_OK) {
		r = -EIO;
		goto out;
	}
	wait_batch(c, call, (void *)call, interrupts, &cancelled);
	st->code = code;
	snprintf(st->details, sizeof st->details, "%.*s", (int)GRPC_SLICE_LENGTH(details),
		 (const char *)GRPC_SLICE_START_PTR(details));
	if (code != GRPC_STATUS_OK)
		r = cancelled ? -EINTR : -EREMOTEIO;
	else if (!in)
		r = -EBADMSG;
	else
		r = unpack(in, desc, ret);
out:
	grpc_slice_unref(details);
	if (out)
		grpc_byte_buffer_destroy(out);
	if (in)
		grpc_byte_buffer_destroy(in);
	grpc_metadata_array_destroy(&imd);
	grpc_metadata_array_destroy(&tmd);
	grpc_call_unref(call);
	return r;
}
