/*
 * unpack_confine: the walls around the unpack child, in this order:
 *   1. PR_SET_PDEATHSIG(SIGKILL), no core dumps (a core would land in the
 *      layer, our cwd), small rlimits;
 *   2. unshare(NEWNS | NEWNET | NEWIPC | NEWUTS): no network at all (an
 *      empty netns), no mount leaks;
 *   3. the layer directory becomes "/": "/" made rprivate, the layer dir
 *      bind-mounted on itself and remounted nosuid,nodev,noexec (a device
 *      node in the layer cannot be opened, even by us), then pivot_root and
 *      the old root detached. If mounting is refused with EPERM the parent
 *      is Landlocked (Landlock forbids mount and pivot_root, not chroot):
 *      chdir + chroot then, which holds because step 4 drops CAP_SYS_CHROOT
 *      and step 6 forbids chroot, and no fd outside the layer stays open
 *      but the blob (a regular file: openat on it is ENOTDIR) and the
 *      status pipe;
 *   4. capabilities: exactly these, effective and permitted (inheritable
 *      and ambient cleared; the bounding set too when we hold CAP_SETPCAP):
 *        CAP_CHOWN        entries belong to any uid/gid;
 *        CAP_DAC_OVERRIDE write into directories whose mode or owner would
 *                         deny root-without-capabilities (a 0555 dir, a dir
 *                         of uid 1000 with files in it);
 *        CAP_FOWNER       chmod, utimens, setxattr on files that are no
 *                         longer ours once chowned; linkat to a file of
 *                         another owner under fs.protected_hardlinks=1;
 *        CAP_FSETID       keep setgid on files whose group we are not in;
 *        CAP_MKNOD        device entries and the 0/0 whiteouts;
 *        CAP_SETFCAP      the security.capability xattr (file caps);
 *      and not CAP_SYS_ADMIN: opaque dirs are user.overlay.opaque
 *      (unpack.h says why);
 *   5. no_new_privs;
 *   6. seccomp allowlist, default and bad-arch actions kill the process:
 *      only the calls the unpacking itself makes, and mmap only without
 *      PROT_EXEC (no mprotect at all). That last rule matters in the chroot
 *      case: glibc may look for iconv (gconv) modules under /usr/lib of
 *      whatever is "/", i.e. the layer; whatever it finds can never be
 *      mapped executable. (unpack_child also switches to C.UTF-8 first, so
 *      that libarchive needs no iconv conversion at all.)
 * Both steps are ours, not privdrop_apply's: privdrop shrinks the bounding
 * set unconditionally, which needs CAP_SETPCAP, and imaged (our parent) does
 * not keep it; common/seccomp.c takes names only, no argument rules.
 * Must never: leave the child with a way back to the host filesystem.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "imaged/unpack_int.h"

#define CHILD_NOFILE 64
#define CHILD_AS_MAX (UINT64_C(2) << 30)

/* After confinement: reading the blob, writing the layer, reporting
 * (mmap is added with its PROT_EXEC rule). */
static const char *const child_syscalls[] = {
	"read", "write", "pread64", "pwrite64", "lseek", "close", "fcntl",
	"openat", "openat2", "fstat", "newfstatat", "statx", "getdents64",
	"mkdirat", "mknodat", "symlinkat", "linkat", "unlinkat",
	"fchown", "fchownat", "fchmod", "fchmodat", "utimensat", "fsetxattr",
	"ftruncate",
	"brk", "munmap", "mremap", "madvise",
	"exit", "exit_group", "rt_sigreturn",
#ifdef CRISP_SANITIZE
	"sigaltstack", "mincore", "rt_sigprocmask", "rt_sigaction", "gettid",
	"getpid", "tgkill", "prctl", "readlinkat", "clone", "wait4", "ptrace",
	"sched_yield", "futex", "mprotect",
#endif
	NULL
};

static const cap_value_t child_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, CAP_SETFCAP,
};

static int limits_set(struct unpack_error *err)
{
	struct rlimit zero = { 0, 0 }, nofile = { CHILD_NOFILE, CHILD_NOFILE };
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    setrlimit(RLIMIT_CORE, &zero) < 0 || setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return unpack_fail_errno(err, errno, "child limits");
#ifndef CRISP_SANITIZE  /* ASan reserves terabytes of address space */
	struct rlimit as = { CHILD_AS_MAX, CHILD_AS_MAX };
	if (setrlimit(RLIMIT_AS, &as) < 0)
		return unpack_fail_errno(err, errno, "child address space limit");
#endif
	return 0;
}

static int root_pivot(const char *dir, struct unpack_error *err)
{
	if (mount(dir, dir, NULL, MS_BIND, NULL) < 0)
		return unpack_fail_errno(err, errno, "bind mount of the layer");
	if (mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return unpack_fail_errno(err, errno, "remount of the layer");
	if (chdir(dir) < 0)
		return unpack_fail_errno(err, errno, "chdir to the layer");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return unpack_fail_errno(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return unpack_fail_errno(err, errno, "detaching the old root");
	if (chdir("/") < 0)
		return unpack_fail_errno(err, errno, "chdir /");
	return 0;
}

static int root_chroot(const char *dir, struct unpack_error *err)
{
	if (chdir(dir) < 0)
		return unpack_fail_errno(err, errno, "chdir to the layer");
	if (chroot(".") < 0)
		return unpack_fail_errno(err, errno, "chroot");
	if (chdir("/") < 0)
		return unpack_fail_errno(err, errno, "chdir /");
	return 0;
}

int unpack_confine_root(const char *dir, bool *ret_pivoted, struct unpack_error *err)
{
	struct stat st;
	if (dir[0] != '/' || lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return unpack_fail(err, UNPACK_ERR_SYSTEM, ENOTDIR,
				   "layer dir %.100s is not an absolute path to a directory", dir);
	int r = limits_set(err);
	if (r < 0)
		return r;
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		return unpack_fail_errno(err, errno, "unshare");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) {
		*ret_pivoted = true;
		return root_pivot(dir, err);
	}
	if (errno != EPERM)
		return unpack_fail_errno(err, errno, "making / private");
	*ret_pivoted = false;
	return root_chroot(dir, err);
}

static int caps_set(struct unpack_error *err)
{
	const size_t n = sizeof child_caps / sizeof child_caps[0];
	if (CAP_IS_SUPPORTED(CAP_SETPCAP)) {
		cap_t cur = cap_get_proc();
		cap_flag_value_t have = CAP_CLEAR;
		if (cur)
			cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &have);
		cap_free(cur);
		for (cap_value_t v = 0; have == CAP_SET && v <= CAP_LAST_CAP; v++) {
			bool keep = false;
			for (size_t i = 0; i < n; i++)
				keep |= child_caps[i] == v;
			if (!keep && cap_get_bound(v) > 0 && cap_drop_bound(v) < 0)
				return unpack_fail_errno(err, errno, "dropping bounding cap %d", v);
		}
	}
	if (cap_reset_ambient() < 0)
		return unpack_fail_errno(err, errno, "clearing ambient caps");
	cap_t c = cap_init();
	if (!c)
		return unpack_fail_errno(err, errno, "cap_init");
	int r = 0;
	if (cap_set_flag(c, CAP_PERMITTED, (int)n, child_caps, CAP_SET) < 0 ||
	    cap_set_flag(c, CAP_EFFECTIVE, (int)n, child_caps, CAP_SET) < 0 ||
	    cap_set_proc(c) < 0)
		r = unpack_fail_errno(err, errno, "setting the child's capabilities");
	cap_free(c);
	return r;
}

static int seccomp_load_child(const char **ret_bad)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);     /* ours, above */
	for (size_t i = 0; r == 0 && child_syscalls[i]; i++) {
		int nr = seccomp_syscall_resolve_name(child_syscalls[i]);
		*ret_bad = child_syscalls[i];
		r = nr == __NR_SCMP_ERROR ? -EINVAL : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	if (r == 0) {
		*ret_bad = "mmap";
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	}
	if (r == 0) {
		*ret_bad = "load";
		r = seccomp_load(ctx);
	}
	seccomp_release(ctx);
	return r;
}

int unpack_confine_sandbox(struct unpack_error *err)
{
	int r = caps_set(err);
	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return unpack_fail_errno(err, errno, "no_new_privs");
	const char *bad = NULL;
	r = seccomp_load_child(&bad);
	if (r < 0)
		return unpack_fail_errno(err, r, "seccomp (%s)", bad ? bad : "?");
	return 0;
}
