/*
 * spawn: fork+exec of one daemon for crisp-up (crisp-up/crisp_up.h).
 * Never fork-only: each daemon is its own binary (a fresh process image,
 * its own seccomp filter and threads). Between fork and exec the child only
 * makes async-signal-safe calls. An exec failure comes back to the parent
 * through a CLOEXEC pipe, so it can say why instead of seeing exit 127.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "crisp-up/crisp_up.h"

static void reset_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);       /* SIGKILL/SIGSTOP: EINVAL */
	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static __attribute__((noreturn)) void child(const char *path, char *const argv[], int devnull,
					     pid_t parent, int err_fd)
{
	int e = 0;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		e = errno;
	else if (getppid() != parent)
		_exit(1);               /* crisp-up died before the death signal was armed */
	if (e == 0) {
		reset_signals();
		if (dup2(devnull, STDIN_FILENO) < 0)
			e = errno;
	}
	if (e == 0) {
		execv(path, argv);
		e = errno;
	}
	(void)!write(err_fd, &e, sizeof e);
	_exit(127);
}

int spawn_daemon(const char *path, char *const argv[], int devnull, pid_t *ret_pid)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0)
		child(path, argv, devnull, parent, p[1]);
	close(p[1]);
	*ret_pid = pid;
	int e = 0;
	ssize_t n;
	do
		n = read(p[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	return n == (ssize_t)sizeof e ? -(e ? e : EIO) : 0;
}
