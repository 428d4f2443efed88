/*
 * exec: exec mode, one ExecSync (conmon.h, "exec mode"). conmon stays in
 * sandboxd's process tree; it becomes a child subreaper and runs
 * `runc exec --detach --pid-file P` with /dev/null and two pipes as the
 * command's stdio, so that once runc has started it and exited the command
 * is conmon's own child. Then it drops privileges (keeping CAP_KILL,
 * confine.h), collects both outputs up to CONMON_EXEC_OUTPUT_MAX together,
 * and when the command exits reads what the pipes still hold (a background
 * child may keep them open: conmon does not wait for their EOF) and writes
 * the result. Its deadline runs from its start: when it passes, or when the
 * output outgrows the cap, every process the command started is SIGKILLed
 * (kill.h) and the answer is -ETIMEDOUT or -EFBIG with exit code 137.
 * If runc exec itself fails the command never ran: -ENOEXEC, runc's exit
 * code, and runc's message in stderr. Owns the result fd's one message;
 * never writes anywhere else but the pid file's temporary directory.
 */
#pragma once

#include "conmon/args.h"

/* The process exit code: 0 once the result is written, 1 if it could not be. */
int conmon_exec_main(const struct conmon_args *a);
