/*
 * supervise: crisp-up's children (crisp-up/crisp_up.h). Owns one record per
 * daemon of proc_table(): its pid, its restart timer and back-off. Starts
 * them in table order; when one dies, logs how and starts it again after a
 * back-off (100 ms doubling to 5 s, back to 100 ms once a run lasted 10 s);
 * the other daemons reconnect by themselves. On SIGTERM/SIGINT, stops them
 * in reverse table order, one after the other, each with SIGTERM and, if it
 * is still there 10 s later, SIGKILL; then quits the loop with 0. Never signals a pid it has
 * reaped, and never restarts anything once stopping.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/log.h"
#include "common/proc.h"
#include "crisp-up/crisp_up.h"
#include "crisp.pb-c.h"

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u
#define STABLE_RUN_MS 10000u
#define STOP_GRACE_MS 10000u
#define SUPERVISE_MAX 8

struct child {
	struct supervisor *sup;
	const struct proc_desc *desc;
	char path[PATH_MAX];
	char **argv;                    /* name, the config's flags, NULL */
	pid_t pid;                      /* 0: not running */
	uint64_t started_ms;
	unsigned backoff_ms;
	struct loop_source *restart;    /* a pending restart */
	bool exec_failed;               /* this pid never became the daemon */
	bool missing;                   /* the binary was missing last time */
	bool term_sent;
};

struct supervisor {
	struct loop *loop;
	const struct crisp_config *cfg;
	char **flags;                   /* config_to_argv, strings owned by the config */
	int devnull;
	bool stopping;
	struct loop_source *kill_timer;
	struct child children[SUPERVISE_MAX];
	size_t n;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void schedule_restart(struct child *c);

/* Start c now; on failure, try again after the back-off. */
static void child_start(struct child *c)
{
	int r = fs_check_executable(AT_FDCWD, c->path);
	if (r < 0) {
		if (!c->missing)
			log_error_errno(r, "%s: cannot run %s: %m (will keep trying)",
					c->desc->name, c->path);
		c->missing = true;
		schedule_restart(c);
		return;
	}
	if (c->missing)
		log_info("%s: %s is there now", c->desc->name, c->path);
	c->missing = false;
	c->exec_failed = false;
	c->term_sent = false;
	pid_t pid = 0;
	r = spawn_daemon(c->path, c->argv, c->sup->devnull, &pid);
	c->pid = pid;                   /* even a failed exec leaves a child to reap */
	c->started_ms = now_ms();
	if (r < 0 && pid > 0) {
		c->exec_failed = true;
		log_error_errno(r, "%s: exec %s: %m", c->desc->name, c->path);
	} else if (r < 0) {
		log_error_errno(r, "%s: fork: %m", c->desc->name);
		schedule_restart(c);
	} else {
		log_info("%s: started, pid %ld", c->desc->name, (long)pid);
	}
}

static int on_restart_timer(struct loop *l, void *data)
{
	struct child *c = data;
	c->restart = NULL;
	if (!c->sup->stopping && c->pid == 0)
		child_start(c);
	return -1;                      /* one-shot: remove this source */
}

static void schedule_restart(struct child *c)
{
	unsigned delay = c->backoff_ms;
	c->backoff_ms = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	if (!c->missing)
		log_info("%s: restarting in %u ms", c->desc->name, delay);
	int r = loop_add_timer(c->sup->loop, delay, 0, on_restart_timer, c, &c->restart);
	if (r < 0) {
		c->restart = NULL;
		log_error_errno(r, "%s: cannot schedule a restart: %m", c->desc->name);
	}
}

static void log_exit(const struct child *c, int status, uint64_t ran_ms)
{
	const char *name = c->desc->name;
	long pid = (long)c->pid;
	int level = c->sup->stopping ? LOG_INFO : LOG_WARN;
	if (WIFEXITED(status)) {
		log_msg(level, "%s (pid %ld) exited with status %d after %llu ms", name, pid,
			WEXITSTATUS(status), (unsigned long long)ran_ms);
	} else if (WIFSIGNALED(status)) {
		const char *sig = sigabbrev_np(WTERMSIG(status));
		log_msg(level, "%s (pid %ld) killed by signal %d (SIG%s)%s after %llu ms", name, pid,
			WTERMSIG(status), sig ? sig : "?", WCOREDUMP(status) ? ", core dumped" : "",
			(unsigned long long)ran_ms);
	}
}

static void unlink_socket(const char *name, const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn_errno(-errno, "%s: unlink %s: %m", name, path);
	else
		log_debug("%s: removed %s", name, path);
}

/* On the way out: the socket files that c left behind. The daemons that
 * run confined (criserver, streamd) may not unlink them themselves. Only
 * when RUNROOT/<name>.lock is free, i.e. no instance of c still runs. */
static void sweep_sockets(struct supervisor *s, const struct child *c)
{
	const struct proc_desc *d = c->desc;
	char path[PATH_MAX], lock[PATH_MAX];
	int fd;
	if (snprintf(lock, sizeof lock, "%s/%s.lock", s->cfg->runroot, d->name) >=
	    (int)sizeof lock || fs_lock_file(AT_FDCWD, lock, &fd) < 0)
		return;
	if (d->serves && proc_internal_socket(s->cfg->runroot, d->name, path, sizeof path) == 0)
		unlink_socket(d->name, path);
	if (d->serves && !d->unprivileged &&
	    proc_admin_socket(s->cfg->runroot, d->name, path, sizeof path) == 0)
		unlink_socket(d->name, path);
	if (d->role == CRISP__ROLE__ROLE_CRISERVER)
		unlink_socket(d->name, s->cfg->listen);
	close(fd);
}

static void stop_next(struct supervisor *s);

static void child_exited(struct child *c, int status)
{
	uint64_t ran = now_ms() - c->started_ms;
	if (!c->exec_failed)
		log_exit(c, status, ran);
	c->pid = 0;
	if (c->sup->stopping) {
		sweep_sockets(c->sup, c);
		stop_next(c->sup);
		return;
	}
	if (ran >= STABLE_RUN_MS)
		c->backoff_ms = BACKOFF_MIN_MS;
	schedule_restart(c);
}

static int on_sigchld(struct loop *l, int signo, void *data)
{
	struct supervisor *s = data;
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		size_t i = 0;
		while (i < s->n && s->children[i].pid != pid)
			i++;
		if (i < s->n)
			child_exited(&s->children[i], status);
		else
			log_debug("reaped pid %ld, not one of ours", (long)pid);
	}
	return 0;
}

/* The daemon being stopped did not exit in time. */
static int on_kill_timer(struct loop *l, void *data)
{
	struct supervisor *s = data;
	s->kill_timer = NULL;
	for (size_t i = s->n; i-- > 0;) {
		struct child *c = &s->children[i];
		if (c->pid == 0 || !c->term_sent)
			continue;
		log_warn("%s (pid %ld) still running %u s after SIGTERM: SIGKILL", c->desc->name,
			 (long)c->pid, STOP_GRACE_MS / 1000);
		(void)kill(c->pid, SIGKILL);
	}
	return -1;
}

/* Stop the last running daemon in table order; quit when none is left. */
static void stop_next(struct supervisor *s)
{
	for (size_t i = s->n; i-- > 0;) {
		struct child *c = &s->children[i];
		if (c->pid == 0)
			continue;
		if (!c->term_sent) {
			log_info("stopping %s (pid %ld)", c->desc->name, (long)c->pid);
			if (kill(c->pid, SIGTERM) < 0 && errno != ESRCH)
				log_warn_errno(-errno, "kill %s: %m", c->desc->name);
			c->term_sent = true;
			/* its own grace period, then SIGKILL */
			loop_remove(s->loop, s->kill_timer);
			s->kill_timer = NULL;
			int r = loop_add_timer(s->loop, STOP_GRACE_MS, 0, on_kill_timer, s,
					       &s->kill_timer);
			if (r < 0)
				log_warn_errno(r, "no SIGKILL deadline for %s: %m", c->desc->name);
		}
		return;                 /* wait for it before the next */
	}
	log_info("all daemons stopped");
	loop_quit(s->loop, 0);
}

static int on_stop_signal(struct loop *l, int signo, void *data)
{
	struct supervisor *s = data;
	const char *abbrev = sigabbrev_np(signo);
	if (s->stopping) {
		log_info("SIG%s: already stopping", abbrev ? abbrev : "?");
		return 0;
	}
	log_info("SIG%s: stopping the suite", abbrev ? abbrev : "?");
	s->stopping = true;
	for (size_t i = 0; i < s->n; i++) {
		loop_remove(l, s->children[i].restart);
		s->children[i].restart = NULL;
	}
	stop_next(s);
	return 0;
}

static int child_init(struct supervisor *s, struct child *c, const struct proc_desc *d,
		      const char *dir)
{
	size_t n = 0;
	while (s->flags[n])
		n++;
	*c = (struct child){ .sup = s, .desc = d, .backoff_ms = BACKOFF_MIN_MS };
	int r = fs_path_join(c->path, sizeof c->path, dir, d->name);
	if (r < 0)
		return log_error_errno(r, "%s/%s: %m", dir, d->name);
	c->argv = calloc(n + 2, sizeof *c->argv);
	if (!c->argv)
		return log_error_errno(-ENOMEM, "%m");
	c->argv[0] = (char *)d->name;   /* the process name is the binary's */
	memcpy(c->argv + 1, s->flags, n * sizeof *c->argv);
	return 0;
}

static int supervisor_setup(struct supervisor *s, const struct crisp_config *cfg)
{
	char dir[PATH_MAX];
	int r = fs_self_dir(dir, sizeof dir);
	if (r < 0)
		return log_error_errno(r, "where is crisp-up's binary (/proc/self/exe): %m");
	r = config_to_argv(cfg, &s->flags);
	if (r < 0)
		return log_error_errno(r, "daemon flags: %m");
	s->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->devnull < 0)
		return log_error_errno(-errno, "/dev/null: %m");
	size_t n;
	const struct proc_desc *t = proc_table(&n);
	if (n > SUPERVISE_MAX)
		return log_error_errno(-E2BIG, "more daemons than crisp-up can supervise");
	for (size_t i = 0; i < n; i++, s->n++) {
		r = child_init(s, &s->children[i], &t[i], dir);
		if (r < 0)
			return r;
	}
	log_info("daemons from %s", dir);
	return 0;
}

int supervisor_start(struct loop *l, const struct crisp_config *cfg, struct supervisor **ret)
{
	struct supervisor *s = calloc(1, sizeof *s);
	if (!s)
		return log_error_errno(-ENOMEM, "%m");
	s->loop = l;
	s->cfg = cfg;
	s->devnull = -1;
	int r = supervisor_setup(s, cfg);
	if (r < 0)
		goto fail;
	if ((r = loop_add_signal(l, SIGCHLD, on_sigchld, s)) < 0 ||
	    (r = loop_add_signal(l, SIGTERM, on_stop_signal, s)) < 0 ||
	    (r = loop_add_signal(l, SIGINT, on_stop_signal, s)) < 0) {
		log_error_errno(r, "signals: %m");
		goto fail;
	}
	for (size_t i = 0; i < s->n; i++)
		child_start(&s->children[i]);
	*ret = s;
	return 0;
fail:
	supervisor_free(s);
	return r;
}

void supervisor_free(struct supervisor *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		loop_remove(s->loop, s->children[i].restart);
		free(s->children[i].argv);
	}
	loop_remove(s->loop, s->kill_timer);
	if (s->devnull >= 0)
		close(s->devnull);
	free(s->flags);
	free(s);
}
