/*
 * exec: see exec.h. One poll loop over the signalfd (SIGCHLD) and the two
 * pipes, with the deadline as its timeout. runc's --pid-file goes into a
 * fresh private directory (mkdtemp in $TMPDIR or /tmp) that conmon
 * removes, still privileged, as soon as runc has exited and the pid is
 * read; the drop follows at once. Children reaped before the command's pid is known are
 * remembered (the command may be quicker than conmon reading the file).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "conmon/conmon.h"
#include "conmon/confine.h"
#include "conmon/exec.h"
#include "conmon/exit_file.h"
#include "conmon/kill.h"
#include "conmon/runtime.h"

#define EXEC_TMP_NAME "crisp-exec-XXXXXX"
#define EXEC_TMP_BASE_MAX 256
#define EXEC_PID_FILE "pid"
#define READ_CHUNK (64u * 1024u)
#define EARLY_MAX 16                    /* children reaped before the pid was known */
#define KILL_WAIT_MS 300                /* for the killed to be reaped */

struct obuf {
	char *data;
	size_t len, cap;
};

struct ex {
	const struct conmon_args *a;
	int sigfd;
	int fd[2];                      /* stdout, stderr; -1 at EOF */
	struct obuf out[2];
	pid_t runc, cmd;
	bool runc_done, cmd_done, killed;
	int runc_status, cmd_status;
	int result;                     /* conmon_exec_result.status */
	int64_t deadline;               /* CLOCK_MONOTONIC ns, 0: none */
	char tmpdir[EXEC_TMP_BASE_MAX + sizeof EXEC_TMP_NAME + 1];
	bool tmpdir_made;
	struct { pid_t pid; int st; } early[EARLY_MAX];
	size_t n_early;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t total(const struct ex *e)
{
	return e->out[0].len + e->out[1].len;
}

static int obuf_add(struct obuf *b, const char *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len)
			cap *= 2;
		if (cap > CONMON_EXEC_OUTPUT_MAX)
			cap = CONMON_EXEC_OUTPUT_MAX;
		char *p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

/* ---- killing ------------------------------------------------------------- */

static void reap(struct ex *e);

static void kill_all(struct ex *e, int why)
{
	if (e->killed)
		return;
	e->killed = true;
	e->result = why;
	if (e->a->exec_procs) {
		int r = conmon_kill_cgroup(e->a->exec_procs);
		if (r < 0)
			log_warn_errno(r, "killing the processes of %s: %m", e->a->exec_procs);
	}
	if (!e->cmd_done)
		conmon_kill_pid(e->cmd);
	if (!e->runc_done)
		conmon_kill_pid(e->runc);
	/* wait a little for them to be reaped, for their wait status */
	int64_t until = mono_ns() + KILL_WAIT_MS * 1000000LL;
	while (!(e->runc_done && (e->cmd_done || e->cmd <= 0))) {
		int64_t left = until - mono_ns();
		if (left <= 0)
			break;
		struct pollfd p = { e->sigfd, POLLIN, 0 };
		if (poll(&p, 1, (int)(left / 1000000) + 1) < 0 && errno != EINTR)
			break;
		reap(e);
	}
}

/* ---- the runtime's exit -------------------------------------------------- */

static void tmpdir_remove(struct ex *e)
{
	if (!e->tmpdir_made)
		return;
	int dfd = open(e->tmpdir, O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		unlinkat(dfd, EXEC_PID_FILE, 0);
		unlinkat(dfd, "." EXEC_PID_FILE, 0);    /* runc's temp name */
		close(dfd);
	}
	rmdir(e->tmpdir);
	e->tmpdir_made = false;
}

static int read_cmd_pid(struct ex *e)
{
	int dfd = open(e->tmpdir, O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	char *buf;
	int r = fs_read_file(dfd, EXEC_PID_FILE, 32, &buf, NULL);
	close(dfd);
	if (r < 0)
		return r;
	char *end;
	long v = strtol(buf, &end, 10);
	r = v > 1 && v < (1L << 30) && (*end == 0 || *end == '\n') ? 0 : -EINVAL;
	if (r == 0)
		e->cmd = (pid_t)v;
	free(buf);
	return r;
}

static void runc_exited(struct ex *e)
{
	if (!WIFEXITED(e->runc_status) || WEXITSTATUS(e->runc_status) != 0) {
		e->result = -ENOEXEC;   /* the command never ran */
		tmpdir_remove(e);
		return;
	}
	int r = read_cmd_pid(e);
	tmpdir_remove(e);
	if (r < 0) {
		log_error_errno(r, "reading the runtime's pid file: %m");
		kill_all(e, r);
		return;
	}
	for (size_t i = 0; i < e->n_early; i++) {
		if (e->early[i].pid == e->cmd) {
			e->cmd_done = true;
			e->cmd_status = e->early[i].st;
		}
	}
	const char *step = "";
	r = conmon_confine_exec(e->a->exec_procs, &step);
	if (r < 0) {
		log_error_errno(r, "dropping privileges (%s): %m", step);
		kill_all(e, r);
	}
}

static void reap(struct ex *e)
{
	struct signalfd_siginfo si;
	while (read(e->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
		;
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == e->runc && !e->runc_done) {
			e->runc_done = true;
			e->runc_status = st;
			if (!e->killed)
				runc_exited(e);
		} else if (e->cmd > 0 && p == e->cmd) {
			e->cmd_done = true;
			e->cmd_status = st;
		} else if (e->cmd <= 0 && e->n_early < EARLY_MAX) {
			e->early[e->n_early].pid = p;
			e->early[e->n_early].st = st;
			e->n_early++;
		}
	}
}

/* ---- output ---------------------------------------------------------------- */

/* Read once from stream i; returns the bytes read (0: nothing or EOF). */
static size_t pump(struct ex *e, int i)
{
	char buf[READ_CHUNK];
	ssize_t n;
	do
		n = read(e->fd[i], buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		close(e->fd[i]);
		e->fd[i] = -1;
		return 0;
	}
	size_t room = CONMON_EXEC_OUTPUT_MAX - total(e);
	size_t keep = (size_t)n < room ? (size_t)n : room;
	if (obuf_add(&e->out[i], buf, keep) < 0) {
		kill_all(e, -ENOMEM);
		return 0;
	}
	if ((size_t)n > room)
		kill_all(e, -EFBIG);
	return (size_t)n;
}

/* What the pipes hold once the command is gone (not waiting for EOF). */
static void drain(struct ex *e)
{
	bool more = true;
	while (more && !(e->killed && e->result == -EFBIG)) {
		more = false;
		for (int i = 0; i < 2; i++)
			if (e->fd[i] >= 0)
				more |= pump(e, i) > 0;
	}
}

static bool finished(const struct ex *e)
{
	return e->killed || e->cmd_done || (e->runc_done && e->result != 0);
}

static void loop(struct ex *e)
{
	while (!finished(e)) {
		int timeout = -1;
		if (e->deadline) {
			int64_t left = e->deadline - mono_ns();
			if (left <= 0) {
				kill_all(e, -ETIMEDOUT);
				break;
			}
			int64_t ms = (left + 999999) / 1000000;
			timeout = ms > INT_MAX ? INT_MAX : (int)ms;
		}
		struct pollfd p[3] = { { e->sigfd, POLLIN, 0 }, { e->fd[0], POLLIN, 0 },
				       { e->fd[1], POLLIN, 0 } };
		if (poll(p, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			kill_all(e, -errno);
			break;
		}
		for (int i = 0; i < 2 && !e->killed; i++)
			if (p[i + 1].revents)
				pump(e, i);
		if (p[0].revents && !e->killed)
			reap(e);
	}
	drain(e);
}

/* ---- start and result -------------------------------------------------- */

static int start(struct ex *e)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return -errno;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	e->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (e->sigfd < 0)
		return -errno;
	/* $TMPDIR when it is an absolute path of a sane length, else /tmp */
	const char *base = secure_getenv("TMPDIR");
	if (!base || base[0] != '/' || strlen(base) > EXEC_TMP_BASE_MAX)
		base = "/tmp";
	snprintf(e->tmpdir, sizeof e->tmpdir, "%s/%s", base, EXEC_TMP_NAME);
	if (!mkdtemp(e->tmpdir))
		return -errno;
	e->tmpdir_made = true;
	char pid_file[sizeof e->tmpdir + sizeof EXEC_PID_FILE + 1];
	snprintf(pid_file, sizeof pid_file, "%s/%s", e->tmpdir, EXEC_PID_FILE);

	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r = 0;
	if (null < 0 || pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
	} else {
		/* the command's ends block, as a program expects of its stdio */
		int stdio[3] = { null, out[1], err[1] };
		if (fcntl(out[1], F_SETFL, 0) < 0 || fcntl(err[1], F_SETFL, 0) < 0)
			r = -errno;
		else
			r = conmon_runtime_exec(e->a, stdio, pid_file, &e->runc);
	}
	if (out[1] >= 0)
		close(out[1]);
	if (err[1] >= 0)
		close(err[1]);
	if (null >= 0)
		close(null);
	e->fd[0] = out[0];
	e->fd[1] = err[0];
	return r;
}

static int write_result(const struct ex *e, int exit_code)
{
	struct conmon_exec_result res = {
		.status = e->result, .exit_code = exit_code,
		.stdout_len = (uint32_t)e->out[0].len, .stderr_len = (uint32_t)e->out[1].len,
	};
	int r = fs_write_all(e->a->result_fd, &res, sizeof res);
	for (int i = 0; i < 2 && r == 0; i++)
		if (e->out[i].len)
			r = fs_write_all(e->a->result_fd, e->out[i].data, e->out[i].len);
	return r;
}

static int exit_code_of(const struct ex *e)
{
	if (e->cmd_done)
		return conmon_exit_code(e->cmd_status);
	if (e->killed)
		return 128 + SIGKILL;
	if (e->runc_done)
		return conmon_exit_code(e->runc_status);
	return 255;
}

int conmon_exec_main(const struct conmon_args *a)
{
	struct ex e = { .a = a, .sigfd = -1, .fd = { -1, -1 } };
	if (a->timeout_ms)
		e.deadline = mono_ns() + (int64_t)a->timeout_ms * 1000000;
	int r = start(&e);
	if (r < 0) {
		log_error_errno(r, "starting %s exec: %m", a->runtime);
		e.result = r;
		if (e.runc > 0)
			kill_all(&e, r);
	} else {
		loop(&e);
	}
	tmpdir_remove(&e);
	r = write_result(&e, exit_code_of(&e));
	if (r < 0)
		log_error_errno(r, "writing the result: %m");
	for (int i = 0; i < 2; i++) {
		if (e.fd[i] >= 0)
			close(e.fd[i]);
		free(e.out[i].data);
	}
	if (e.sigfd >= 0)
		close(e.sigfd);
	close(a->result_fd);
	return r < 0 ? 1 : 0;
}
