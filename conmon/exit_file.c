/*
 * exit_file: see exit_file.h. Never leaves a partial file under the final
 * name (fs_write_file_atomic removes its temp file on failure).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>

#include "common/fsutil.h"
#include "conmon/conmon.h"
#include "conmon/exit_file.h"

#define EXIT_FILE_MAX 128

int conmon_exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

int conmon_exit_format(int st, int64_t finished_ns, bool oom, char *buf, size_t len)
{
	int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	int n = snprintf(buf, len, CONMON_EXIT_FORMAT, conmon_exit_code(st), sig,
			 (long long)finished_ns, oom ? 1 : 0);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int conmon_exit_write(int dirfd, const char *name, int st, int64_t finished_ns, bool oom)
{
	char buf[EXIT_FILE_MAX];
	int n = conmon_exit_format(st, finished_ns, oom, buf, sizeof buf);
	if (n < 0)
		return n;
	return fs_write_file_atomic(dirfd, name, buf, (size_t)n, 0644);
}
