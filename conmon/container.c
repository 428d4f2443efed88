/*
 * container: see container.h. The steps before the sync answer report
 * their failure as "error TEXT" on the sync fd and end the monitor; sandboxd
 * then removes what runc may have made (`runc delete --force`).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "conmon/confine.h"
#include "conmon/container.h"
#include "conmon/exit_file.h"
#include "conmon/monitor.h"
#include "conmon/oom.h"
#include "conmon/runtime.h"

#define SYNC_LINE_MAX (CONMON_RUNTIME_ERROR_MAX + 16)
#define PID_FILE "pid"
#define CONMON_PID_FILE "conmon.pid"
#define RUNTIME_LOG "runtime.log"
#define EXIT_FILE "exit"
#define RUNTIME_LOG_MAX (1024 * 1024)

struct ctr {
	const struct conmon_args *a;
	int sync_fd;
	int dirfd;
	int sigfd;
	int oom_fd;
	uint64_t oom_start;
	bool oom_known;
	struct k8s_log *log;
	struct conmon_stdio io;
	struct conmon_attach attach;
	struct conmon_ctl ctl;
	pid_t init;
};

/* "error TEXT\n" (TEXT at most CONMON_RUNTIME_ERROR_MAX, one line) or
 * "ok PID\n" on the sync fd, which is then closed. */
static void sync_answer(struct ctr *c, const char *fmt, ...)
{
	char line[SYNC_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	if (c->sync_fd >= 0) {
		if (fs_write_all(c->sync_fd, line, (size_t)n) < 0)
			log_warn_errno(-errno, "answering on the sync fd: %m");
		close(c->sync_fd);
		c->sync_fd = -1;
	}
}

/* Log it, answer it, and return 1 (the monitor's exit code). */
static int fail(struct ctr *c, int err, const char *what)
{
	log_error_errno(err, "%s: %m", what);
	sync_answer(c, "error conmon: %s: %s", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* "PID STARTTIME\n": starttime is field 22 of /proc/self/stat */
static int write_conmon_pid(struct ctr *c)
{
	char *stat;
	size_t len;
	int r = fs_read_file(AT_FDCWD, "/proc/self/stat", 4096, &stat, &len);
	if (r < 0)
		return r;
	const char *p = strrchr(stat, ')');
	unsigned long long start = 0;
	r = -EINVAL;
	/* after ") ": field 3 (state) is the first, 22 the 20th */
	if (p && sscanf(p + 2, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
			&start) == 1)
		r = 0;
	free(stat);
	if (r < 0)
		return r;
	char line[64];
	int n = snprintf(line, sizeof line, "%ld %llu\n", (long)getpid(), start);
	return fs_write_file_atomic(c->dirfd, CONMON_PID_FILE, line, (size_t)n, 0644);
}

static int signals_block(struct ctr *c)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	c->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return c->sigfd < 0 ? -errno : 0;
}

static int read_init_pid(struct ctr *c)
{
	char *buf;
	int r = fs_read_file(c->dirfd, PID_FILE, 32, &buf, NULL);
	if (r < 0)
		return r;
	char *end;
	long v = strtol(buf, &end, 10);
	r = v > 1 && v < (1L << 30) && (*end == 0 || *end == '\n') ? 0 : -EINVAL;
	if (r == 0)
		c->init = (pid_t)v;
	free(buf);
	return r;
}

/* Runs runc create and waits for it. On runc's failure answers with its
 * error and returns 1; 0 when the container exists. */
static int runtime_create(struct ctr *c, const char *console)
{
	char pid_file[PATH_MAX], log_file[PATH_MAX];
	if (fs_path_join(pid_file, sizeof pid_file, c->a->dir, PID_FILE) < 0 ||
	    fs_path_join(log_file, sizeof log_file, c->a->dir, RUNTIME_LOG) < 0)
		return fail(c, -ENAMETOOLONG, "--dir");
	unlinkat(c->dirfd, RUNTIME_LOG, 0);
	pid_t pid;
	int r = conmon_runtime_create(c->a, c->io.child, pid_file, console, log_file, &pid);
	if (r < 0)
		return fail(c, r, "starting the runtime");
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return fail(c, -errno, "waiting for the runtime");
	conmon_stdio_child_close(&c->io);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	char *log = NULL, text[CONMON_RUNTIME_ERROR_MAX];
	size_t len = 0;
	text[0] = 0;
	if (fs_read_file(c->dirfd, RUNTIME_LOG, RUNTIME_LOG_MAX, &log, &len) == 0) {
		conmon_runtime_log_error(log, len, text, sizeof text);
		free(log);
	}
	log_error("%s create failed (exit code %d): %s", c->a->runtime, conmon_exit_code(st), text);
	if (text[0])
		sync_answer(c, "error %s", text);
	else
		sync_answer(c, "error %s create: exit code %d", c->a->runtime, conmon_exit_code(st));
	return 1;
}

static void oom_start(struct ctr *c)
{
	if (!c->a->oom_file)
		return;
	int r = conmon_oom_open(c->a->oom_file, &c->oom_fd);
	if (r == 0)
		r = conmon_oom_read(c->oom_fd, &c->oom_start);
	if (r < 0) {
		log_warn_errno(r, "%s: %m (no OOM detection)", c->a->oom_file);
		return;
	}
	c->oom_known = true;
}

static bool oom_seen(struct ctr *c)
{
	uint64_t now;
	if (!c->oom_known)
		return false;
	int r = conmon_oom_read(c->oom_fd, &now);
	if (r < 0) {
		log_warn_errno(r, "%s: %m", c->a->oom_file);
		return false;
	}
	return now > c->oom_start;
}

/* Everything up to the sync answer. 0: the container exists and conmon
 * is confined; else the monitor's exit code (the answer is sent). */
static int setup(struct ctr *c)
{
	const struct conmon_args *a = c->a;
	if (setsid() < 0)
		return fail(c, -errno, "setsid");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return fail(c, -errno, "PR_SET_CHILD_SUBREAPER");
	int r = signals_block(c);
	if (r < 0)
		return fail(c, r, "signalfd");
	r = fs_open_dir(AT_FDCWD, a->dir, 0, 0, &c->dirfd);
	if (r < 0)
		return fail(c, r, "--dir");
	r = write_conmon_pid(c);
	if (r < 0)
		return fail(c, r, "writing conmon.pid");
	r = k8s_log_open(a->log_path, a->log_max_line, &c->log);
	if (r < 0)
		return fail(c, r, "opening --log-path");
	char console[PATH_MAX];
	r = a->terminal ? conmon_stdio_console(a->dir, c->dirfd, console, sizeof console, &c->io)
			: conmon_stdio_pipes(a->stdin_open, &c->io);
	if (r < 0)
		return fail(c, r, a->terminal ? "the console socket" : "the stdio pipes");
	r = conmon_attach_listen(a->dir, c->dirfd, &c->attach);
	if (r < 0)
		return fail(c, r, "the attach socket");
	r = conmon_ctl_listen(a->dir, c->dirfd, &c->ctl);
	if (r < 0)
		return fail(c, r, "the ctl socket");
	r = runtime_create(c, a->terminal ? console : NULL);
	if (r != 0)
		return r;
	if (a->terminal) {
		r = conmon_stdio_console_take(&c->io, c->dirfd, a->stdin_open);
		if (r < 0)
			return fail(c, r, "receiving the pty from the runtime");
	}
	r = read_init_pid(c);
	if (r < 0)
		return fail(c, r, "reading the container's pid file");
	oom_start(c);
	const char *step = "";
	r = conmon_confine_container(a->log_path, a->dir, &step);
	if (r < 0) {
		char what[64];
		snprintf(what, sizeof what, "dropping privileges (%s)", step);
		return fail(c, r, what);
	}
	sync_answer(c, "ok %ld", (long)c->init);
	return 0;
}

static int run(struct ctr *c)
{
	struct conmon_monitor m = {
		.args = c->a, .io = &c->io, .log = c->log, .attach = &c->attach,
		.ctl = &c->ctl, .sigfd = c->sigfd, .init = c->init,
	};
	int st;
	int64_t finished;
	int r = conmon_monitor_run(&m, &st, &finished);
	if (r < 0) {
		log_error_errno(r, "monitor: %m");
		return 1;
	}
	bool oom = oom_seen(c);
	r = conmon_exit_write(c->dirfd, EXIT_FILE, st, finished, oom);
	if (r < 0) {
		log_error_errno(r, "writing %s/%s: %m", c->a->dir, EXIT_FILE);
		return 1;
	}
	return 0;
}

static void cleanup(struct ctr *c)
{
	/* the sockets go with their listener: a late client finds none */
	if (c->attach.listen_fd >= 0)
		unlinkat(c->dirfd, CONMON_ATTACH_SOCK, 0);
	if (c->ctl.listen_fd >= 0)
		unlinkat(c->dirfd, CONMON_CTL_SOCK, 0);
	conmon_attach_close(&c->attach);
	conmon_ctl_close(&c->ctl);
	conmon_stdio_close(&c->io);
	k8s_log_close(c->log);
	if (c->oom_fd >= 0)
		close(c->oom_fd);
	if (c->sigfd >= 0)
		close(c->sigfd);
	if (c->dirfd >= 0)
		close(c->dirfd);
	if (c->sync_fd >= 0)
		close(c->sync_fd);
}

int conmon_container_main(const struct conmon_args *a)
{
	struct ctr c = { .a = a, .sync_fd = a->sync_fd, .dirfd = -1, .sigfd = -1, .oom_fd = -1,
			 .attach = { .listen_fd = -1 }, .ctl = { .listen_fd = -1 },
			 .io = { .child = { -1, -1, -1 }, .in = -1, .out = -1, .err = -1, .pty = -1,
				 .console = -1 } };
	for (int i = 0; i < CONMON_ATTACH_CLIENTS; i++)
		c.attach.c[i].fd = -1;
	for (int i = 0; i < CONMON_CTL_CLIENTS; i++)
		c.ctl.c[i] = -1;
	pid_t pid = fork();
	if (pid < 0)
		return fail(&c, -errno, "fork");
	if (pid > 0)
		return 0;               /* sandboxd reaps us at once; the monitor lives on */
	int code = setup(&c);
	if (code == 0)
		code = run(&c);
	cleanup(&c);
	return code;
}
