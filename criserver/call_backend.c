/*
 * call_backend: a CRI call asking a daemon behind criserver. Joins the two
 * lives: the time left of the call's deadline travels with the request, and
 * when the call is cancelled (by the client, its deadline, or its lost
 * connection) before it is finished, the daemon is told (MSG_CANCEL) and the
 * request's callback runs with CANCELLED, so the handler finishes the call
 * and frees its state in one place: its callback.
 *
 * cri_forward is the whole handler for a CRI call that a daemon answers
 * as is: each streamed answer (ENVELOPE_MORE) is one message of the call's
 * stream, the final answer ends it; for a unary call the final answer is the
 * response. A daemon's error status and text reach the client unchanged.
 *
 * cri_forward_checked puts a request check (check.h) in front of it: a
 * request that fails its check never reaches the daemon.
 *
 * Must never let the callback see a freed call: the call is held across the
 * hand-off.
 */
#include <errno.h>
#include <string.h>

#include "common/status.h"
#include "criserver/check.h"
#include "criserver/criserver.h"

static void cancel_hook(void *obj, uint64_t id)
{
	backend_cancel(obj, id);
}

/*
 * Ask b (request type/req, answer unpacked as answer_desc) for CRI call r.
 * On success cb(ctx, answer) will run exactly once with the final answer
 * (maybe before this returns): from then on ctx belongs to cb. On failure
 * (-ENOTCONN: b is not connected) cb never runs.
 */
int cri_ask(struct rpc *r, struct backend *b, uint32_t type, const ProtobufCMessage *req,
	    const ProtobufCMessageDescriptor *answer_desc, backend_cb cb, void *ctx)
{
	uint64_t id;
	int e;

	rpc_ref(r);
	e = backend_call(b, type, req, answer_desc, rpc_timeout_ms(r), cb, ctx, &id);
	if (e >= 0)
		rpc_on_cancel(r, cancel_hook, b, id);
	rpc_unref(r);
	return e;
}

static grpc_status_code status_code(int32_t s)
{
	return s >= CRISP_STATUS_OK && s <= CRISP_STATUS_UNAUTHENTICATED ?
	       (grpc_status_code)s : GRPC_STATUS_UNKNOWN;
}

static void forward_cb(void *ctx, const struct backend_answer *a)
{
	struct rpc *r = ctx;
	int e;

	if (a->more) {
		e = a->body ? rpc_send(r, a->body) : -EINVAL;
		if (e == -ENOBUFS)
			rpc_abort(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
				  "the client does not read the stream fast enough");
		else if (e == -EMSGSIZE)
			rpc_abort(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
				  "a message of the stream is over api.max_msg_size");
		else if (e < 0 && e != -ECANCELED)
			rpc_abort(r, GRPC_STATUS_INTERNAL, "a crisp daemon streamed a bad answer");
		return;         /* -ECANCELED: the cancel hook stops the daemon */
	}
	if (a->status != CRISP_STATUS_OK)
		rpc_finish_status(r, status_code(a->status), "%s", a->error ? a->error : "");
	else if (rpc_streaming(r))
		rpc_finish_status(r, GRPC_STATUS_OK, NULL);
	else if (a->body)
		rpc_finish(r, a->body);
	else
		rpc_finish_status(r, GRPC_STATUS_INTERNAL, "a crisp daemon gave no answer");
}

void cri_forward(struct rpc *r, struct backend *b, uint32_t type, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *answer_desc)
{
	int e = cri_ask(r, b, type, req, answer_desc, forward_cb, r);

	if (e == -ENOTCONN)
		rpc_finish_status(r, GRPC_STATUS_UNAVAILABLE, "%s is not connected (restarting?)",
				  backend_name(b));
	else if (e == -ENOBUFS)
		rpc_finish_status(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
				  "too many requests in flight to %s", backend_name(b));
	else if (e < 0)
		rpc_finish_status(r, GRPC_STATUS_INTERNAL, "asking %s: %s", backend_name(b),
				  strerror(-e));
}

void cri_forward_checked(struct rpc *r, struct backend *b, cri_check_fn check, uint32_t type,
			 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *answer_desc)
{
	char err[CHECK_ERR_MAX];

	if (check(req, err, sizeof err) < 0) {
		rpc_finish_status(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		return;
	}
	cri_forward(r, b, type, req, answer_desc);
}
