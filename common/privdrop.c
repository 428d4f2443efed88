/*
 * privdrop: applies a daemon's struct privdrop in the fixed order of
 * privdrop.h (the order OpenSSH's and OpenBSD's privsep children use: ids,
 * then capabilities, then the kernel sandboxes, the syscall filter last so
 * that the steps before it need no syscalls of their own in the allowlist).
 * Owns the id and capability steps; Landlock and seccomp are in
 * common/landlock.c and common/seccomp.c.
 * Must never report success for a step it did not complete, and never
 * leaves PR_SET_KEEPCAPS set.
 * Capabilities are per thread: the daemon calls this before it creates any
 * thread (glibc's setresuid/setresgid/setgroups do reach every thread).
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/landlock.h"
#include "common/privdrop.h"
#include "common/seccomp.h"

#define PRIVDROP_PW_BUF_MAX (1024 * 1024)
#define PRIVDROP_MAX_PATHS 256

struct ids {
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int n_groups;
};

int privdrop_user_lookup(const char *user, uid_t *ret_uid, gid_t *ret_gid)
{
	size_t size = 4096;
	for (;;) {
		char *buf = malloc(size);
		if (!buf)
			return -ENOMEM;
		struct passwd pw, *res = NULL;
		int e = getpwnam_r(user, &pw, buf, size, &res);
		if (e == 0 && res) {
			*ret_uid = pw.pw_uid;
			*ret_gid = pw.pw_gid;
		}
		free(buf);
		if (e == ERANGE && size < PRIVDROP_PW_BUF_MAX) {
			size *= 2;
			continue;
		}
		return e ? -e : res ? 0 : -ENOENT;
	}
}

static int ids_lookup(const char *user, struct ids *ret)
{
	struct ids ids = { 0 };
	int r = privdrop_user_lookup(user, &ids.uid, &ids.gid);
	if (r < 0)
		return r;
	int n = 0;
	getgrouplist(user, ids.gid, NULL, &n);
	if (n <= 0 || n > NGROUPS_MAX)
		return -E2BIG;
	ids.groups = calloc((size_t)n, sizeof *ids.groups);
	if (!ids.groups)
		return -ENOMEM;
	if (getgrouplist(user, ids.gid, ids.groups, &n) < 0) {
		free(ids.groups);
		return -EAGAIN;         /* the group database changed under us */
	}
	ids.n_groups = n;
	*ret = ids;
	return 0;
}

/* groups -> gid -> uid. KEEPCAPS is set across a uid change so that the
 * capability step can still shrink the bounding set (CAP_SETPCAP). */
static int ids_apply(const char *user, const char **step)
{
	*step = "setgroups";
	if (!user) {
		/* none; already none needs no CAP_SETGID (a second drop) */
		int n = getgroups(0, NULL);
		if (n < 0 || (n > 0 && setgroups(0, NULL) < 0))
			return -errno;
		return 0;
	}
	*step = "user";
	struct ids ids;
	int r = ids_lookup(user, &ids);
	if (r < 0)
		return r;
	*step = "setgroups";
	if (setgroups((size_t)ids.n_groups, ids.groups) < 0)
		goto fail;
	*step = "setresgid";
	if (setresgid(ids.gid, ids.gid, ids.gid) < 0)
		goto fail;
	*step = "setresuid";
	if (ids.uid != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		goto fail;
	if (setresuid(ids.uid, ids.uid, ids.uid) < 0)
		goto fail;
	free(ids.groups);
	return 0;
fail:
	r = -errno;
	free(ids.groups);
	return r;
}

/* Shrink the bounding set to keep; needs CAP_SETPCAP effective. */
static int bound_reduce(uint64_t keep, cap_value_t max)
{
	for (cap_value_t v = 0; v < max; v++) {
		if (v < 64 && (keep & PRIVDROP_CAP(v)))
			continue;
		if (cap_get_bound(v) > 0 && cap_drop_bound(v) < 0)
			return -errno;
	}
	return 0;
}

static int caps_apply(uint64_t keep)
{
	cap_value_t max = cap_max_bits();
	if (max < 64 && (keep >> max) != 0)
		return -EINVAL;
	cap_t c = cap_get_proc();
	if (!c)
		return -errno;
	int r = 0;
	/* a uid change cleared the effective set: raise it to the permitted
	 * set for the bounding set (CAP_SETPCAP) and the ambient reset */
	if (cap_fill(c, CAP_EFFECTIVE, CAP_PERMITTED) < 0 || cap_set_proc(c) < 0)
		goto fail;
	r = bound_reduce(keep, max);
	if (r < 0)
		goto out;
	if (cap_reset_ambient() < 0 || cap_clear(c) < 0)
		goto fail;
	for (cap_value_t v = 0; v < max && v < 64; v++) {
		if (!(keep & PRIVDROP_CAP(v)))
			continue;
		if (cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_SET) < 0 ||
		    cap_set_flag(c, CAP_PERMITTED, 1, &v, CAP_SET) < 0)
			goto fail;
	}
	if (cap_set_proc(c) < 0)
		goto fail;
	goto out;
fail:
	r = -errno;
out:
	cap_free(c);
	return r;
}

static int pdeathsig_rearm(int sig, pid_t ppid)
{
	if (sig == 0)
		return 0;
	if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) < 0)
		return -errno;
	return getppid() == ppid ? 0 : -ESRCH;
}

#ifdef CRISP_SANITIZE
/* What the ASan runtime reads, in the sanitizer build only: /proc/self/maps
 * (at start-up, on a report, and LeakSanitizer's /proc/<pid>/task at exit),
 * and, to symbolize a report in-process, the binary itself (/proc/self/exe
 * resolves to it), the libraries and their debug files under /usr/lib. */
static const char *const sanitize_ro[] = { "/proc/self", "/proc/self/exe", "/usr/lib", NULL };
#define SANITIZE_RO_N (sizeof sanitize_ro / sizeof *sanitize_ro)

/* ro, then sanitize_ro, into buf (PRIVDROP_MAX_PATHS + SANITIZE_RO_N) */
static int sanitize_ro_add(const char *const *ro, const char **buf)
{
	size_t n = 0;
	for (; ro && ro[n]; n++) {
		if (n == PRIVDROP_MAX_PATHS)
			return -E2BIG;
		buf[n] = ro[n];
	}
	for (size_t i = 0; i < SANITIZE_RO_N; i++)
		buf[n + i] = sanitize_ro[i];
	return 0;
}
#endif

static int landlock_apply(const struct privdrop *pd)
{
	struct landlock_rules r = {
		.rw = pd->landlock_rw, .ro = pd->landlock_ro, .exec = pd->landlock_exec,
		.tcp_bind = pd->landlock_tcp_bind, .tcp_connect = pd->landlock_tcp_connect,
		.no_scope = pd->landlock_no_scope,
	};
#ifdef CRISP_SANITIZE
	const char *ro[PRIVDROP_MAX_PATHS + SANITIZE_RO_N];
	int e = sanitize_ro_add(pd->landlock_ro, ro);
	if (e < 0)
		return e;
	r.ro = ro;
#endif
	return landlock_restrict(&r);
}

static int sandbox_apply(const struct privdrop *pd, const char **step)
{
	*step = "no_new_privs";
	if (pd->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	*step = "landlock";
	if (pd->landlock) {
		int r = landlock_apply(pd);
		if (r < 0)
			return r;
	}
	*step = "seccomp";
	if (pd->seccomp)
		return seccomp_allowlist_load(pd->seccomp, NULL);
	return 0;
}

int privdrop_apply(const struct privdrop *pd, const char **ret_step)
{
	pid_t ppid = getppid();
	const char *step = "profile";
	int r = 0;

	if (pd->keep_all_caps) {
		r = -EINVAL;            /* "fully privileged" as another user */
		if (!pd->user) {
			step = "pdeathsig";
			r = pdeathsig_rearm(pd->pdeathsig, ppid);
		}
		goto out;
	}
	r = ids_apply(pd->user, &step);
	if (r == 0) {
		step = "capabilities";
		r = caps_apply(pd->keep_caps);
	}
	/* set by ids_apply across the uid change; cleared whatever happened */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		goto out;
	step = "pdeathsig";
	r = pdeathsig_rearm(pd->pdeathsig, ppid);
	if (r < 0)
		goto out;
	r = sandbox_apply(pd, &step);
out:
	if (r < 0 && ret_step)
		*ret_step = step;
	return r;
}
