/*
 * conmon: the per-container monitor. It outlives the daemons that start it:
 * it becomes a child subreaper, starts the container's process (later: the
 * OCI runtime's create/start), carries the process's stdout and stderr into
 * the kubelet's log format (k8s_log.c), and writes the exit status atomically
 * (exit_file.c) when the process ends, then exits.
 *
 *   conmon --log-path FILE --exit-file FILE -- COMMAND [ARG...]
 *
 * SIGUSR1 reopens the log file (log rotation). It never parses anything from
 * the container but bytes to copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/log.h"
#include "conmon/exit_file.h"
#include "conmon/k8s_log.h"

struct conmon_opts {
	const char *log_path;
	const char *exit_file;
	char **argv;
};

static int parse_args(int argc, char **argv, struct conmon_opts *o)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--") && i + 1 < argc) {
			o->argv = &argv[i + 1];
			break;
		} else if (!strcmp(argv[i], "--log-path") && i + 1 < argc) {
			o->log_path = argv[++i];
		} else if (!strcmp(argv[i], "--exit-file") && i + 1 < argc) {
			o->exit_file = argv[++i];
		} else {
			return -EINVAL;
		}
	}
	return o->log_path && o->exit_file && o->argv ? 0 : -EINVAL;
}

static pid_t spawn(char **argv, int out[2], int err[2])
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	_exit(127);
}

/* Copy what is readable on fd into the log; returns 0 at EOF, 1 if more. */
static int pump(int fd, const char *stream, struct k8s_log *log)
{
	char buf[16384];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	int r = k8s_log_write(log, stream, buf, (size_t)n);
	if (r < 0)
		log_warn_errno(r, "writing the container log: %m");
	return 1;
}

static int monitor(pid_t child, int sfd, int outfd, int errfd, struct k8s_log *log)
{
	struct pollfd pf[3] = { { sfd, POLLIN, 0 }, { outfd, POLLIN, 0 }, { errfd, POLLIN, 0 } };
	int status = -1;
	while (pf[1].fd >= 0 || pf[2].fd >= 0 || status < 0) {
		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			return -errno;
		for (int i = 1; i < 3; i++)
			if (pf[i].fd >= 0 && pf[i].revents && !pump(pf[i].fd, i == 1 ? "stdout" : "stderr", log))
				pf[i].fd = -1;
		if (!(pf[0].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof si) != sizeof si)
			continue;
		if (si.ssi_signo == SIGUSR1) {
			k8s_log_reopen(log);
			continue;
		}
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == child)
				status = st;
	}
	return exit_code_from_status(status);
}

int main(int argc, char **argv)
{
	struct conmon_opts o = { 0 };
	log_init("conmon", LOG_INFO);
	if (parse_args(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: conmon --log-path FILE --exit-file FILE -- COMMAND [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return log_error_errno(-errno, "PR_SET_CHILD_SUBREAPER: %m"), 1;
	struct k8s_log *log;
	int r = k8s_log_open(o.log_path, &log);
	if (r < 0)
		return log_error_errno(r, "open %s: %m", o.log_path), 1;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	int out[2], err[2];
	if (sfd < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return log_error_errno(-errno, "pipes: %m"), 1;
	pid_t child = spawn(o.argv, out, err);
	if (child < 0)
		return log_error_errno(-errno, "fork: %m"), 1;
	close(out[1]);
	close(err[1]);
	int code = monitor(child, sfd, out[0], err[0], log);
	if (code < 0)
		return log_error_errno(code, "monitor: %m"), 1;
	k8s_log_close(log);
	r = exit_file_write(o.exit_file, code);
	if (r < 0)
		return log_error_errno(r, "write %s: %m", o.exit_file), 1;
	return 0;
}
