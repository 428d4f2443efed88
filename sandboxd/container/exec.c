/*
 * exec: ExecSync through a conmon in exec mode (conmon/conmon.h), and
 * ReopenContainerLog through a container's conmon control socket.
 *
 * ExecSync: the command runs in a sub-cgroup of the container made for it
 * (cgroup_exec_make), so that when its timeout passes conmon kills it and
 * everything it started, even a child that keeps the output pipes open; the
 * answer is DEADLINE_EXCEEDED then (critest expects an error), and
 * RESOURCE_EXHAUSTED past the output cap. The sub-cgroup is removed after,
 * with whatever is still in it. A timeout of 0 means none; the call's own
 * deadline still bounds the wait.
 *
 * The control socket path can be longer than sun_path: it is reached
 * through /proc/self/fd/<dirfd>/ctl. Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/chan.h"
#include "common/status.h"
#include "conmon/conmon.h"
#include "sandboxd/container/conmon_run.h"
#include "sandboxd/container/ctr.h"
#include "sandboxd/pod/pod.h"

#define EXEC_ARGS_MAX 64
#define EXEC_GRACE_MS 5000      /* past the command's timeout, for conmon to answer */
#define CTL_TIMEOUT_MS 10000

static int running_ctr(struct sbx *s, const char *id, struct ctr **ret, struct crisp_error *err)
{
	int r = state_ctr_get(s->st, id, ret);
	if (r < 0)
		return crisp_fail(err, r == -ENOENT ? CRISP_STATUS_NOT_FOUND :
				  CRISP_STATUS_INVALID_ARGUMENT, r, "container %.80s: %s", id,
				  r == -ENOENT ? "not found" : r == -ENOTUNIQ ?
				  "an ambiguous id prefix" : "not an id");
	state_lock(s->st);
	bool live = (*ret)->state == CTR_RUNNING;
	state_unlock(s->st);
	if (!live) {
		state_ctr_put(s->st, *ret);
		return crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -EBUSY,
				  "container %s is not running", (*ret)->id);
	}
	return 0;
}

/* Read all of fd until EOF, the deadline (monotonic ms, 0: none) or cancel. */
static int read_result(int fd, int64_t deadline, const atomic_bool *cancel, char **ret,
		       size_t *ret_len)
{
	size_t cap = sizeof(struct conmon_exec_result) + CONMON_EXEC_OUTPUT_MAX + 1, at = 0;
	char *buf = malloc(65536);
	size_t have = 65536;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		int wait = 200;
		if (deadline) {
			int64_t left = deadline - sbx_mono_ms();
			if (left <= 0) {
				free(buf);
				return -ETIMEDOUT;
			}
			if (left < wait)
				wait = (int)left;
		}
		if (cancel && atomic_load(cancel)) {
			free(buf);
			return -ECANCELED;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, wait) <= 0)
			continue;
		if (at == have) {
			size_t nh = have * 2 > cap ? cap : have * 2;
			char *nb = nh > have ? realloc(buf, nh) : NULL;
			if (!nb) {
				free(buf);
				return nh > have ? -ENOMEM : -EFBIG;
			}
			buf = nb;
			have = nh;
		}
		ssize_t n = read(fd, buf + at, have - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		at += (size_t)n;
	}
	*ret = buf;
	*ret_len = at;
	return 0;
}

static int run_exec(struct sbx *s, struct ctr *c, const Runtime__V1__ExecSyncRequest *rq,
		    const char *spec, const char *procs, int64_t deadline,
		    const atomic_bool *cancel, Runtime__V1__ExecSyncResponse *ret,
		    struct crisp_error *err)
{
	struct runc rt;
	int r = ctr_runc(s, c, &rt);
	if (r < 0)
		return crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, r, "no runtime handler");
	if (rq->n_cmd > EXEC_ARGS_MAX - 20)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -E2BIG,
				  "cmd: more than %d arguments", EXEC_ARGS_MAX - 20);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return crisp_fail_errno(err, -errno, "pipe");
	char tmo[32], rfd[16];
	snprintf(tmo, sizeof tmo, "%lld", (long long)rq->timeout * 1000);
	snprintf(rfd, sizeof rfd, "%d", p[1]);
	const char *argv[EXEC_ARGS_MAX];
	size_t n = 0;
	argv[n++] = s->conmon;
	argv[n++] = "--exec";
	argv[n++] = "--runtime";
	argv[n++] = rt.path;
	argv[n++] = "--runtime-root";
	argv[n++] = rt.root;
	argv[n++] = "--id";
	argv[n++] = c->id;
	argv[n++] = "--timeout-ms";
	argv[n++] = tmo;
	if (spec) {
		argv[n++] = "--exec-cgroup";
		argv[n++] = spec;
		argv[n++] = "--exec-procs";
		argv[n++] = procs;
	}
	argv[n++] = "--result-fd";
	argv[n++] = rfd;
	argv[n++] = "--";
	for (size_t i = 0; i < rq->n_cmd; i++)
		argv[n++] = rq->cmd[i];
	argv[n] = NULL;
	pid_t pid;
	r = conmon_fork(argv, p[1], &pid);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		return crisp_fail_errno(err, r, "fork");
	}
	int64_t d = rq->timeout > 0 ? sbx_mono_ms() + rq->timeout * 1000 + EXEC_GRACE_MS : 0;
	if (deadline && (!d || deadline < d))
		d = deadline;
	char *buf = NULL;
	size_t len = 0;
	r = read_result(p[0], d, cancel, &buf, &len);
	close(p[0]);
	if (r < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (r == -ETIMEDOUT || r == -ECANCELED)
		return crisp_fail(err, r == -ETIMEDOUT ? CRISP_STATUS_DEADLINE_EXCEEDED :
				  CRISP_STATUS_CANCELLED, r, "exec in container %s: %s", c->id,
				  r == -ETIMEDOUT ? "the call's deadline passed" : "cancelled");
	if (r < 0)
		return crisp_fail_errno(err, r, "exec in container %s", c->id);
	struct conmon_exec_result res;
	if (len < sizeof res) {
		free(buf);
		return crisp_fail(err, CRISP_STATUS_INTERNAL, -EBADMSG,
				  "exec in container %s: conmon gave no result", c->id);
	}
	memcpy(&res, buf, sizeof res);
	if ((size_t)res.stdout_len + res.stderr_len != len - sizeof res) {
		free(buf);
		return crisp_fail(err, CRISP_STATUS_INTERNAL, -EBADMSG,
				  "exec in container %s: conmon's result is malformed", c->id);
	}
	if (res.status == -ENOEXEC) {
		/* runc could not start it: its reason is in the stderr part */
		r = crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, -ENOEXEC,
			       "exec in container %s failed: %.*s", c->id,
			       (int)(res.stderr_len < 400 ? res.stderr_len : 400),
			       buf + sizeof res + res.stdout_len);
		free(buf);
		return r;
	}
	if (res.status == -ETIMEDOUT || res.status == -EFBIG || res.status < 0) {
		free(buf);
		if (res.status == -ETIMEDOUT)
			return crisp_fail(err, CRISP_STATUS_DEADLINE_EXCEEDED, -ETIMEDOUT,
					  "command timed out after %lld s and was killed",
					  (long long)rq->timeout);
		if (res.status == -EFBIG)
			return crisp_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
					  "command printed more than %u bytes and was killed",
					  CONMON_EXEC_OUTPUT_MAX);
		return crisp_fail_errno(err, res.status, "exec in container %s", c->id);
	}
	ret->exit_code = res.exit_code;
	ret->stdout.data = malloc(res.stdout_len ? res.stdout_len : 1);
	ret->stderr.data = malloc(res.stderr_len ? res.stderr_len : 1);
	if (!ret->stdout.data || !ret->stderr.data) {
		free(buf);
		return crisp_fail_errno(err, -ENOMEM, "exec output");
	}
	memcpy(ret->stdout.data, buf + sizeof res, res.stdout_len);
	memcpy(ret->stderr.data, buf + sizeof res + res.stdout_len, res.stderr_len);
	ret->stdout.len = res.stdout_len;
	ret->stderr.len = res.stderr_len;
	free(buf);
	return 0;
}

int ctr_exec_sync(struct sbx *s, const Runtime__V1__ExecSyncRequest *rq, int64_t deadline_ms,
		  const atomic_bool *cancel, Runtime__V1__ExecSyncResponse *ret,
		  struct crisp_error *err)
{
	struct ctr *c;
	int r = running_ctr(s, rq->container_id, &c, err);
	if (r < 0)
		return r;
	struct pod *p = NULL;
	char cgpath[1024], spec[64], procs[PATH_MAX];
	unsigned n = __atomic_add_fetch(&s->exec_seq, 1, __ATOMIC_RELAXED);
	bool sub = state_pod_get(s->st, c->pod_id, &p) == 0 &&
		   cgroup_ctr_path(&s->cg, pod_cgroup(p), c->id, cgpath, sizeof cgpath) == 0 &&
		   cgroup_exec_make(&s->cg, cgpath, n, spec, sizeof spec, procs, sizeof procs) == 0;
	state_pod_put(s->st, p);
	r = run_exec(s, c, rq, sub ? spec : NULL, sub ? procs : NULL, deadline_ms, cancel, ret, err);
	if (sub)
		cgroup_exec_remove(&s->cg, cgpath, n);
	state_ctr_put(s->st, c);
	return r;
}

/* Connect to DIR/ctl of a container through its dir's fd. */
static int ctl_connect(struct sbx *s, const struct ctr *c, int *ret_fd)
{
	char dir[PATH_MAX];
	int r = sbx_ctr_dir(s, c->id, dir, sizeof dir);
	if (r < 0)
		return r;
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/ctl", dfd);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		close(dfd);
		return r;
	}
	close(dfd);
	*ret_fd = fd;
	return 0;
}

int ctr_reopen_log(struct sbx *s, const char *id, struct crisp_error *err)
{
	struct ctr *c;
	int r = running_ctr(s, id, &c, err);
	if (r < 0)
		return r;
	int fd = -1;
	struct conmon_ctl_req q = { .type = CONMON_CTL_REOPEN_LOG };
	struct conmon_ctl_resp a = { 0 };
	r = ctl_connect(s, c, &fd);
	if (r == 0 && send(fd, &q, sizeof q, MSG_NOSIGNAL) != sizeof q)
		r = -errno;
	if (r == 0) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n = poll(&p, 1, CTL_TIMEOUT_MS) == 1 ? recv(fd, &a, sizeof a, 0) : -1;
		r = n == sizeof a ? a.result : n < 0 && errno ? -errno : -ETIMEDOUT;
	}
	if (fd >= 0)
		close(fd);
	if (r < 0)
		crisp_fail_errno(err, r, "reopening the log of container %s", c->id);
	state_ctr_put(s->st, c);
	return r;
}
