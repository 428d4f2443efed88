/*
 * pod-init: PID 1 of a pod's shared PID namespace (PodSandboxConfig's
 * namespace option pid = POD), crisp's stand-in for a pause container: it
 * holds the namespace open while the pod's containers come and go, and it
 * reaps the zombies that the kernel hands to a namespace's init.
 *
 * sandboxd starts it (sandboxd/pod/podinit.c) as the first process of a new
 * PID namespace, already inside the pod's network, IPC and UTS namespaces
 * and its cgroup. It then shuts itself in before it waits:
 *   a mount namespace of its own, whose root is an empty read-only tmpfs
 *   -> uid and gid 65534 (every capability gone with uid 0)
 *   -> no_new_privs -> seccomp: only waiting for signals and children,
 *      and exiting.
 * SIGTERM or SIGINT end it (exit 0), and with it the namespace: the kernel
 * kills what is left in it. It never reads input; it has none.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/seccomp.h"

#define POD_INIT_ID 65534       /* nobody / nogroup */

static const char *const pod_init_syscalls[] = {
	"rt_sigtimedwait", "rt_sigprocmask", "rt_sigreturn", "wait4", "waitid",
	"exit", "exit_group", "restart_syscall", NULL,
};

static int fail(const char *what)
{
	fprintf(stderr, "pod-init: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Its own mount namespace with an empty, read-only tmpfs as root. */
static int jail(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return fail("unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("make / private");
	if (mount("pod-init", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=2,mode=0555") < 0)
		return fail("mount tmpfs");
	if (chdir("/tmp") < 0 || chroot(".") < 0 || chdir("/") < 0)
		return fail("chroot");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, NULL) < 0)
		return fail("remount read-only");
	return 0;
}

static int drop(void)
{
	const char *bad = NULL;
	if (setgroups(0, NULL) < 0 || setresgid(POD_INIT_ID, POD_INIT_ID, POD_INIT_ID) < 0 ||
	    setresuid(POD_INIT_ID, POD_INIT_ID, POD_INIT_ID) < 0)
		return fail("drop to 65534");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail("no_new_privs");
	int r = seccomp_allowlist_load(pod_init_syscalls, &bad);
	if (r < 0) {
		errno = -r;
		return fail(bad ? bad : "seccomp");
	}
	return 0;
}

int main(void)
{
	sigset_t set;

	if (getpid() != 1) {
		fprintf(stderr, "pod-init: must be PID 1 of a new PID namespace\n");
		return 2;
	}
	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	prctl(PR_SET_NAME, "pod-init", 0, 0, 0);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	if (jail() != 0 || drop() != 0)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		int sig = sigwaitinfo(&set, NULL);
		if (sig == SIGTERM || sig == SIGINT)
			return 0;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}
