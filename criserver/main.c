/*
 * criserver: the CRI gRPC front door of crisp. Its life is common/daemon.c's
 * (config, log, RUNROOT/criserver.lock, signals, a clean stop), in this
 * order:
 *   as root      make the CRI socket (cri_socket.c) and the backends' state
 *   drop         to the configured user: no capabilities, no_new_privs,
 *                Landlock with no filesystem access and no TCP, seccomp
 *                (common/syscalls.c) -- before grpc_init, so that every
 *                thread grpc starts inherits it
 *   start        grpc (rpc_server.c), the threads that connect to imaged,
 *                sandboxd and streamd (backend.c), accepting on the CRI
 *                socket and the connections' handshakes from the main loop,
 *                and its tick (cri_socket.c)
 *   SIGTERM      stop accepting, fail what waits on the daemons, cancel
 *                the calls, destroy grpc, exit 0
 * Must never parse anything while root: it only makes a socket there.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/daemon.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/syscalls.h"
#include "criserver/criserver.h"
#include "crisp.pb-c.h"

#define CRI_WORKERS 4
#define CRI_MAX_CALLS 4096
#define CRI_STOP_TIMEOUT_MS 1500
#define CRI_FDS_SPARE 64                /* grpc's own, the daemons', the log */

static const char *const backend_names[BACKEND_N] = {
	[BACKEND_IMAGED] = "imaged",
	[BACKEND_SANDBOXD] = "sandboxd",
	[BACKEND_STREAMD] = "streamd",
};

static int backends_new(struct criserver *cs)
{
	for (int i = 0; i < BACKEND_N; i++) {
		const struct proc_desc *p = proc_by_name(backend_names[i]);
		char path[PATH_MAX];
		int r = p ? proc_internal_socket(cs->cfg->runroot, p->name, path, sizeof path) :
			    -ENOENT;
		if (r < 0)
			return log_error_errno(r, "socket of %s: %m", backend_names[i]);
		r = backend_new(p->name, p->role, path, &cs->backends[i]);
		if (r < 0)
			return log_error_errno(r, "backend %s: %m", p->name);
	}
	return 0;
}

static int add_conn(int fd, void *data)
{
	struct criserver *cs = data;
	return rpc_server_add_fd(cs->rpc, fd);
}

/* Each CRI connection takes two fds (grpc's and criserver's duplicate,
 * cri_socket.h): take what the hard limit gives, and say when even that is
 * short of api.max_connections. */
static void raise_nofile(unsigned max_conns)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && 2 * (rlim_t)max_conns + CRI_FDS_SPARE > rl.rlim_cur)
		log_warn("api.max_connections = %u needs about %llu fds, the limit is %llu: "
			 "accepting will fail before the cap", max_conns,
			 2 * (unsigned long long)max_conns + CRI_FDS_SPARE,
			 (unsigned long long)rl.rlim_cur);
}

static int criserver_init(struct daemon_ctx *d)
{
	struct timespec now;
	struct criserver *cs = calloc(1, sizeof *cs);
	if (!cs)
		return log_error_errno(-ENOMEM, "%m");
	d->data = cs;
	cs->cfg = &d->cfg;
	clock_gettime(CLOCK_REALTIME, &now);
	cs->started_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	int r = backends_new(cs);
	if (r < 0)
		return r;
	if (d->cfg.max_connections == 0 || d->cfg.handshake_timeout == 0)
		return log_error_errno(-EINVAL, "api.max_connections and api.handshake_timeout "
				       "must be at least 1");
	raise_nofile(d->cfg.max_connections);
	struct cri_socket_opts so = {
		.max_conns = d->cfg.max_connections,
		.handshake_ms = (int64_t)d->cfg.handshake_timeout * 1000,
		.add = add_conn,
		.data = cs,
	};
	return cri_socket_open(d->cfg.listen, &so, &cs->sock);
}

static void criserver_privdrop(struct daemon_ctx *d, struct privdrop *ret)
{
	/* no filesystem access at all: the daemons' sockets are reached by
	 * connect(2), which Landlock (ABI <= 7) does not restrict */
	*ret = (struct privdrop){
		.user = d->cfg.user,
		.no_new_privs = true,
		.landlock = true,
		.seccomp = syscalls_criserver(),
	};
}

static int on_cri_socket(struct loop *l, int fd, uint32_t events, void *data)
{
	struct criserver *cs = data;
	int r = cri_socket_process(cs->sock);
	if (r < 0) {
		/* EMFILE and the like: log (done), keep going */
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int on_tick(struct loop *l, void *data)
{
	struct criserver *cs = data;
	cri_socket_tick(cs->sock);
	return 0;
}

static int criserver_start(struct daemon_ctx *d)
{
	struct criserver *cs = d->data;
	struct rpc_server_opts o = { 0 };
	int r;

	o.methods = cri_methods(&o.n_methods);
	o.userdata = cs;
	o.max_msg_size = d->cfg.max_msg_size;
	o.workers = CRI_WORKERS;
	o.max_calls = CRI_MAX_CALLS;
	o.default_timeout_ms = (int64_t)d->cfg.max_call_timeout * 1000;
	o.max_idle_ms = (int64_t)d->cfg.idle_timeout * 1000;
	o.conn_call_start = cri_socket_call_start;
	o.conn_call_end = cri_socket_call_end;
	o.conn_data = cs->sock;
	r = rpc_server_new(&o, &cs->rpc);
	if (r < 0)
		return log_error_errno(r, "gRPC server: %m");
	for (int i = 0; i < BACKEND_N; i++) {
		r = backend_start(cs->backends[i]);
		if (r < 0)
			return log_error_errno(r, "thread for %s: %m", backend_name(cs->backends[i]));
	}
	r = loop_add_fd(d->loop, cri_socket_fd(cs->sock), EPOLLIN, on_cri_socket, cs, NULL);
	if (r >= 0)
		r = loop_add_timer(d->loop, (uint64_t)cri_socket_tick_ms(cs->sock), 1, on_tick, cs,
				   NULL);
	if (r < 0)
		return log_error_errno(r, "watch the CRI socket: %m");
	log_info("serving the CRI on %s (max message %llu bytes, %u connections; closed when "
		 "idle %u s or without an HTTP/2 preface in %u s; calls without a deadline end "
		 "at %u s)", d->cfg.listen, (unsigned long long)d->cfg.max_msg_size,
		 d->cfg.max_connections, d->cfg.idle_timeout, d->cfg.handshake_timeout,
		 d->cfg.max_call_timeout);
	return 0;
}

static void criserver_stop(struct daemon_ctx *d)
{
	struct criserver *cs = d->data;
	int r;

	if (!cs)
		return;
	r = cri_socket_close(cs->sock);
	if (r == -EACCES || r == -EPERM)
		log_info("%s is left for the supervisor to remove (criserver may not)",
			 d->cfg.listen);
	else if (r < 0)
		log_warn_errno(r, "unlink %s: %m", d->cfg.listen);
	/* what waits on a daemon fails now (UNAVAILABLE), then every call is
	 * cancelled and grpc waits for them to end */
	for (int i = 0; i < BACKEND_N; i++)
		backend_stop(cs->backends[i]);
	bool drained = rpc_server_shutdown(cs->rpc, CRI_STOP_TIMEOUT_MS);
	rpc_server_free(cs->rpc);
	if (!drained)
		return;         /* calls may still use the backends: leave them */
	for (int i = 0; i < BACKEND_N; i++)
		backend_free(cs->backends[i]);
	cri_socket_free(cs->sock);
	free(cs);
	d->data = NULL;
}

int main(int argc, char **argv)
{
	static const struct daemon_def def = {
		.name = "criserver",
		.role = CRISP__ROLE__ROLE_CRISERVER,
		.init = criserver_init,
		.privdrop = criserver_privdrop,
		.start = criserver_start,
		.stop = criserver_stop,
	};
	return daemon_main(argc, argv, &def);
}
