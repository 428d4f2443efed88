/*
 * unpack_spawn: the parent side of the unpack child. posix_spawn (a
 * fork+exec, never a bare fork: imaged has threads) of imaged's own binary
 * in its hidden mode, with an empty environment, default signal
 * dispositions and an empty signal mask, the blob as fd 0 and a pipe as
 * fd 3; then one struct unpack_status read back, checked strictly (exact
 * size, magic, NUL-terminated text, a digest of the right shape), and the
 * child reaped. A child that dies, overruns its time or says anything
 * malformed is a SYSTEM error, never a success.
 * Must never: trust the child's status beyond its fixed shape, or leave a
 * child unreaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "imaged/unpack_int.h"

#define SELF_EXE "/proc/self/exe"

static int spawn_child(const struct unpack_spawn *s, int blob, int status,
		       pid_t *ret_pid)
{
	struct unpack_limits lim;
	char lbuf[UNPACK_LIMIT_KEYS][48];
	if (s->limits)
		lim = *s->limits;
	else
		unpack_limits_default(&lim);
	int r = unpack_limits_format(&lim, lbuf);
	if (r < 0)
		return r;
	char *argv[4 + UNPACK_LIMIT_KEYS + 1];
	const char *exe = s->exe ? s->exe : SELF_EXE;
	argv[0] = (char *)exe;
	argv[1] = (char *)UNPACK_CHILD_ARG;
	argv[2] = (char *)s->layer_dir;
	argv[3] = (char *)unpack_compression_name(s->comp);
	for (size_t i = 0; i < UNPACK_LIMIT_KEYS; i++)
		argv[4 + i] = lbuf[i];
	argv[4 + UNPACK_LIMIT_KEYS] = NULL;
	char *envp[] = { NULL };

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* blob and status are >= 4 (F_DUPFD_CLOEXEC): dup2 never clobbers them */
	r = posix_spawn_file_actions_adddup2(&fa, blob, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, status, UNPACK_STATUS_FD);
	if (r == 0)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&attr, &all);
	if (r == 0)
		r = posix_spawn(ret_pid, exe, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -r;
}

int unpack_spawn_start(const struct unpack_spawn *s, struct unpack_child *ret,
		       struct unpack_error *err)
{
	*err = (struct unpack_error){ 0 };
	if (!s->layer_dir || s->layer_dir[0] != '/' || s->blob_fd < 0)
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EINVAL,
				   "unpack_spawn needs an absolute layer dir and a blob fd");
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return unpack_fail_errno(err, errno, "pipe2");
	int blob = fcntl(s->blob_fd, F_DUPFD_CLOEXEC, UNPACK_STATUS_FD + 1);
	int status = fcntl(p[1], F_DUPFD_CLOEXEC, UNPACK_STATUS_FD + 1);
	int r = blob < 0 || status < 0 ? -errno : 0;
	close(p[1]);
	pid_t pid = -1;
	if (r == 0)
		r = spawn_child(s, blob, status, &pid);
	if (blob >= 0)
		close(blob);
	if (status >= 0)
		close(status);
	if (r < 0) {
		close(p[0]);
		return unpack_fail_errno(err, r, "spawning the unpack child");
	}
	*ret = (struct unpack_child){ .pid = pid, .status_fd = p[0] };
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads until EOF (or one byte past a status); -ETIMEDOUT on timeout. */
static int status_read(int fd, int timeout_ms, void *buf, size_t cap, size_t *ret_len)
{
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	size_t len = 0;
	for (;;) {
		int wait = -1;
		if (deadline) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			wait = left > 60000 ? 60000 : (int)left;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = poll(&pfd, 1, wait);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		ssize_t got = read(fd, (char *)buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		len += (size_t)got;
		if (got == 0 || len == cap)
			break;
	}
	*ret_len = len;
	return 0;
}

static bool digest_ok(const char *d)
{
	if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int status_check(const struct unpack_status *st, size_t len, int wstatus,
			struct unpack_result *ret, struct unpack_error *err)
{
	if (WIFSIGNALED(wstatus))
		return unpack_fail(err, UNPACK_ERR_SYSTEM, ECHILD,
				   "unpack child killed by signal %d%s", WTERMSIG(wstatus),
				   WTERMSIG(wstatus) == SIGSYS ? " (seccomp)" : "");
	if (len != sizeof *st || st->magic != UNPACK_STATUS_MAGIC ||
	    st->code > UNPACK_ERR_SYSTEM || memchr(st->msg, 0, sizeof st->msg) == NULL ||
	    memchr(st->diff_id, 0, sizeof st->diff_id) == NULL)
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EPROTO,
				   "unpack child sent a malformed status (%zu bytes, exit %d)",
				   len, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
	if (st->code != UNPACK_OK) {
		int e = st->err < 0 ? st->err : -EIO;
		return unpack_fail(err, (enum unpack_code)st->code, e, "%s", st->msg);
	}
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || !digest_ok(st->diff_id))
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EPROTO,
				   "unpack child reported success inconsistently");
	*ret = (struct unpack_result){
		.tar_size = st->tar_size,
		.compressed_size = st->compressed_size,
		.entries = st->entries,
		.xattrs_skipped = st->xattrs_skipped,
	};
	memcpy(ret->diff_id, st->diff_id, sizeof ret->diff_id);
	return 0;
}

int unpack_spawn_finish(struct unpack_child *c, int timeout_ms,
			struct unpack_result *ret, struct unpack_error *err)
{
	*err = (struct unpack_error){ 0 };
	union {
		struct unpack_status st;
		char raw[sizeof(struct unpack_status) + 1];
	} buf;
	memset(&buf, 0, sizeof buf);
	size_t len = 0;
	int rr = status_read(c->status_fd, timeout_ms, &buf, sizeof buf, &len);
	if (rr < 0)
		kill(c->pid, SIGKILL);
	close(c->status_fd);
	int ws = 0;
	while (waitpid(c->pid, &ws, 0) < 0 && errno == EINTR)
		;
	*c = (struct unpack_child){ .pid = -1, .status_fd = -1 };
	if (rr == -ETIMEDOUT)
		return unpack_fail(err, UNPACK_ERR_SYSTEM, ETIMEDOUT,
				   "unpack child timed out after %d ms", timeout_ms);
	if (rr < 0)
		return unpack_fail_errno(err, rr, "reading the unpack child's status");
	return status_check(&buf.st, len, ws, ret, err);
}

int unpack_spawn(const struct unpack_spawn *s, int timeout_ms,
		 struct unpack_result *ret, struct unpack_error *err)
{
	struct unpack_child c;
	int r = unpack_spawn_start(s, &c, err);
	if (r < 0)
		return r;
	return unpack_spawn_finish(&c, timeout_ms, ret, err);
}
