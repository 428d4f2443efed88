/*
 * conmon: the per-container monitor, and the runner of one ExecSync. The
 * contract with sandboxd (command line, files, sync line, exit file, exec
 * result, control and attach sockets) is conmon.h; the files:
 *   args.c       the command line          container.c  container mode's steps
 *   runtime.c    runc create / exec        monitor.c    container mode's loop
 *   stdio.c      pipes and the pty         exec.c       exec mode
 *   k8s_log.c    the CRI log format        kill.c       exec mode's kills
 *   exit_file.c  DIR/exit                  confine.c    the privilege drop
 *   attach.c     the attach socket         syscalls.c   its seccomp lists
 *   ctl.c        the control socket        sock.c       socket paths in --dir
 *   oom.c        the cgroup OOM counter
 * main only checks the process's fds, parses the line and picks the mode.
 * C only, no threads, no stdio streams.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "conmon/args.h"
#include "conmon/container.h"
#include "conmon/exec.h"

static const char usage[] =
	"usage: conmon --runtime PATH --runtime-root DIR [--systemd-cgroup] --id ID\n"
	"              --bundle DIR --dir DIR --log-path FILE [--log-max-line BYTES]\n"
	"              [--terminal] [--stdin] [--stdin-once] [--oom-file FILE] --sync-fd N\n"
	"       conmon --exec --runtime PATH --runtime-root DIR [--systemd-cgroup] --id ID\n"
	"              --timeout-ms MS [--exec-cgroup SPEC --exec-procs FILE]\n"
	"              --result-fd N -- CMD [ARG...]\n";

/* fds 0..2 open (runc's stdio is dup2'd there in its child, so conmon's own
 * fds must never be 0..2), every other inherited fd O_CLOEXEC (neither
 * runc nor the container gets sandboxd's fds, the sync fd included). */
static int fds_sane(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open("/dev/null", O_RDWR | O_NOCTTY);
		if (n < 0)
			return -errno;
		if (n != fd)
			return -EBADF;
	}
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static bool fd_open(int fd)
{
	return fd >= 3 && fcntl(fd, F_GETFD) >= 0;
}

int main(int argc, char **argv)
{
	log_init("conmon", LOG_INFO);
	int r = fds_sane();
	if (r < 0)
		return log_error_errno(r, "stdio: %m"), 1;
	struct conmon_args a;
	const char *bad = "";
	if (conmon_args_parse(argc, argv, &a, &bad) < 0) {
		log_error("bad command line: %s", bad);
		if (write(STDERR_FILENO, usage, sizeof usage - 1) < 0)
			return 2;
		return 2;
	}
	int fd = a.mode == CONMON_MODE_EXEC ? a.result_fd : a.sync_fd;
	if (!fd_open(fd)) {
		log_error("%s %d is not an open fd above 2",
			  a.mode == CONMON_MODE_EXEC ? "--result-fd" : "--sync-fd", fd);
		return 2;
	}
	/* writes to a gone reader (sync fd, stdin pipe, result fd) fail with
	 * EPIPE instead; the runtime gets the default back (runtime.c) */
	signal(SIGPIPE, SIG_IGN);
	return a.mode == CONMON_MODE_EXEC ? conmon_exec_main(&a) : conmon_container_main(&a);
}
