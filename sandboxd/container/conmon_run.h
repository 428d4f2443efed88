/*
 * conmon_run: start a container's conmon and wait for `runc create` (see
 * conmon_run.c and conmon/conmon.h). Never logs.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/error.h"
#include "sandboxd/runtime/runc.h"
#include "sandboxd/sbx.h"

struct conmon_args {
	const struct runc *rt;
	const char *id;
	const char *bundle;             /* the dir with config.json */
	const char *dir;                /* RUNROOT/containers/<id> */
	const char *log_path;
	const char *oom_file;           /* NULL: no OOM watch */
	bool tty, stdin_open, stdin_once;
};

/* fork and exec conmon with argv (argv[0] its path): stdin and stdout
 * /dev/null, stderr ours (its log lines join sandboxd's), keep_fd passed at
 * its own number, a clean signal mask and environment. Only async-signal-
 * safe calls in the child. */
int conmon_fork(const char *const *argv, int keep_fd, pid_t *ret_pid);
/* *ret_pid: the container's init; *ret_conmon, *ret_conmon_start: the
 * monitor (start 0 when it is already gone). */
int conmon_run(const struct sbx *s, const struct conmon_args *a, pid_t *ret_pid,
	       pid_t *ret_conmon, uint64_t *ret_conmon_start, struct crisp_error *err);
