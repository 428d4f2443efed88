/*
 * backend: criserver's connections to the daemons behind it (imaged,
 * sandboxd, streamd), one crisp channel each (common/chan.h) at
 * RUNROOT/internal/<name>.sock, as ROLE_CRISERVER.
 *
 * Owns, per daemon: a thread that connects with backoff (100 ms doubling to
 * 1 s), does the Hello handshake, asks the daemon's Health once (its pid and
 * name, for verbose Status), then reads answers and completes the matching
 * pending request by id; the table of pending requests; and, when the
 * connection drops, failing every pending request with UNAVAILABLE before
 * reconnecting. Never lets a request wait on a dead connection.
 *
 * A daemon that sends anything but a well-formed answer to a request of ours
 * (a request, an unknown type, a payload that does not unpack) is dropped and
 * reconnected: that is fatal for that peer, never for criserver.
 *
 * Must never: block the caller on a daemon (backend_call only sends), call a
 * callback with a lock held, or call a request's callback after its final
 * answer. Logs connection changes (this is criserver's boundary to them).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <protobuf-c/protobuf-c.h>

struct backend;

/* What a request's callback is told. body is the unpacked answer (NULL when
 * status != 0, or when the request had no answer type); it is freed after the
 * callback returns. more: a streamed part, more will follow. */
struct backend_answer {
	int32_t status;                 /* gRPC code; 0 OK */
	const char *error;              /* text for the user, or NULL */
	const ProtobufCMessage *body;
	bool more;
};

/* Called on the backend's thread (or, for a local failure, on the thread that
 * cancelled); exactly once with more == false, after any number of parts. */
typedef void (*backend_cb)(void *ctx, const struct backend_answer *a);

/* A snapshot of one backend's state, for Status. */
struct backend_info {
	const char *name;               /* "imaged" */
	bool ready;                     /* connected and handshaken */
	pid_t pid;                      /* from its Health answer (0: not known) */
	char peer_name[64];             /* the name it gave in its Health answer */
	int64_t since_ms;               /* CLOCK_REALTIME ms of the last change */
	unsigned connects;              /* successful handshakes so far */
	unsigned pending;               /* requests in flight */
	char last_error[128];           /* why it is down (empty when up) */
};

/* Make (but do not start) the backend for daemon name, whose role must be
 * role, at socket path. */
int backend_new(const char *name, int role, const char *path, struct backend **ret);
/* Start its thread. Call after the privilege drop. */
int backend_start(struct backend *b);
/* Stop its thread; pending requests fail with UNAVAILABLE. */
void backend_stop(struct backend *b);
void backend_free(struct backend *b);

const char *backend_name(const struct backend *b);
bool backend_ready(struct backend *b);
void backend_get_info(struct backend *b, struct backend_info *ret);

/*
 * Send request type with body req (NULL: empty) and the time left timeout_ms
 * (0: none). The answer's payload is unpacked as answer_desc (NULL: not
 * unpacked). On success cb will be called (maybe before this returns, on
 * another thread): ctx belongs to cb from then on. On failure (-ENOTCONN: the
 * daemon is not connected; -ENOBUFS: too many requests in flight; or the send
 * failed) cb is never called.
 */
int backend_call(struct backend *b, uint32_t type, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *answer_desc, int64_t timeout_ms,
		 backend_cb cb, void *ctx, uint64_t *ret_id);
/* Stop waiting for request id: tell the daemon (MSG_CANCEL) and call its cb
 * with CANCELLED. Nothing happens when it has already been answered. */
void backend_cancel(struct backend *b, uint64_t id);
