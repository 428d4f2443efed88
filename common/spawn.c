/*
 * spawn: a child program run to its end (see spawn.h). The parent waits on
 * the child's output pipes and a pidfd with poll, so that a child that dies
 * early, one that floods its output, and one that outlives its deadline are
 * all handled without a thread of their own. Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common/spawn.h"

#define POLL_SLICE_MS 100               /* how often the cancel flag is read */

static const char *const default_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child(const struct spawn_opts *o, int in, int out, int err)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	for (size_t i = 0; i < o->n_keep; i++)
		if (fcntl(o->keep_fds[i], F_SETFD, 0) < 0)
			_exit(127);
	execve(o->argv[0], (char *const *)o->argv,
	       (char *const *)(o->envp ? o->envp : default_env));
	_exit(127);
}

struct sink {
	int fd;
	size_t max;
	char *buf;
	size_t len;
	bool truncated;
};

/* Read what is there; 0 at EOF (fd closed), 1 for more. */
static int sink_read(struct sink *s)
{
	char tmp[16384];
	ssize_t n = read(s->fd, tmp, sizeof tmp);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	size_t take = (size_t)n;
	if (s->len + take > s->max) {
		take = s->max - s->len;
		s->truncated = true;
	}
	if (take) {
		memcpy(s->buf + s->len, tmp, take);
		s->len += take;
		s->buf[s->len] = '\0';
	}
	return 1;
}

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void kill_group(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/* Feed input, drain out/err, watch the child until it is gone. */
static int supervise(const struct spawn_opts *o, pid_t pid, int in, struct sink *s, int *status)
{
	int pfd = pidfd_of(pid);
	int64_t deadline = o->timeout_ms > 0 ? mono_ms() + o->timeout_ms : 0;
	size_t written = 0;
	int r = 0;
	bool exited = false, killed = false;

	while (!exited || s[0].fd >= 0 || s[1].fd >= 0) {
		struct pollfd p[4] = {
			{ s[0].fd, POLLIN, 0 }, { s[1].fd, POLLIN, 0 },
			{ exited ? -1 : pfd, POLLIN, 0 }, { in, POLLOUT, 0 },
		};
		int wait = POLL_SLICE_MS;
		if (deadline && !killed) {
			int64_t left = deadline - mono_ms();
			if (left <= 0) {
				kill_group(pid);
				killed = true;
				r = -ETIMEDOUT;
				continue;
			}
			if (left < wait)
				wait = (int)left;
		}
		if (pfd < 0 && !exited) {
			/* no pidfd: poll the child now and then */
			if (waitpid(pid, status, WNOHANG) == pid)
				exited = true;
		}
		if (poll(p, 4, wait) < 0 && errno != EINTR) {
			r = -errno;
			kill_group(pid);
			break;
		}
		for (int i = 0; i < 2; i++)
			if (s[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !sink_read(&s[i])) {
				close(s[i].fd);
				s[i].fd = -1;
			}
		if (in >= 0 && (p[3].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = p[3].revents & POLLOUT ?
				    write(in, (const char *)o->input + written, o->input_len - written) : -1;
			if (n > 0)
				written += (size_t)n;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				written = o->input_len;
			if (written == o->input_len) {
				close(in);
				in = -1;
			}
		}
		if (!exited && pfd >= 0 && (p[2].revents & POLLIN) &&
		    waitpid(pid, status, WNOHANG) == pid)
			exited = true;
		if (exited && !killed) {
			/* the child is gone; a grandchild may hold the pipes:
			 * give it the rest of the time, then kill the group */
			if (!deadline)
				deadline = mono_ms() + 2000;
		}
		if (!killed && o->cancel && atomic_load(o->cancel)) {
			kill_group(pid);
			killed = true;
			r = -ECANCELED;
		}
		if (killed && exited) {
			for (int i = 0; i < 2; i++)
				if (s[i].fd >= 0) {
					while (sink_read(&s[i]) > 0)
						;
				}
			break;
		}
	}
	if (in >= 0)
		close(in);
	if (!exited)
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	if (pfd >= 0)
		close(pfd);
	return r;
}

int spawn_run(const struct spawn_opts *o, struct spawn_result *ret)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	struct sink s[2] = { { .fd = -1, .max = o->out_max }, { .fd = -1, .max = o->err_max } };
	int devnull = -1, r = 0;

	*ret = (struct spawn_result){ 0 };
	for (int i = 0; i < 2; i++)
		if (s[i].max && !(s[i].buf = calloc(1, s[i].max + 1)))
			r = -ENOMEM;
	if (r == 0 && ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
		       pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
		       (o->input && pipe2(in, O_CLOEXEC) < 0)))
		r = -errno;
	if (r < 0)
		goto fail;
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		goto fail;
	}
	if (pid == 0)
		child(o, o->input ? in[0] : devnull, o->out_max ? out[1] : devnull,
		      o->err_max ? err[1] : devnull);
	close(out[1]);
	close(err[1]);
	if (o->input) {
		close(in[0]);
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	close(devnull);
	s[0].fd = out[0];
	s[1].fd = err[0];
	/* a child that closes its stdin early is an EPIPE here, not a
	 * SIGPIPE for the daemon: blocked on this thread, the pending one
	 * taken back before the old mask returns */
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	r = supervise(o, pid, o->input ? in[1] : -1, s, &ret->wait_status);
	struct timespec zero = { 0, 0 };
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (int i = 0; i < 2; i++)
		if (s[i].fd >= 0)
			close(s[i].fd);
	ret->out = s[0].buf;
	ret->out_len = s[0].len;
	ret->out_truncated = s[0].truncated;
	ret->err = s[1].buf;
	ret->err_len = s[1].len;
	ret->err_truncated = s[1].truncated;
	return r;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
		free(s[i].buf);
	}
	if (devnull >= 0)
		close(devnull);
	return r;
}

void spawn_result_clear(struct spawn_result *r)
{
	free(r->out);
	free(r->err);
	*r = (struct spawn_result){ 0 };
}

int spawn_exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

const char *spawn_status_text(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "wait status %#x", st);
	return buf;
}
