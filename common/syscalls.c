/*
 * syscalls: the per-daemon seccomp allowlists (see syscalls.h). Owns the
 * names only; the filter itself is common/seccomp.c. Must never list a call
 * that undoes the sandbox or reaches into other processes or the kernel's
 * configuration (execve, ptrace, mount, setns, unshare, bpf, *_module,
 * kexec_*, keyctl, setuid/setgid and friends, capset, seccomp, reboot ...).
 * imaged's unpack children are started by its spawner, forked before the
 * drop (imaged/unpack_server.h), so no list here needs execve or mount.
 *
 * Derivation: a shared base (glibc 2.36 on x86_64 with threads, our event
 * loop, channel, server and log in common/), plus per-daemon extras for the
 * libraries each links, then checked by running the built daemons under
 * `strace -f -c` through start-up, a request of each kind and shutdown (see
 * the notes at each list). Names the native architecture lacks (the legacy
 * x86_64 "open", "stat", ... on aarch64) are accepted by libseccomp and
 * ignored, so the lists also build for other architectures.
 */
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#include "common/syscalls.h"

/* "prctl:0=" ARG(PR_SET_NAME) is "prctl:0=15": an argument pinned (seccomp.h) */
#define ARG_(x) #x
#define ARG(x) ARG_(x)

/* Everything a crisp daemon does after the drop, whatever it is. */
#define SYSCALLS_BASE                                                   \
	/* memory: malloc, thread stacks, protobuf-c */                 \
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",       \
	/* threads: pthread_create (clone3, falling back to clone),     \
	 * their start (rseq, set_robust_list) and exit, locks.         \
	 * fork is the same call; it is harmless without execve. */     \
	"clone", "clone3", "rseq", "set_robust_list", "futex",          \
	"exit", "exit_group", "gettid", "getpid", "getppid",            \
	"sched_yield", "sched_getaffinity", "nanosleep", "clock_nanosleep", \
	"restart_syscall",                                              \
	/* abort() and raise() */                                       \
	"tgkill",                                                       \
	/* time, when the vDSO falls back to the kernel */              \
	"clock_gettime", "clock_getres", "gettimeofday", "time",        \
	/* signals: the loop's signalfd, pthread's masks */             \
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "signalfd4",  \
	/* fds */                                                       \
	"read", "write", "readv", "writev", "pread64", "pwrite64",      \
	"lseek", "close", "dup", "dup3", "fcntl", "pipe2",              \
	/* files: the daemon's own state below its Landlock paths */    \
	"open", "openat", "stat", "fstat", "lstat", "newfstatat",       \
	"statx", "getdents64", "access", "faccessat", "faccessat2",     \
	"readlink", "readlinkat", "unlink", "unlinkat", "rename",       \
	"renameat", "renameat2", "fsync", "fdatasync", "ftruncate",     \
	"umask", "getcwd",                                              \
	/* the event loop */                                            \
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",      \
	"poll", "ppoll", "eventfd2",                                    \
	"timerfd_create", "timerfd_settime", "timerfd_gettime",         \
	/* the internal channel: AF_UNIX seqpacket, fds passed,         \
	 * SO_PEERCRED; clients reconnect after a peer restarts */      \
	"socket", "connect", "accept4", "sendmsg", "recvmsg",           \
	"sendto", "recvfrom", "shutdown", "getsockopt", "setsockopt",   \
	"getsockname", "getpeername",                                   \
	/* ... and payloads over 60 KiB in a sealed memfd (chan.c) */   \
	"memfd_create",                                                 \
	/* ids (log lines, sqlite), rlimits (sysconf) */                \
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", \
	"prlimit64", "getrlimit", "uname", "sysinfo", "getrandom",      \
	/* thread names: pthread_[sg]etname_np on the calling thread;   \
	 * no other prctl option */                                     \
	"prctl:0=" ARG(PR_SET_NAME), "prctl:0=" ARG(PR_GET_NAME)

/*
 * What the ASan/UBSan runtime (gcc 12's libasan/libubsan) calls after the
 * drop, in `make SANITIZE=1` builds only (CRISP_SANITIZE). Found by running
 * a filtered threaded program through a clean exit, a leak, a heap overflow
 * and a UBSan error, and reading the kernel's seccomp audit lines; each
 * entry below was then removed in turn to see it is needed:
 *   sigaltstack  every thread the runtime sees start gets an alternate
 *                signal stack (to report stack overflows): without it the
 *                first pthread_create kills the process;
 *   ioctl        TCGETS only: on stderr, whether a report is coloured;
 *   getdents, ptrace, wait4
 *                LeakSanitizer at exit: it clones a tracer task (clone is in
 *                the base), which lists /proc/<pid>/task with the old
 *                getdents, attaches to each thread with ptrace and reaps it
 *                with wait4. Without them the tracer dies and the process
 *                spins for ever in sched_yield waiting for it.
 *   prctl        LeakSanitizer makes the process dumpable for its tracer
 *                (PR_GET/SET_DUMPABLE: the uid change made it undumpable),
 *                names the tracer (PR_SET_PTRACER), and the tracer dies with
 *                the process (PR_SET_PDEATHSIG).
 * Landlock: privdrop adds /proc/self, the binary and /usr/lib to the
 * read-only paths in this build (maps, task list, in-process symbolizer).
 */
#ifdef CRISP_SANITIZE
#define SYSCALLS_SANITIZE , "sigaltstack", "ioctl:1=" ARG(TCGETS), "getdents", \
	"ptrace", "wait4", "prctl:0=" ARG(PR_GET_DUMPABLE), "prctl:0=" ARG(PR_SET_DUMPABLE), \
	"prctl:0=" ARG(PR_SET_PTRACER), "prctl:0=" ARG(PR_SET_PDEATHSIG)
#else
#define SYSCALLS_SANITIZE
#endif

/* criserver: grpc core 1.51 (epoll1 poller with eventfd wakeups, poll,
 * executor and timer threads named with prctl, uname for its resolver
 * setup) and absl::Mutex, which under contention reads the waiter's
 * priority (pthread_getschedparam: sched_getparam, sched_getscheduler).
 * The CRI socket is made while root and its connections are handed to grpc
 * as fds, so nothing binds or listens after the drop. Seen under strace -f
 * across the integration tests (start, every CRI call, SIGTERM). */
static const char *const criserver[] = {
	SYSCALLS_BASE SYSCALLS_SANITIZE,
	"sched_getparam", "sched_getscheduler",
	NULL
};

/* streamd: its TCP port is bound before the drop; it accepts, reads and
 * writes HTTP/SPDY/WebSocket streams, and moves bytes between them and the
 * fds sandboxd passes for exec/attach/port-forward. An estimate until the
 * HTTP server exists (so far it only serves its internal socket, all in the
 * base): re-derive it then with scripts/seccomp-trace.py. */
static const char *const streamd[] = {
	SYSCALLS_BASE SYSCALLS_SANITIZE,
	"accept", "splice", "sendfile",
	NULL
};

/* imaged: libcurl and glibc's resolver (DNS over UDP with sendmmsg, a
 * netlink socket bound for AI_ADDRCONFIG, a socketpair to wake the multi
 * handle), OpenSSL, sqlite (fcntl locks, fallocate, fchown of its journal
 * when root), the content store (directories, blobs committed by link,
 * modes and owners of its own directories, its flock). It unpacks nothing
 * itself (its spawner's confined children do), so no fork, exec, mknod,
 * chown of layer files, xattr or utimes here. Seen under strace -f in pulls (good, not found, refused,
 * unresolvable), list, status, fs info and remove. */
static const char *const imaged[] = {
	SYSCALLS_BASE SYSCALLS_SANITIZE,
	"bind", "socketpair", "sendmmsg",
	"mkdir", "mkdirat", "link", "linkat", "fchown", "fchmod", "flock", "fallocate",
	/* a committed layer reaches the disk before the image points at it */
	"syncfs",
	/* glibc's resolver sizes a DNS answer before reading it */
	"ioctl:1=" ARG(FIONREAD),
#ifndef CRISP_SANITIZE  /* there already */
	/* reaping its unpack spawner when it stops */
	"wait4",
#endif
	NULL
};

const char *const *syscalls_criserver(void)
{
	return criserver;
}

const char *const *syscalls_streamd(void)
{
	return streamd;
}

const char *const *syscalls_imaged(void)
{
	return imaged;
}
