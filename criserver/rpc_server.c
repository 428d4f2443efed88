/*
 * rpc_server: the grpc core server of criserver (see rpc.h): grpc_init, the
 * server with its channel arguments (message size caps, the idle limit of a
 * connection), one completion queue and its worker threads, the deadline
 * thread (rpc_deadline.c), connections handed over as fds, and the
 * shutdown (stop, cancel every call, wait for them, destroy). grpc's own log
 * lines are routed into ours. Per-call work is in rpc_call.c.
 *
 * Must never destroy the completion queue or the server while a call still
 * holds operations on them: shutdown waits for every call to end first.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/log.h>

#include "common/log.h"
#include "criserver/rpc_int.h"

#define RPC_STREAMS_PER_CONN 512

static void grpc_log_cb(gpr_log_func_args *a)
{
	int level = a->severity == GPR_LOG_SEVERITY_ERROR ? LOG_WARN : LOG_DEBUG;
	log_msg(level, "grpc: %s", a->message ? a->message : "");
}

static void *worker(void *arg)
{
	struct rpc_server *s = arg;

	for (;;) {
		grpc_event ev = grpc_completion_queue_next(s->cq,
							   gpr_inf_future(GPR_CLOCK_MONOTONIC),
							   NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			return NULL;
		if (ev.type == GRPC_OP_COMPLETE) {
			struct cq_tag *t = ev.tag;
			t->fn(t, ev.success != 0);
		}
	}
}

static void on_shutdown(struct cq_tag *t, bool ok)
{
	struct rpc_server *s = (struct rpc_server *)((char *)t -
						     offsetof(struct rpc_server, tag_shutdown));
	pthread_mutex_lock(&s->lock);
	s->shutdown_done = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void rpc_server_call_gone(struct rpc_server *s, bool counted)
{
	pthread_mutex_lock(&s->lock);
	s->live--;
	if (counted)
		s->calls--;
	if (s->live == 0)
		pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static grpc_server *server_create(const struct rpc_server_opts *o)
{
	int max = o->max_msg_size > INT_MAX ? INT_MAX : (int)o->max_msg_size;
	int idle = o->max_idle_ms > INT_MAX ? INT_MAX : (int)o->max_idle_ms;
	grpc_arg args[] = {
		{ .type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		  .value.integer = max },
		{ .type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
		  .value.integer = max },
		{ .type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS,
		  .value.integer = RPC_STREAMS_PER_CONN },
		{ .type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_ENABLE_CHANNELZ,
		  .value.integer = 0 },
		/* last: only when set */
		{ .type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_CONNECTION_IDLE_MS,
		  .value.integer = idle },
	};
	size_t n = sizeof args / sizeof args[0];
	grpc_channel_args ca = { .num_args = idle > 0 ? n : n - 1, .args = args };
	return grpc_server_create(&ca, NULL);
}

static int workers_start(struct rpc_server *s)
{
	s->workers = calloc(s->opts.workers, sizeof *s->workers);
	if (!s->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < s->opts.workers; i++) {
		int r = pthread_create(&s->workers[i], NULL, worker, s);
		if (r != 0)
			return -r;
		s->n_workers++;
	}
	return 0;
}

int rpc_server_new(const struct rpc_server_opts *o, struct rpc_server **ret)
{
	struct rpc_server *s;
	int r;

	if (!o || o->workers == 0 || o->max_msg_size == 0)
		return -EINVAL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->opts = *o;
	s->tag_shutdown.fn = on_shutdown;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->dl_cond, &ca);
	pthread_condattr_destroy(&ca);
	gpr_set_log_function(grpc_log_cb);
	gpr_set_log_verbosity(log_get_level() >= LOG_DEBUG ? GPR_LOG_SEVERITY_INFO :
			      GPR_LOG_SEVERITY_ERROR);
	grpc_init();
	s->creds = grpc_insecure_server_credentials_create();
	s->server = server_create(o);
	s->cq = grpc_completion_queue_create_for_next(NULL);
	if (!s->creds || !s->server || !s->cq)
		return -ENOMEM; /* at start-up only: the caller exits, leaving them */
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	grpc_server_start(s->server);
	r = workers_start(s);
	if (r == 0 && o->default_timeout_ms > 0)
		r = rpc_deadline_start(s);
	for (int i = 0; r == 0 && i < RPC_PREPOSTED; i++)
		r = rpc_call_post(s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	/* only at start-up, and the caller exits: stop what runs */
	if (rpc_server_shutdown(s, 1000))
		rpc_server_free(s);
	return r;
}

int rpc_server_add_fd(struct rpc_server *s, int fd)
{
	pthread_mutex_lock(&s->lock);
	bool down = s->shutting_down;
	pthread_mutex_unlock(&s->lock);
	if (down) {
		close(fd);
		return -ESHUTDOWN;
	}
	grpc_server_add_channel_from_fd(s->server, fd, s->creds);
	return 0;
}

unsigned rpc_server_calls(struct rpc_server *s)
{
	pthread_mutex_lock(&s->lock);
	unsigned n = s->calls;
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool rpc_server_shutdown(struct rpc_server *s, int timeout_ms)
{
	struct timespec end;

	pthread_mutex_lock(&s->lock);
	if (s->shutting_down) {
		pthread_mutex_unlock(&s->lock);
		return s->drained;
	}
	s->shutting_down = true;
	pthread_mutex_unlock(&s->lock);

	grpc_server_shutdown_and_notify(s->server, s->cq, &s->tag_shutdown);
	grpc_server_cancel_all_calls(s->server);

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!(s->shutdown_done && s->live == 0))
		if (pthread_cond_timedwait(&s->cond, &s->lock, &end) == ETIMEDOUT)
			break;
	s->drained = s->shutdown_done && s->live == 0;
	if (!s->drained)
		log_warn("%u calls did not end in %d ms", s->live, timeout_ms);
	pthread_mutex_unlock(&s->lock);
	return s->drained;
}

void rpc_server_free(struct rpc_server *s)
{
	if (!s)
		return;
	if (!s->drained)
		return;         /* calls still hold grpc objects: leave them to exit */
	rpc_deadline_stop(s);
	grpc_server_destroy(s->server);
	grpc_completion_queue_shutdown(s->cq);
	for (unsigned i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	grpc_completion_queue_destroy(s->cq);
	grpc_server_credentials_release(s->creds);
	grpc_shutdown();
	pthread_cond_destroy(&s->dl_cond);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->workers);
	free(s);
}
