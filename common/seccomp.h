/*
 * seccomp: the system call allowlist of the privilege drop, with
 * libseccomp. Owns the filter's shape: default action and bad-architecture
 * action kill the whole process, and the filter is synchronised to every
 * thread (TSYNC). Knows nothing about which daemon needs which calls (that
 * is common/syscalls.c). Never logs; returns negative errno.
 */
#pragma once

/*
 * Load a filter that allows exactly the named system calls (NULL-terminated)
 * in every thread of the process; any other call kills the process with
 * SIGSYS. A name libseccomp does not know is -EINVAL and *ret_bad names it,
 * so a typo fails loudly. Names of calls the native architecture lacks
 * (e.g. "open" on aarch64) are accepted and ignored. Does not set
 * no_new_privs itself: the caller must have (PR_SET_NO_NEW_PRIVS or
 * CAP_SYS_ADMIN), else the load fails with -EACCES.
 */
int seccomp_allowlist_load(const char *const *names, const char **ret_bad);
