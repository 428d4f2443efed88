/*
 * exit_file: the container's exit status, CONMON_EXIT_FORMAT (conmon.h):
 *   code=N         the exit code; 128 + signal when a signal killed it
 *   signal=N       that signal, 0 when it exited by itself
 *   finished_ns=N  when conmon reaped it, ns since the epoch (CLOCK_REALTIME)
 *   oom=0|1        1 when the container's cgroup saw an OOM kill meanwhile
 * written atomically (common/fsutil: a temp file beside it, fsync, rename),
 * so a reader sees no file or the whole status. Never writes it twice on
 * its own: the caller decides when.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The exit code of a waitpid status: WEXITSTATUS, or 128 + the signal. */
int conmon_exit_code(int wait_status);
/* The file's content into buf; returns its length, or -ENOSPC. */
int conmon_exit_format(int wait_status, int64_t finished_ns, bool oom, char *buf, size_t len);
/* Write it as name in the directory dirfd, mode 0644. */
int conmon_exit_write(int dirfd, const char *name, int wait_status, int64_t finished_ns,
		      bool oom);
