/*
 * conmon_run: starting a container's conmon (conmon/conmon.h) and reading
 * its answer: "ok PID" once `runc create` made the container, or runc's
 * error. conmon's first process exits as soon as the monitor has left it,
 * so sandboxd reaps it at once; the monitor is known by the pid and start
 * time it writes to DIR/conmon.pid. Between fork and exec only
 * async-signal-safe calls. Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/spawn.h"
#include "common/status.h"
#include "sandboxd/container/conmon_run.h"

#define CONMON_ARGS_MAX 40
#define SYNC_LINE_MAX 4200

static int64_t left_ms(int64_t deadline)
{
	int64_t l = deadline - sbx_mono_ms();
	return l > 0 ? l : 0;
}

/* Read the sync pipe to EOF (or the deadline) into buf. */
static int read_sync(int fd, int64_t deadline, char *buf, size_t len)
{
	size_t at = 0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int k = poll(&p, 1, (int)left_ms(deadline));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -ETIMEDOUT;
		ssize_t n = read(fd, buf + at, len - 1 - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		at += (size_t)n;
		if (at == len - 1)
			break;
	}
	buf[at] = '\0';
	return 0;
}

static int read_conmon_pid(const char *dir, pid_t *ret_pid, uint64_t *ret_start)
{
	char path[PATH_MAX], *buf = NULL;
	long long pid = 0;
	unsigned long long start = 0;
	int r = fs_path_join(path, sizeof path, dir, "conmon.pid");
	if (r == 0)
		r = fs_read_file(AT_FDCWD, path, 256, &buf, NULL);
	if (r < 0)
		return r;
	if (sscanf(buf, "%lld %llu", &pid, &start) != 2 || pid <= 1)
		r = -EBADMSG;
	free(buf);
	*ret_pid = (pid_t)pid;
	*ret_start = start;
	return r;
}

int conmon_fork(const char *const *argv, int keep_fd, pid_t *ret_pid)
{
	static const char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int nul = open("/dev/null", O_RDWR);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || fcntl(keep_fd, F_SETFD, 0) < 0)
			_exit(127);
		execve(argv[0], (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	*ret_pid = pid;
	return 0;
}

int conmon_run(const struct sbx *s, const struct conmon_args *a, pid_t *ret_pid,
	       pid_t *ret_conmon, uint64_t *ret_conmon_start, struct crisp_error *err)
{
	const char *argv[CONMON_ARGS_MAX];
	char fdnum[16], maxline[32];
	size_t n = 0;
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0)
		return crisp_fail_errno(err, -errno, "pipe");
	snprintf(fdnum, sizeof fdnum, "%d", sync[1]);
	snprintf(maxline, sizeof maxline, "%llu", (unsigned long long)s->cfg->log_max_line);
	argv[n++] = s->conmon;
	argv[n++] = "--runtime";
	argv[n++] = a->rt->path;
	argv[n++] = "--runtime-root";
	argv[n++] = a->rt->root;
	if (a->rt->systemd_cgroup)
		argv[n++] = "--systemd-cgroup";
	argv[n++] = "--id";
	argv[n++] = a->id;
	argv[n++] = "--bundle";
	argv[n++] = a->bundle;
	argv[n++] = "--dir";
	argv[n++] = a->dir;
	argv[n++] = "--log-path";
	argv[n++] = a->log_path;
	argv[n++] = "--log-max-line";
	argv[n++] = maxline;
	if (a->tty)
		argv[n++] = "--terminal";
	if (a->stdin_open)
		argv[n++] = "--stdin";
	if (a->stdin_once)
		argv[n++] = "--stdin-once";
	if (a->oom_file) {
		argv[n++] = "--oom-file";
		argv[n++] = a->oom_file;
	}
	argv[n++] = "--sync-fd";
	argv[n++] = fdnum;
	argv[n] = NULL;

	pid_t pid;
	int r = conmon_fork(argv, sync[1], &pid);
	close(sync[1]);
	if (r < 0) {
		close(sync[0]);
		return crisp_fail_errno(err, r, "fork");
	}
	int64_t deadline = sbx_mono_ms() + SBX_CONMON_TIMEOUT_MS;
	char *line = malloc(SYNC_LINE_MAX);
	r = line ? read_sync(sync[0], deadline, line, SYNC_LINE_MAX) : -ENOMEM;
	close(sync[0]);
	int st = 0;
	char stbuf[64];
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	long long cpid = 0;
	if (r == -ETIMEDOUT)
		r = crisp_fail(err, CRISP_STATUS_DEADLINE_EXCEEDED, r,
			       "runc create gave no answer in %d s", SBX_CONMON_TIMEOUT_MS / 1000);
	else if (r < 0)
		r = crisp_fail_errno(err, r, "reading conmon's answer");
	else if (strncmp(line, "ok ", 3) == 0 && sscanf(line + 3, "%lld", &cpid) == 1 && cpid > 1)
		r = 0;
	else if (strncmp(line, "error ", 6) == 0)
		r = crisp_fail(err, CRISP_STATUS_INTERNAL, -EIO, "creating the container: %.*s",
			       (int)strcspn(line + 6, "\n"), line + 6);
	else
		r = crisp_fail(err, CRISP_STATUS_INTERNAL, -EIO, "conmon failed (%s) before runc "
			       "answered", spawn_status_text(st, stbuf, sizeof stbuf));
	free(line);
	if (r < 0)
		return r;
	*ret_pid = (pid_t)cpid;
	r = read_conmon_pid(a->dir, ret_conmon, ret_conmon_start);
	if (r < 0)
		return crisp_fail_errno(err, r, "conmon's pid file in %s", a->dir);
	if (!sbx_proc_is(*ret_conmon, *ret_conmon_start))
		*ret_conmon_start = 0;          /* it is gone already: the exit file says why */
	return 0;
}
