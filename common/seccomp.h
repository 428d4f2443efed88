/*
 * seccomp: the system call allowlist of the privilege drop, with
 * libseccomp. Owns the filter's shape: default action and bad-architecture
 * action kill the whole process, and the filter is synchronised to every
 * thread (TSYNC). Knows nothing about which daemon needs which calls (that
 * is common/syscalls.c). Never logs; returns negative errno.
 */
#pragma once
#include <stddef.h>

/*
 * Load a filter that allows exactly the listed system calls (NULL-terminated)
 * in every thread of the process; any other call kills the process with
 * SIGSYS. An entry is a name ("read"), or a name with one argument pinned,
 * "NAME:N=VALUE" (argument N, 0..5, equal to VALUE, decimal or 0x hex):
 * "prctl:0=15" allows prctl(PR_SET_NAME, ...) only. Several entries for one
 * name allow each of them. A name libseccomp does not know, or an entry that
 * does not parse, is -EINVAL and *ret_bad names it, so a typo fails loudly.
 * Names of calls the native architecture lacks (e.g. "open" on aarch64) are
 * accepted and ignored. Does not set no_new_privs itself: the caller must
 * have (PR_SET_NO_NEW_PRIVS or CAP_SYS_ADMIN), else the load fails with
 * -EACCES.
 */
int seccomp_allowlist_load(const char *const *names, const char **ret_bad);

/* The syscall name of an entry (up to ':') into buf; -EINVAL if it does not
 * fit or is empty. For checks of the lists. */
int seccomp_entry_name(const char *entry, char *buf, size_t len);
