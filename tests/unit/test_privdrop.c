/*
 * test_privdrop: common/privdrop.c, landlock.c, seccomp.c and the allowlists
 * of syscalls.c, checked against what the kernel reports in
 * /proc/<self|thread-self>/status and against what it refuses. Each TEST runs
 * in its own forked child, so dropping privilege here is fine; a test that
 * must watch a process die forks once more. Needs root (prints "skipped"
 * otherwise).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/landlock.h"
#include "common/privdrop.h"
#include "common/seccomp.h"
#include "common/syscalls.h"
#include "tests/unit/unit.h"

#define NOBODY_UID 65534

struct status {
	unsigned long uid[4];
	unsigned long gid[4];
	char groups[128];
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int nnp, seccomp;
};

static void status_line(struct status *s, const char *line)
{
	const char *v = strchr(line, ':');
	if (!v)
		return;
	v++;
	if (!strncmp(line, "Uid:", 4))
		sscanf(v, "%lu %lu %lu %lu", &s->uid[0], &s->uid[1], &s->uid[2], &s->uid[3]);
	else if (!strncmp(line, "Gid:", 4))
		sscanf(v, "%lu %lu %lu %lu", &s->gid[0], &s->gid[1], &s->gid[2], &s->gid[3]);
	else if (!strncmp(line, "Groups:", 7))
		sscanf(v, " %127[0-9 ]", s->groups);
	else if (!strncmp(line, "CapInh:", 7))
		s->cap_inh = strtoull(v, NULL, 16);
	else if (!strncmp(line, "CapPrm:", 7))
		s->cap_prm = strtoull(v, NULL, 16);
	else if (!strncmp(line, "CapEff:", 7))
		s->cap_eff = strtoull(v, NULL, 16);
	else if (!strncmp(line, "CapBnd:", 7))
		s->cap_bnd = strtoull(v, NULL, 16);
	else if (!strncmp(line, "CapAmb:", 7))
		s->cap_amb = strtoull(v, NULL, 16);
	else if (!strncmp(line, "NoNewPrivs:", 11))
		s->nnp = atoi(v);
	else if (!strncmp(line, "Seccomp:", 8))
		s->seccomp = atoi(v);
}

/* path: /proc/self/status (the main thread) or /proc/thread-self/status */
static int status_read(const char *path, struct status *ret)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	struct status s;
	memset(&s, 0xff, sizeof s);     /* a field the kernel did not print stays all ones */
	s.groups[0] = 0;
	char line[512];
	while (fgets(line, sizeof line, f))
		status_line(&s, line);
	fclose(f);
	*ret = s;
	return 0;
}

static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "  skipped: needs root\n");
	return false;
}

/* The profile criserver will run with, but with the test's own paths. */
static const char *const proc_ro[] = { "/proc", NULL };

static struct privdrop nobody_profile(void)
{
	return (struct privdrop){
		.user = "nobody",
		.no_new_privs = true,
		.landlock = true,
		.landlock_ro = proc_ro,
		.seccomp = syscalls_criserver(),
		.pdeathsig = SIGTERM,
	};
}

/* A thread that exists before the drop and looks at itself afterwards. */
struct early_thread {
	int go[2];
	struct status st;
	int r;
};

static void *early_thread_main(void *p)
{
	struct early_thread *t = p;
	char c;
	t->r = -EIO;
	if (read(t->go[0], &c, 1) == 1)
		t->r = status_read("/proc/thread-self/status", &t->st);
	return NULL;
}

TEST(privdrop_nobody_main_thread_and_early_thread)
{
	if (!need_root())
		return;
	struct status before;
	CHECK_RC(status_read("/proc/self/status", &before));
	struct early_thread t = { .r = -1 };
	CHECK(pipe2(t.go, O_CLOEXEC) == 0);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, early_thread_main, &t) == 0);

	struct privdrop pd = nobody_profile();
	const char *step = "untouched";
	int r = privdrop_apply(&pd, &step);
	if (r < 0)
		fprintf(stderr, "  step %s: %s\n", step, strerror(-r));
	CHECK(r == 0);
	CHECK(strcmp(step, "untouched") == 0);

	struct status s;
	CHECK_RC(status_read("/proc/self/status", &s));
	for (int i = 0; i < 4; i++)
		CHECK(s.uid[i] == NOBODY_UID && s.gid[i] == NOBODY_UID);
	CHECK(strcmp(s.groups, "65534 ") == 0);   /* the kernel ends each group with a space */
	CHECK(s.cap_eff == 0 && s.cap_prm == 0 && s.cap_inh == 0);
	CHECK(s.cap_bnd == 0 && s.cap_amb == 0);
	CHECK(s.nnp == 1 && s.seccomp == 2);
	/* (pdeathsig and KEEPCAPS after a uid change: see
	 * privdrop_keep_caps_across_uid_change; prctl cannot read them here) */

	CHECK(write(t.go[1], "x", 1) == 1);
	CHECK(pthread_join(th, NULL) == 0);
	CHECK_RC(t.r);
	/* glibc moved every thread to the new ids; seccomp's TSYNC put the
	 * filter and no_new_privs on it; the uid change emptied its permitted
	 * and effective sets (it had no KEEPCAPS of its own) */
	for (int i = 0; i < 4; i++)
		CHECK(t.st.uid[i] == NOBODY_UID && t.st.gid[i] == NOBODY_UID);
	CHECK(t.st.cap_eff == 0 && t.st.cap_prm == 0 && t.st.cap_amb == 0);
	CHECK(t.st.nnp == 1 && t.st.seccomp == 2);
	/* the documented limitation: capability sets are per thread, so the
	 * early thread keeps its bounding set (and Landlock does not hold in
	 * it either): daemons drop before they create threads */
	CHECK(t.st.cap_bnd == before.cap_bnd);
}

/* Run fn in a grandchild after the nobody/criserver drop; return its wait status. */
static int run_dropped(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct privdrop pd = nobody_profile();
		pd.pdeathsig = 0;
		if (privdrop_apply(&pd, NULL) < 0)
			_exit(100);
		fn();
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	return st;
}

static void call_allowed(void) { if (syscall(SYS_getpid) <= 0) _exit(101); }
static void call_unshare(void) { syscall(SYS_unshare, 0); }
static void call_execve(void) { char *argv[] = { "true", NULL }; syscall(SYS_execve, "/bin/true", argv, argv + 1); }
#ifndef CRISP_SANITIZE
static void call_ptrace(void) { syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }
#endif
static void call_setuid(void) { syscall(SYS_setuid, NOBODY_UID); }
static void call_mount(void) { syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL); }
static void call_setns(void) { syscall(SYS_setns, 0, 0); }
/* prctl is allowed for PR_SET_NAME/PR_GET_NAME only */
static void call_prctl_name(void) { if (prctl(PR_SET_NAME, "crisp-test") < 0) _exit(103); }
static void call_prctl_other(void) { prctl(PR_SET_CHILD_SUBREAPER, 1); }

static void *thread_unshare(void *p) { (void)p; call_unshare(); return NULL; }

/* A call made by a thread that started after the drop kills the whole process. */
static void call_unshare_in_thread(void)
{
	pthread_t th;
	if (pthread_create(&th, NULL, thread_unshare, NULL) != 0)
		_exit(102);
	pthread_join(th, NULL);
}

TEST(privdrop_seccomp_kills_outside_allowlist)
{
	if (!need_root())
		return;
	int st = run_dropped(call_allowed);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_dropped(call_prctl_name);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	void (*const forbidden[])(void) = {
		call_unshare, call_execve, call_setuid, call_mount, call_setns,
		call_unshare_in_thread, call_prctl_other,
#ifndef CRISP_SANITIZE
		call_ptrace,    /* LeakSanitizer's tracer needs it there */
#endif
	};
	for (size_t i = 0; i < sizeof forbidden / sizeof *forbidden; i++) {
		st = run_dropped(forbidden[i]);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fprintf(stderr, "  forbidden call %zu: status 0x%x\n", i, st);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	}
}

/* Early thread created before the drop: the filter reaches it (TSYNC). */
static void *early_unshare(void *p)
{
	int *go = p;
	char c;
	if (read(go[0], &c, 1) == 1)
		call_unshare();
	return NULL;
}

TEST(privdrop_seccomp_reaches_early_thread)
{
	if (!need_root())
		return;
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int go[2];
		pthread_t th;
		if (pipe2(go, O_CLOEXEC) < 0 || pthread_create(&th, NULL, early_unshare, go) != 0)
			_exit(100);
		struct privdrop pd = nobody_profile();
		if (privdrop_apply(&pd, NULL) < 0)
			_exit(101);
		if (write(go[1], "x", 1) != 1)
			_exit(102);
		pthread_join(th, NULL);
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
}

static int tcp_try(bool do_bind)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* port 1 on loopback: nothing listens there */
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(do_bind ? 0 : 1) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int r = do_bind ? bind(fd, (struct sockaddr *)&a, sizeof a) : connect(fd, (struct sockaddr *)&a, sizeof a);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}

TEST(privdrop_landlock_paths_tcp_and_signals)
{
	if (!need_root())
		return;
	int abi = landlock_abi();
	if (abi <= 0) {
		fprintf(stderr, "  skipped: no Landlock in this kernel\n");
		return;
	}
	char in[512], out[512], file_in[600], missing[600];
	snprintf(in, sizeof in, "%s/in", unit_tmpdir());
	snprintf(out, sizeof out, "%s/out.txt", unit_tmpdir());
	snprintf(file_in, sizeof file_in, "%s/new.txt", in);
	snprintf(missing, sizeof missing, "%s/does-not-exist", unit_tmpdir());
	CHECK(mkdir(in, 0755) == 0);
	int fd = open(out, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	close(fd);

	const char *const rw[] = { in, missing, NULL };
	struct privdrop pd = {
		.no_new_privs = true, .landlock = true, .landlock_rw = rw,
		.landlock_tcp_connect = true,
	};
	const char *step = NULL;
	int r = privdrop_apply(&pd, &step);
	if (r < 0)
		fprintf(stderr, "  step %s: %s\n", step, strerror(-r));
	CHECK(r == 0);

	fd = open(file_in, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, "ok", 2) == 2);
	close(fd);
	CHECK(open(out, O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
	CHECK(open("/etc/passwd", O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
	if (abi >= 4) {
		CHECK(tcp_try(true) == -EACCES);           /* bind: handled, no rule */
		CHECK(tcp_try(false) == -ECONNREFUSED);    /* connect: left alone */
	}
	if (abi >= 6)
		CHECK(kill(getppid(), 0) < 0 && errno == EPERM);
}

TEST(privdrop_landlock_tcp_connect_denied)
{
	if (!need_root())
		return;
	if (landlock_abi() < 4) {
		fprintf(stderr, "  skipped: Landlock ABI < 4\n");
		return;
	}
	CHECK(tcp_try(false) == -ECONNREFUSED);
	struct privdrop pd = { .no_new_privs = true, .landlock = true, .landlock_tcp_bind = true };
	CHECK_RC(privdrop_apply(&pd, NULL));
	CHECK(tcp_try(false) == -EACCES);
	CHECK(tcp_try(true) == 0);
}

TEST(privdrop_keep_caps_as_root)
{
	if (!need_root())
		return;
	struct privdrop pd = { .keep_caps = PRIVDROP_CAP(CAP_CHOWN) };
	CHECK_RC(privdrop_apply(&pd, NULL));
	struct status s;
	CHECK_RC(status_read("/proc/self/status", &s));
	CHECK(s.uid[0] == 0 && s.uid[1] == 0);
	CHECK(s.cap_eff == UINT64_C(1) && s.cap_prm == UINT64_C(1));
	CHECK(s.cap_bnd == UINT64_C(1));
	CHECK(s.cap_inh == 0 && s.cap_amb == 0 && s.nnp == 0 && s.seccomp == 0);

	/* a second drop cannot get back what the first gave up */
	const char *step = NULL;
	pd.keep_caps |= PRIVDROP_CAP(CAP_KILL);
	CHECK(privdrop_apply(&pd, &step) == -EPERM);
	CHECK(step && strcmp(step, "capabilities") == 0);
}

TEST(privdrop_keep_caps_across_uid_change)
{
	if (!need_root())
		return;
	uint64_t keep = PRIVDROP_CAP(CAP_NET_BIND_SERVICE) | PRIVDROP_CAP(CAP_SETGID);
	struct privdrop pd = { .user = "nobody", .keep_caps = keep, .no_new_privs = true,
			       .pdeathsig = SIGTERM };
	CHECK(prctl(PR_SET_PDEATHSIG, 0) == 0);
	CHECK_RC(privdrop_apply(&pd, NULL));
	struct status s;
	CHECK_RC(status_read("/proc/self/status", &s));
	CHECK(s.uid[0] == NOBODY_UID && s.uid[1] == NOBODY_UID && s.uid[2] == NOBODY_UID);
	CHECK(s.cap_eff == keep && s.cap_prm == keep && s.cap_bnd == keep);
	CHECK(s.cap_inh == 0 && s.cap_amb == 0 && s.nnp == 1);
	CHECK(prctl(PR_GET_KEEPCAPS) == 0);
	/* the uid change cleared the parent-death signal; privdrop re-armed it */
	int sig = 0;
	CHECK(prctl(PR_GET_PDEATHSIG, &sig) == 0 && sig == SIGTERM);
	/* root is gone for good: CAP_SETUID was not kept */
	CHECK(setresuid(0, 0, 0) < 0 && errno == EPERM);
}

TEST(privdrop_keep_all_caps)
{
	if (!need_root())
		return;
	struct status before, after;
	CHECK_RC(status_read("/proc/self/status", &before));
	CHECK(prctl(PR_SET_PDEATHSIG, 0) == 0);
	struct privdrop pd = { .keep_all_caps = true, .pdeathsig = SIGKILL, .no_new_privs = true };
	CHECK_RC(privdrop_apply(&pd, NULL));
	CHECK_RC(status_read("/proc/self/status", &after));
	CHECK(after.cap_eff == before.cap_eff && after.cap_bnd == before.cap_bnd);
	CHECK(after.nnp == 0 && after.seccomp == 0);
	int sig = 0;
	CHECK(prctl(PR_GET_PDEATHSIG, &sig) == 0 && sig == SIGKILL);

	const char *step = NULL;
	pd.user = "nobody";
	CHECK(privdrop_apply(&pd, &step) == -EINVAL);
	CHECK(step && strcmp(step, "profile") == 0);
}

TEST(privdrop_failing_step_is_named)
{
	if (!need_root())
		return;
	uid_t uid = 7;
	gid_t gid = 7;
	CHECK_RC(privdrop_user_lookup("nobody", &uid, &gid));
	CHECK(uid == NOBODY_UID && gid == NOBODY_UID);
	CHECK(privdrop_user_lookup("crisp-no-such-user-42", &uid, &gid) == -ENOENT);
	CHECK(uid == NOBODY_UID);       /* untouched on failure */

	const char *step = NULL;
	struct privdrop pd = { .user = "crisp-no-such-user-42" };
	CHECK(privdrop_apply(&pd, &step) == -ENOENT);
	CHECK(step && strcmp(step, "user") == 0);
	CHECK(getuid() == 0);

	/* all caps gone (CAP_SYS_ADMIN too) and no no_new_privs: Landlock
	 * refuses */
	step = NULL;
	pd = (struct privdrop){ .landlock = true };
	int r = privdrop_apply(&pd, &step);
	if (landlock_abi() > 0)
		CHECK(r == -EPERM && step && strcmp(step, "landlock") == 0);

	static const char *const typo[] = { "read", "wirte", NULL };
	step = NULL;
	pd = (struct privdrop){ .no_new_privs = true, .seccomp = typo };
	CHECK(privdrop_apply(&pd, &step) == -EINVAL);
	CHECK(step && strcmp(step, "seccomp") == 0);
	static const char *const bad_args[] = { "prctl:6=1", "prctl:0=", "prctl:0=x",
						"prctl:0", "prctl0=1", ":0=1" };
	for (size_t i = 0; i < sizeof bad_args / sizeof *bad_args; i++) {
		const char *one[] = { "read", bad_args[i], NULL };
		const char *bad = NULL;
		CHECK(seccomp_allowlist_load(one, &bad) == -EINVAL);
		CHECK(bad == one[1]);
	}

	/* root without CAP_SETUID cannot become somebody else */
	step = NULL;
	pd = (struct privdrop){ .user = "nobody" };
	r = privdrop_apply(&pd, &step);
	CHECK(r == -EPERM && step && strcmp(step, "setgroups") == 0);
}

/* name is in list, with or without an argument pinned (exact: without) */
static bool listed(const char *const *list, const char *name, bool exact)
{
	char n[64];
	for (size_t i = 0; list[i]; i++)
		if (!strcmp(list[i], name) ||
		    (!exact && seccomp_entry_name(list[i], n, sizeof n) == 0 && !strcmp(n, name)))
			return true;
	return false;
}

TEST(privdrop_syscall_lists)
{
	static const char *const never[] = {
		"execve", "execveat", "mount", "umount2", "pivot_root", "chroot",
		"setns", "unshare", "bpf", "init_module", "finit_module",
		"delete_module", "kexec_load", "kexec_file_load", "keyctl",
		"add_key", "request_key", "setuid", "setgid", "setreuid", "setregid",
		"setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
		"capset", "seccomp", "reboot", "swapon", "swapoff",
		"perf_event_open", "process_vm_readv", "process_vm_writev", "kcmp",
		"userfaultfd", "open_by_handle_at", "iopl", "ioperm", "personality",
		"acct", "settimeofday", "clock_settime", "adjtimex", "syslog",
		"quotactl", "fsopen", "fsmount", "move_mount", "open_tree",
		"mount_setattr", "pidfd_getfd", "kill", "tkill", "pidfd_send_signal",
#ifndef CRISP_SANITIZE
		"ptrace",
#endif
		NULL
	};
	const char *const *lists[] = { syscalls_criserver(), syscalls_streamd(), syscalls_imaged() };
	for (size_t l = 0; l < 3; l++) {
		const char *const *list = lists[l];
		size_t n = 0;
		for (; list[n]; n++) {
			char name[64];
			CHECK_RC(seccomp_entry_name(list[n], name, sizeof name));
			if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
				fprintf(stderr, "  list %zu: unknown syscall %s\n", l, list[n]);
			CHECK(seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR);
			for (size_t j = 0; j < n; j++)
				CHECK(strcmp(list[j], list[n]) != 0);
		}
		CHECK(n > 50 && n < 400);
		for (size_t i = 0; never[i]; i++) {
			if (listed(list, never[i], false))
				fprintf(stderr, "  list %zu allows %s\n", l, never[i]);
			CHECK(!listed(list, never[i], false));
		}
		/* these two only ever with their argument pinned */
		CHECK(!listed(list, "prctl", true) && !listed(list, "ioctl", true));
	}
}
