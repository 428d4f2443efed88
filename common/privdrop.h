/*
 * privdrop: the one sequence by which a crisp daemon gives up privilege,
 * always in this order:
 *   supplementary groups -> gid -> uid (setgroups/setresgid/setresuid)
 *   -> capabilities (libcap: effective = permitted = keep_caps, bounding set
 *      reduced to keep_caps, inheritable and ambient cleared)
 *   -> PR_SET_PDEATHSIG re-armed (the uid change cleared it), then the
 *      parent checked: if it died meanwhile, -ESRCH
 *   -> no_new_privs -> Landlock (where the kernel has it) -> seccomp
 *      (libseccomp allowlist, default action kills the process, TSYNC so it
 *      holds in every thread).
 * keep_all_caps skips all of it but the pdeathsig re-arm.
 *
 * Call it before the daemon starts any thread. What holds in a thread that
 * already exists: uid/gid/groups (glibc applies set*id to every thread),
 * no_new_privs and the seccomp filter (TSYNC). What does NOT: capabilities
 * (per thread: such a thread keeps its bounding set, and keeps its
 * permitted set too when the uid stays 0) and Landlock (per thread).
 * Returns negative errno; never logs. On failure *ret_step names the step
 * that failed ("user", "setgroups", "setresgid", "setresuid", "capabilities",
 * "pdeathsig", "no_new_privs", "landlock", "seccomp", "profile").
 * In a CRISP_SANITIZE build, /proc/self, the binary and /usr/lib are added
 * to the Landlock read-only paths (the ASan runtime reads /proc/self/maps and
 * symbolizes reports in-process).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PRIVDROP_CAP(c) (UINT64_C(1) << (c))

struct privdrop {
	const char *user;               /* run as this user (and its group); NULL: stay uid 0 */
	bool keep_all_caps;             /* stay fully privileged: skip every later step */
	uint64_t keep_caps;             /* PRIVDROP_CAP(CAP_x) | ... */
	bool no_new_privs;
	bool landlock;                  /* restrict the filesystem to the paths below */
	const char *const *landlock_rw; /* NULL-terminated lists, may be NULL */
	const char *const *landlock_ro;
	const char *const *landlock_exec;
	bool landlock_tcp_bind;         /* may still bind TCP ports (else denied, ABI >= 4) */
	bool landlock_tcp_connect;      /* may still connect over TCP (else denied, ABI >= 4) */
	bool landlock_no_scope;         /* leave signals and abstract unix sockets unscoped
					 * (else scoped to the domain, ABI >= 6): conmon --exec
					 * kills processes it started before its drop */
	const char *const *seccomp;     /* NULL-terminated allowlist (common/seccomp.h:
					 * "name" or "name:N=VALUE"); NULL: no filter */
	int pdeathsig;                  /* re-armed after the drop; 0: none */
};

int privdrop_apply(const struct privdrop *pd, const char **ret_step);

/* The uid and primary gid of user (getpwnam_r); -ENOENT if there is none. */
int privdrop_user_lookup(const char *user, uid_t *ret_uid, gid_t *ret_gid);

/* Landlock ABI version the kernel offers (0 if none). */
int landlock_abi(void);
