/*
 * privdrop: the one sequence by which a crisp daemon gives up privilege,
 * always in this order:
 *   supplementary groups -> gid -> uid (setgroups/setresgid/setresuid)
 *   -> capabilities (libcap: effective = permitted = keep_caps, bounding set
 *      reduced to keep_caps, inheritable and ambient cleared)
 *   -> no_new_privs -> Landlock (where the kernel has it) -> seccomp
 *      (libseccomp allowlist, default action kills the process, TSYNC so it
 *      holds in every thread).
 * Run it before the daemon starts threads where it can (capabilities are
 * per thread). It re-arms PR_SET_PDEATHSIG afterwards (a uid change clears
 * it) when the daemon is supervised.
 * Returns negative errno; never logs (ret_err says which step failed).
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
	const char *const *seccomp;     /* NULL-terminated syscall names; NULL: no filter */
	int pdeathsig;                  /* re-armed after the drop; 0: none */
};

int privdrop_apply(const struct privdrop *pd, const char **ret_step);

/* Landlock ABI version the kernel offers (0 if none). */
int landlock_abi(void);
