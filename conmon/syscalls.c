/*
 * syscalls: conmon's seccomp allowlists (see syscalls.h). Owns the names
 * only; the filter is common/seccomp.c (default action: kill the process).
 * Must never list a call that starts programs, changes credentials or the
 * sandbox, or reaches into other processes or the kernel's configuration:
 * no execve, fork/clone, ptrace, mount, setns, unshare, set*id, capset,
 * prctl, seccomp, bpf; ioctl only the pty's two, kill only SIGKILL and only
 * in exec mode. conmon is single-threaded and starts nothing after its drop
 * (the runtime was forked before it). (The sanitizer build's runtime needs
 * clone, ptrace and prctl for LeakSanitizer: that build only.)
 *
 * Derivation: glibc 2.36 on x86_64. The lists were read off strace, run as
 * conmon itself through the integration tests (every scenario of
 * tests/integration/test_conmon.py: output and exit, partial and long
 * lines, log reopen by ctl and SIGUSR1, a pty with resize and ^D, attach
 * with stdin and a slow client, OOM; exec with output, a timeout with and
 * without a sub-cgroup, the output cap), with
 *   CRISP_CONMON=WRAPPER pytest tests/integration/test_conmon.py
 * where WRAPPER is a script running
 *   strace -ff -qq -b execve -o DIR/t build/conmon "$@"
 * (-b execve: runc is left alone once conmon has forked and exec'd it),
 * and counting, per traced conmon, the calls after its successful
 * seccomp(SECCOMP_SET_MODE_FILTER) line. Each entry was then checked against
 * the code that makes it (the comments say which), adding the calls of
 * error paths the tests do not take (unlinkat of a failed exit file,
 * restart_syscall). Names the native architecture lacks are accepted by
 * libseccomp and ignored (common/seccomp.h).
 */
#include <stddef.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#include "conmon/syscalls.h"

#define ARG_(x) #x
#define ARG(x) ARG_(x)

/*
 * What the ASan/UBSan runtime needs after the drop in `make SANITIZE=1`
 * builds only (CRISP_SANITIZE): common/syscalls.c explains most of it
 * (alternate signal stacks, TCGETS on stderr, LeakSanitizer's tracer at
 * exit: clone, getdents, ptrace, wait4, prctl, sched_yield while the
 * process waits for it). conmon's own lists are small, so the tracer's
 * other calls show here too, found from the kernel's seccomp audit lines
 * (dmesg: type=1326 ... syscall=N) while the integration tests ran the
 * sanitizer build: getppid (it watches its parent), open (the sanitizer's
 * own open of /proc/PID/task), exit (it ends as a task, not a group). A
 * tracer killed by the filter leaves the process spinning for ever in
 * sched_yield, waiting for it. The runtime also reads /proc/self/maps
 * (readlink, lseek) and maps its shadow memory (mprotect, madvise);
 * privdrop adds /proc/self to Landlock.
 */
#ifdef CRISP_SANITIZE
#define SYSCALLS_SANITIZE , "sigaltstack", "ioctl:1=" ARG(TCGETS), "getdents", "getdents64", \
	"ptrace", "clone", "exit", "getppid", "sched_yield", "futex", "gettid", "tgkill", "rt_sigaction", \
	"rt_sigprocmask", "mprotect", "madvise", "open", "readlink", \
	"lseek", "sched_getaffinity", "prctl:0=" ARG(PR_GET_DUMPABLE), \
	"prctl:0=" ARG(PR_SET_DUMPABLE), "prctl:0=" ARG(PR_SET_PTRACER), \
	"prctl:0=" ARG(PR_SET_PDEATHSIG)
#else
#define SYSCALLS_SANITIZE
#endif

/* Both modes. */
#define CONMON_BASE                                                     \
	/* the poll loop; reads: pipes, the pty, the signalfd */         \
	"poll", "read", "write", "close",                               \
	/* reaping its children: the container's init and orphans, or   \
	 * the exec'd command and runc */                               \
	"wait4",                                                        \
	/* malloc (k8s_log, the exec output buffers, fs_read_file) */   \
	"brk", "mmap", "munmap", "mremap",                              \
	/* the log's timestamps, the deadline: the vDSO, and this when  \
	 * it falls back to the kernel */                               \
	"clock_gettime",                                                \
	/* log lines (common/log.c), the temp file's name */            \
	"getpid",                                                       \
	/* files opened after the drop: the log (reopen), the exit      \
	 * file, cgroup.procs; fs_read_file sizes what it reads */      \
	"openat", "fstat", "newfstatat",                                \
	/* a poll or nanosleep with a timeout that a stop/continue      \
	 * interrupted resumes through restart_syscall */               \
	"restart_syscall",                                              \
	"exit_group"

static const char *const container[] = {
	CONMON_BASE SYSCALLS_SANITIZE,
	/* the log, many records a writev */
	"writev",
	/* DIR/exit (common/fsutil's atomic write: temp file, fchmod,
	 * fsync, rename; unlink of the temp on failure), and the sockets
	 * removed at the end */
	"fchmod", "fsync", "renameat", "unlinkat",
	/* the OOM counter: one fd, read again from offset 0 */
	"pread64",
	/* the attach and ctl sockets (recv/send are recvfrom/sendto) */
	"accept4", "recvmsg", "recvfrom", "sendmsg", "sendto",
	/* the pty: the ctl resize, and tcgetattr for CLOSE_STDIN's ^D */
	"ioctl:1=" ARG(TIOCSWINSZ),
#ifndef CRISP_SANITIZE  /* there already */
	"ioctl:1=" ARG(TCGETS),
#endif
	NULL
};

static const char *const exec_list[] = {
	CONMON_BASE SYSCALLS_SANITIZE,
	/* the pause between rounds while pids remain */
	"clock_nanosleep", "nanosleep",
	/* SIGKILL and nothing else, to the exec'd processes */
	"kill:1=" ARG(SIGKILL),
	NULL
};

const char *const *conmon_syscalls_container(void)
{
	return container;
}

const char *const *conmon_syscalls_exec(void)
{
	return exec_list;
}
