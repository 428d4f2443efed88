/*
 * runtime: running the OCI runtime (runc): `create` for a container and
 * `exec --detach` for an ExecSync, with the stdio conmon hands it, and
 * reading runc's own error from its --log. Owns the argument vectors and
 * the fork+exec; the child gets fds 0, 1, 2 as given (every other fd of
 * conmon is O_CLOEXEC), an empty signal mask and default dispositions.
 * Never waits for the child (the caller reaps it) and never logs.
 */
#pragma once
#include <stddef.h>
#include <sys/types.h>

#include "conmon/args.h"

#define CONMON_RUNTIME_ERROR_MAX 4096   /* the "error TEXT" of the sync line */

/* fork + exec argv[0] (a path) with stdio[0..2] as fds 0..2. */
int conmon_spawn(char *const argv[], const int stdio[3], pid_t *ret_pid);

/* RUNTIME --root R [--systemd-cgroup] --log LOG --log-format json
 *   create --bundle B --pid-file PID [--console-socket S] ID */
int conmon_runtime_create(const struct conmon_args *a, const int stdio[3], const char *pid_file,
			  const char *console, const char *log_file, pid_t *ret_pid);
/* RUNTIME --root R [--systemd-cgroup] exec --detach --pid-file PID
 *   [--cgroup SPEC] ID CMD ARG... */
int conmon_runtime_exec(const struct conmon_args *a, const int stdio[3], const char *pid_file,
			pid_t *ret_pid);

/* From runc's --log (JSON lines: {"level":"error","msg":"...",...}): the
 * msg of the last error record, else the last line as it is; newlines and
 * other control characters become spaces; at most len - 1 bytes, NUL-ended.
 * Returns its length (0: the log says nothing). Pure. */
size_t conmon_runtime_log_error(const char *log, size_t log_len, char *buf, size_t len);
