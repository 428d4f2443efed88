/*
 * podinit: starting and stopping a pod's pod-init (sandboxd/pod-init/), the
 * PID 1 of a pod whose containers share one PID namespace. A first child
 * joins the pod's network, IPC and UTS namespaces, unshares the PID
 * namespace and forks pod-init into it, tells sandboxd its pid and exits:
 * pod-init is then nobody's child in sandboxd's tree (it outlives a
 * restart of sandboxd) and goes into the pod's cgroup. It is known by pid
 * and start time, never by pid alone. Between fork and exec only
 * async-signal-safe calls. Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/status.h"
#include "sandboxd/pod/pod.h"

#define POD_INIT_STOP_MS 5000

static void first_child(const int ns_fds[3], const char *exe, int pid_w, int err_w)
{
	static char *const argv[] = { "pod-init", NULL };
	static char *const envp[] = { NULL };
	sigset_t none;
	int keep[] = { ns_fds[0], ns_fds[1], ns_fds[2], pid_w, err_w };
	pod_close_all_but(keep, 5);
	for (int i = 0; i < 3; i++)
		if (ns_fds[i] >= 0 && setns(ns_fds[i], 0) < 0)
			_exit(1);
	if (unshare(CLONE_NEWPID) < 0)
		_exit(2);
	pid_t pid = fork();
	if (pid < 0)
		_exit(3);
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		close(pid_w);
		execve(exe, argv, envp);
		int e = errno;
		(void)!write(err_w, &e, sizeof e);
		_exit(127);
	}
	(void)!write(pid_w, &pid, sizeof pid);
	_exit(0);
}

int pod_init_start(const char *exe, const char *const ns_paths[3], const char *cgroup,
		   const struct cgroup_host *cg, pid_t *ret_pid, uint64_t *ret_start,
		   struct crisp_error *err)
{
	int ns_fds[3] = { -1, -1, -1 }, pid_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	pid_t child = -1, pid = 0;
	int r = 0;
	for (int i = 0; i < 3 && r == 0; i++)
		if (ns_paths[i] && (ns_fds[i] = open(ns_paths[i], O_RDONLY | O_CLOEXEC)) < 0)
			r = crisp_fail_errno(err, -errno, "open %s", ns_paths[i]);
	if (r == 0 && (pipe2(pid_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0))
		r = crisp_fail_errno(err, -errno, "pipe");
	if (r == 0 && (child = fork()) < 0)
		r = crisp_fail_errno(err, -errno, "fork");
	if (child == 0)
		first_child(ns_fds, exe, pid_p[1], err_p[1]);
	if (child > 0) {
		close(pid_p[1]);
		close(err_p[1]);
		pid_p[1] = err_p[1] = -1;
		if (read(pid_p[0], &pid, sizeof pid) != sizeof pid)
			r = crisp_fail(err, CRISP_STATUS_INTERNAL, -EIO,
				       "starting pod-init: the pod's namespaces could not be joined");
		int e = 0;
		if (r == 0 && read(err_p[0], &e, sizeof e) == sizeof e)
			r = crisp_fail_errno(err, -e, "exec %s", exe);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (r == 0 && cgroup && (r = cgroup_enter(cg, cgroup, pid)) < 0)
		crisp_fail_errno(err, r, "putting pod-init into cgroup %s", cgroup);
	if (r == 0 && !(*ret_start = sbx_proc_start(pid)))
		r = crisp_fail(err, CRISP_STATUS_INTERNAL, -ESRCH, "pod-init exited at once");
	if (r == 0)
		*ret_pid = pid;
	else if (pid > 0)
		kill(pid, SIGKILL);
	for (int i = 0; i < 3; i++)
		if (ns_fds[i] >= 0)
			close(ns_fds[i]);
	for (int i = 0; i < 2; i++) {
		if (pid_p[i] >= 0)
			close(pid_p[i]);
		if (err_p[i] >= 0)
			close(err_p[i]);
	}
	return r;
}

int pod_init_stop(pid_t pid, uint64_t start)
{
	if (!sbx_proc_is(pid, start))
		return 0;
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return errno == ESRCH ? 0 : -errno;
	/* the pidfd names that process: check it is still ours, then kill */
	if (!sbx_proc_is(pid, start)) {
		close(pfd);
		return 0;
	}
	int r = (int)syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
	if (r < 0 && errno != ESRCH) {
		r = -errno;
		close(pfd);
		return r;
	}
	struct pollfd p = { pfd, POLLIN, 0 };
	r = poll(&p, 1, POD_INIT_STOP_MS) == 1 ? 0 : -ETIMEDOUT;
	close(pfd);
	return r;
}
