/*
 * call_backend: a CRI call asking a daemon behind criserver. Joins the two
 * lives: the time left of the call's deadline travels with the request, and
 * when the call is cancelled (by the client, its deadline, or its lost
 * connection) before it is finished, the daemon is told (MSG_CANCEL) and the
 * request's callback runs with CANCELLED, so the handler finishes the call
 * and frees its state in one place: its callback.
 * Must never let the callback see a freed call: the call is held across the
 * hand-off.
 */
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
