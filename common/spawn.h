/*
 * spawn: run a program to its end from a multi-threaded daemon (runc's
 * subcommands, CNI plugins), with its output captured, a time limit and a
 * cancel flag. Owns the child from fork to waitpid: the child does only
 * async-signal-safe calls between fork and execve (signal mask and SIGPIPE
 * reset, its own process group, the fds dup'ed in place, every other fd
 * closed by O_CLOEXEC), and is killed (its whole process group, SIGKILL)
 * when the time runs out or the flag is set. Never logs; negative errno.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct spawn_opts {
	const char *const *argv;        /* argv[0] is the program's path */
	const char *const *envp;        /* NULL: PATH=/usr/sbin:/usr/bin:/sbin:/bin only */
	const void *input;              /* written to its stdin (NULL: /dev/null) */
	size_t input_len;
	const int *keep_fds;            /* inherited at the same numbers (>= 3) */
	size_t n_keep;
	int timeout_ms;                 /* <= 0: no limit */
	size_t out_max;                 /* stdout kept up to this (0: discarded) */
	size_t err_max;                 /* stderr kept up to this (0: discarded) */
	const atomic_bool *cancel;      /* may be NULL */
};

struct spawn_result {
	int wait_status;                /* as waitpid gives it */
	char *out;                      /* NUL-terminated, out_len bytes (NULL if discarded) */
	size_t out_len;
	char *err;
	size_t err_len;
	bool out_truncated;             /* printed more than out_max */
	bool err_truncated;
};

/* Run it and wait. -ETIMEDOUT (killed at the time limit) and -ECANCELED
 * (killed for the flag) still fill *ret. Other errors: it did not run. */
int spawn_run(const struct spawn_opts *o, struct spawn_result *ret);
void spawn_result_clear(struct spawn_result *r);
/* 0..255 for an exit, 128 + signal for a kill. */
int spawn_exit_code(int wait_status);
/* "exit status 1", "killed by signal 9": into buf. */
const char *spawn_status_text(int wait_status, char *buf, size_t len);
