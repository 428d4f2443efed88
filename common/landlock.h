/*
 * landlock: restrict the calling thread (and every process it later starts)
 * to a few path hierarchies, with the raw Landlock system calls. Owns the
 * ABI detection and the mapping from "read-only / executable / read-write"
 * to the access rights each ABI version knows; knows nothing about which
 * daemon wants which paths (that is the daemon's struct privdrop).
 * Never logs; returns negative errno. Never weakens a rule to make it fit:
 * a path that exists but cannot be opened is an error.
 */
#pragma once
#include <stdbool.h>

struct landlock_rules {
	const char *const *rw;          /* NULL-terminated, may be NULL */
	const char *const *ro;
	const char *const *exec;
	bool tcp_bind;                  /* leave TCP bind(2) unrestricted */
	bool tcp_connect;               /* leave TCP connect(2) unrestricted */
	bool no_scope;                  /* leave signals and abstract UNIX sockets unscoped */
};

/* Landlock ABI version the kernel offers (0 if none or disabled). */
int landlock_abi(void);

/*
 * Enforce the rules on the calling thread: every filesystem right the ABI
 * knows is denied except beneath the listed paths (paths that do not exist
 * are skipped); TCP bind/connect (ABI >= 4) are denied unless the flags say
 * otherwise; signals to, and abstract UNIX sockets of, processes outside the
 * domain are denied (ABI >= 6) unless no_scope. Needs no_new_privs or
 * CAP_SYS_ADMIN.
 * Threads that already exist are NOT restricted (Landlock acts per thread):
 * call it before the process starts threads.
 * Without kernel support it returns 0 and restricts nothing: the caller
 * learns that from landlock_abi() == 0.
 */
int landlock_restrict(const struct landlock_rules *r);
