/*
 * container: container mode from start to exit (conmon.h, "container
 * mode"): leave sandboxd's process tree, become the child subreaper, write
 * DIR/conmon.pid, make the stdio and the sockets, run `runc create`, drop
 * privileges, answer on the sync fd, monitor, write DIR/exit. Owns the
 * order of these steps and the sync line; the steps themselves are the
 * other files'. Never starts the container (`runc start` is sandboxd's),
 * never stops or removes it.
 */
#pragma once

#include "conmon/args.h"

/* Returns the process exit code: in the parent 0 once the monitor exists;
 * in the monitor 0 after the exit file is written, 1 on failure. */
int conmon_container_main(const struct conmon_args *a);
