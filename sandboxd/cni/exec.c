/*
 * cni/exec: runs one CNI plugin binary and collects what it prints. Safe in
 * a multi-threaded daemon: the child is made with posix_spawn (glibc: a
 * vfork-like clone that runs only async-signal-safe code before execve),
 * with its stdin a memfd holding the config (so no pipe to feed,
 * no SIGPIPE), stdout and stderr pipes, every other fd closed
 * (closefrom 3, on top of O_CLOEXEC everywhere), the signal mask emptied and
 * every signal disposition reset (but glibc's internal 32 and 33, which its
 * posix_spawn leaves ignored), in a process group of its own so that a
 * timeout kills whatever it started too. Its environment is exactly the one
 * given (no inheritance). stdout and stderr are read with poll until the
 * child has exited and the pipes are drained or closed, or the deadline
 * passes; stdout is capped at CNI_OUTPUT_MAX (past it: killed, error), of
 * stderr the first CNI_STDERR_MAX bytes are kept. The child is reaped with
 * waitpid on its pid only. Does not interpret the output; never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/status.h"
#include "sandboxd/cni/cni_int.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Move fd above 0..2, so that the child's dup2s onto 0..2 cannot clobber it. */
static int above_stdio(int *fd)
{
	if (*fd > 2)
		return 0;
	int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -errno;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* The config in a memfd at offset 0, to be the child's stdin. */
static int stdin_memfd(const char *data, size_t len, int *ret_fd)
{
	int fd = memfd_create("cni-config", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, data, len);
	if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
		r = -errno;
	if (r == 0)
		r = above_stdio(&fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static int spawn(const struct cni_run *run, int in, int out, int errfd, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int r = posix_spawn_file_actions_init(&fa);
	if (r)
		return -r;
	r = posix_spawnattr_init(&at);
	if (r) {
		posix_spawn_file_actions_destroy(&fa);
		return -r;
	}
	sigemptyset(&none);
	sigfillset(&all);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, in, 0);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, out, 1);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	if (!r)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!r)
		r = posix_spawnattr_setsigmask(&at, &none);
	if (!r)
		r = posix_spawnattr_setsigdefault(&at, &all);
	if (!r)
		r = posix_spawnattr_setpgroup(&at, 0);
	if (!r)
		r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					     POSIX_SPAWN_SETPGROUP);
	char *argv[] = { (char *)run->path, NULL };
	if (!r)
		r = posix_spawn(ret_pid, run->path, &fa, &at, argv, run->env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

struct collect {
	int fds[3];                     /* stdout, stderr, pidfd (-1: done or none) */
	struct cni_output *o;
	size_t out_alloc;
	bool too_much;
};

/* Read what fd has now. 0: more may come; 1: EOF; < 0: error. */
static int drain(struct collect *c, int which)
{
	char chunk[16384];
	for (;;) {
		ssize_t n = read(c->fds[which], chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 1;
		struct cni_output *o = c->o;
		if (which == 1) {
			size_t keep = CNI_STDERR_MAX - o->err_len;
			keep = (size_t)n < keep ? (size_t)n : keep;
			memcpy(o->err + o->err_len, chunk, keep);
			o->err_len += keep;
			o->err[o->err_len] = '\0';
			continue;
		}
		if (o->out_len + (size_t)n > CNI_OUTPUT_MAX) {
			c->too_much = true;
			return 1;
		}
		if (o->out_len + (size_t)n + 1 > c->out_alloc) {
			size_t a = c->out_alloc * 2;
			while (a < o->out_len + (size_t)n + 1)
				a *= 2;
			char *p = realloc(o->out, a);
			if (!p)
				return -ENOMEM;
			o->out = p;
			c->out_alloc = a;
		}
		memcpy(o->out + o->out_len, chunk, (size_t)n);
		o->out_len += (size_t)n;
		o->out[o->out_len] = '\0';
	}
}

/* Collect until the pipes are closed and the child has exited (or, after
 * it exited, they are drained), the deadline or the cap. Without a pidfd,
 * until the pipes are closed. -ETIMEDOUT, -EFBIG or another error. */
static int collect(struct collect *c, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	while (c->fds[0] >= 0 || c->fds[1] >= 0 || c->fds[2] >= 0) {
		uint64_t now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p[3];
		for (int i = 0; i < 3; i++)
			p[i] = (struct pollfd){ .fd = c->fds[i], .events = POLLIN };
		uint64_t left = deadline - now;
		int n = poll(p, 3, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		bool exited = c->fds[2] >= 0 && p[2].revents;
		if (exited)
			close_fd(&c->fds[2]);
		for (int i = 0; i < 2; i++) {
			if (c->fds[i] < 0 || (!p[i].revents && !exited))
				continue;
			int r = drain(c, i);
			if (r < 0)
				return r;
			if (c->too_much)
				return -EFBIG;
			if (r == 1 || exited)   /* once it exited, what it wrote is in */
				close_fd(&c->fds[i]);
		}
	}
	return 0;
}

static int reap(pid_t pid, int *ret_status)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	*ret_status = st;
	return 0;
}

/* "; stderr: ..." after err's text: on one line, without trailing space. */
static void append_stderr(struct crisp_error *err, const struct cni_output *o)
{
	size_t len = o->err_len;
	while (len && (o->err[len - 1] == '\n' || o->err[len - 1] == ' '))
		len--;
	if (!err || !len)
		return;
	size_t n = strlen(err->msg);
	int k = snprintf(err->msg + n, sizeof err->msg - n, "; stderr: ");
	for (size_t i = 0, at = n + (size_t)(k > 0 ? k : 0); i < len && at + 1 < sizeof err->msg;
	     i++, at++) {
		char c = o->err[i];
		err->msg[at] = c == '\n' || c == '\t' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : c;
		err->msg[at + 1] = '\0';
	}
}

int cni_exec(const struct cni_run *run, struct cni_output *ret, struct crisp_error *err)
{
	struct cni_output o = { .status = -1 };
	struct collect c = { .fds = { -1, -1, -1 }, .o = &o, .out_alloc = 4096 };
	int in = -1, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	pid_t pid = -1;
	unsigned timeout = run->timeout_ms ? run->timeout_ms : CNI_TIMEOUT_DEFAULT_MS;
	int r;

	o.out = malloc(c.out_alloc);
	o.err = malloc(CNI_STDERR_MAX + 1);
	if (!o.out || !o.err) {
		r = crisp_fail_errno(err, -ENOMEM, "running CNI plugin %s", run->type);
		goto out;
	}
	o.out[0] = o.err[0] = '\0';
	r = stdin_memfd(run->conf, run->conf_len, &in);
	if (r == 0 && (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0))
		r = -errno;
	for (int i = 0; r == 0 && i < 2; i++)
		r = above_stdio(i ? &errp[1] : &outp[1]);
	if (r == 0 && (fcntl(outp[0], F_SETFL, O_NONBLOCK) < 0 ||
		       fcntl(errp[0], F_SETFL, O_NONBLOCK) < 0))
		r = -errno;
	if (r == 0)
		r = spawn(run, in, outp[1], errp[1], &pid);
	if (r < 0) {
		r = crisp_fail_errno(err, r, "cannot run CNI plugin %s (%s)", run->type, run->path);
		goto out;
	}
	close_fd(&in);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	c.fds[0] = outp[0];
	c.fds[1] = errp[0];
	outp[0] = errp[0] = -1;
	c.fds[2] = (int)syscall(SYS_pidfd_open, pid, 0);  /* -1: pipes only */
	r = collect(&c, timeout);
	if (r < 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	int rr = reap(pid, &o.status);
	if (r == -ETIMEDOUT)
		r = crisp_fail(err, CRISP_STATUS_DEADLINE_EXCEEDED, r, "CNI plugin %s (%s) did not "
			       "finish within %u ms: killed", run->type, run->command, timeout);
	else if (r == -EFBIG)
		r = crisp_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, r, "CNI plugin %s (%s) printed "
			       "more than %u bytes: killed", run->type, run->command, CNI_OUTPUT_MAX);
	else if (r < 0)
		r = crisp_fail_errno(err, r, "reading the output of CNI plugin %s", run->type);
	else if (rr < 0)
		r = crisp_fail_errno(err, rr, "waiting for CNI plugin %s", run->type);
	if (r < 0)
		append_stderr(err, &o);
out:
	for (int i = 0; i < 3; i++)
		close_fd(&c.fds[i]);
	close_fd(&in);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	if (r < 0) {
		cni_output_clear(&o);
		return r;
	}
	*ret = o;
	return 0;
}

void cni_output_clear(struct cni_output *o)
{
	free(o->out);
	free(o->err);
	*o = (struct cni_output){ .status = -1 };
}
