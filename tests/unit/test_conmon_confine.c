/*
 * test_conmon_confine: conmon's seccomp lists (conmon/syscalls.c) and the
 * Landlock scoping switch it needs from common/privdrop (landlock_no_scope):
 * every name resolves, no entry twice, nothing that undoes the sandbox;
 * each list loads and lets conmon's calls through; kill is SIGKILL only;
 * with no_scope a confined process may still signal one outside its domain
 * (exec mode's kills), without it (the default) it may not. Each TEST runs
 * in its own forked child, so confining it is fine. Needs root.
 */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/landlock.h"
#include "common/privdrop.h"
#include "common/seccomp.h"
#include "conmon/syscalls.h"
#include "tests/unit/unit.h"

static bool root(void)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "  skipped: needs root\n");
	return false;
}

static bool listed(const char *const *list, const char *name)
{
	char n[64];
	for (size_t i = 0; list[i]; i++)
		if (seccomp_entry_name(list[i], n, sizeof n) == 0 && !strcmp(n, name))
			return true;
	return false;
}

TEST(conmon_syscall_lists)
{
	static const char *const never[] = {
		"execve", "execveat", "fork", "vfork", "clone3", "mount", "umount2",
		"pivot_root", "chroot", "setns", "unshare", "bpf", "init_module",
		"finit_module", "kexec_load", "keyctl", "setuid", "setgid", "setresuid",
		"setresgid", "setgroups", "capset", "seccomp", "reboot", "perf_event_open",
		"process_vm_readv", "process_vm_writev", "userfaultfd", "open_by_handle_at",
		"landlock_create_ruleset", "landlock_restrict_self", "tkill", "pidfd_send_signal",
		"socket", "connect", "bind", "listen", "mknod", "mkdir", "chmod", "chown",
		"fchown", "symlink", "link", "truncate",
#ifndef CRISP_SANITIZE
		"clone", "ptrace", "prctl", "tgkill",
#endif
		NULL
	};
	const char *const *lists[] = { conmon_syscalls_container(), conmon_syscalls_exec() };
	for (size_t l = 0; l < 2; l++) {
		const char *const *list = lists[l];
		size_t n = 0;
		for (; list[n]; n++) {
			char name[64];
			CHECK_RC(seccomp_entry_name(list[n], name, sizeof name));
			if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
				fprintf(stderr, "  unknown syscall %s\n", list[n]);
			CHECK(seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR);
			for (size_t j = 0; j < n; j++)
				CHECK(strcmp(list[j], list[n]) != 0);
			/* these only ever with an argument pinned */
			CHECK(strcmp(list[n], "ioctl") && strcmp(list[n], "kill") &&
			      strcmp(list[n], "prctl"));
		}
		CHECK(n > 10 && n < 80);
		for (size_t i = 0; never[i]; i++) {
			if (listed(list, never[i]))
				fprintf(stderr, "  list %zu allows %s\n", l, never[i]);
			CHECK(!listed(list, never[i]));
		}
	}
	CHECK(!listed(conmon_syscalls_container(), "kill"));
	CHECK(listed(conmon_syscalls_exec(), "kill"));
}

/* In a child: load list, run fn; returns the child's wait status. */
static int filtered(const char *const *list, void (*fn)(void))
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_allowlist_load(list, NULL) < 0)
			_exit(100);
		fn();
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	return st;
}

static void container_calls(void)
{
	char b[4];
	/* some of what the monitor does: clock, read, write, wait4 */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (read(-1, b, 1) >= 0 || write(-1, b, 1) >= 0 || waitpid(-1, NULL, WNOHANG) >= 0)
		_exit(101);
}

static void sigterm_kill(void)
{
	kill(getpid(), 0);              /* signal 0: not SIGKILL, refused */
	_exit(0);
}

static void pipe_call(void)
{
	int p[2];
	if (pipe(p) == 0)
		_exit(0);
	_exit(0);
}

TEST(conmon_syscall_lists_load_and_hold)
{
	if (!root())
		return;
	int st = filtered(conmon_syscalls_container(), container_calls);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = filtered(conmon_syscalls_exec(), container_calls);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* kill with anything but SIGKILL, and pipe2, end the process */
	st = filtered(conmon_syscalls_exec(), sigterm_kill);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	st = filtered(conmon_syscalls_container(), sigterm_kill);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	st = filtered(conmon_syscalls_container(), pipe_call);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
}

/* A child that waits to be killed (or dies with us); returns its pid. */
static pid_t sleeper(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		pause();
		_exit(0);
	}
	return pid;
}

TEST(conmon_landlock_no_scope)
{
	if (!root())
		return;
	if (landlock_abi() < 6) {
		fprintf(stderr, "  skipped: Landlock ABI < 6 has no scoping\n");
		return;
	}
	/* scoped (the default): a sibling confined after the sleeper was
	 * made may not signal it */
	pid_t s = sleeper();
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct privdrop pd = { .no_new_privs = true, .landlock = true };
		if (privdrop_apply(&pd, NULL) < 0)
			_exit(100);
		_exit(kill(s, SIGKILL) < 0 && errno == EPERM ? 0 : 101);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(waitpid(s, &st, WNOHANG) == 0);          /* still there */
	/* not scoped: it may */
	struct privdrop pd = { .no_new_privs = true, .landlock = true, .landlock_no_scope = true };
	CHECK_RC(privdrop_apply(&pd, NULL));
	CHECK(kill(s, SIGKILL) == 0);
	CHECK(waitpid(s, &st, 0) == s && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}
