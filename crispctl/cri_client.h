/*
 * cri_client: unary gRPC calls on grpc's C core API (libgrpc; no C++): one
 * insecure channel to a target ("unix:/path"), one completion queue used
 * with pluck, one call at a time. A call packs a protobuf-c request, sends
 * it with the call's deadline, and unpacks the answer or returns the
 * status. Library code: negative errno, never prints, installs no signal
 * handler (the caller passes a counter its handler bumps; a call is
 * cancelled when that counter moves).
 */
#pragma once
#include <signal.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#define CRI_CLIENT_MSG_MAX (16 << 20)   /* as crictl: 16 MiB each way */
#define CRI_CLIENT_DETAILS_MAX 1024

struct cri_client;

struct cri_status {
	int code;                       /* grpc_status_code */
	char details[CRI_CLIENT_DETAILS_MAX];
};

/* grpc_init and a channel to target (no connection is made yet). */
int cri_client_open(const char *target, struct cri_client **ret);
/* Destroys the channel and the queue; grpc_shutdown. NULL is fine. */
void cri_client_close(struct cri_client *c);

/*
 * Calls method ("/runtime.v1.RuntimeService/Version") with req and waits
 * for its end, at most timeout_ms (0: no deadline). interrupts (may be
 * NULL): when *interrupts differs from its value at the start, the call is
 * cancelled. 0: *ret is the answer unpacked as desc (free it with
 * protobuf_c_message_free_unpacked). Otherwise st says why: -EREMOTEIO the
 * server's (or the deadline's) status, -EINTR cancelled by an interrupt,
 * -EBADMSG an answer that does not unpack, -ENOMEM, -EIO grpc refused the
 * call.
 */
int cri_client_call(struct cri_client *c, const char *method, const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *desc, int64_t timeout_ms,
		    const volatile sig_atomic_t *interrupts, ProtobufCMessage **ret,
		    struct cri_status *st);

/* "NOT_FOUND" for 5, "UNKNOWN" for what is not a status code. */
const char *cri_status_name(int code);
