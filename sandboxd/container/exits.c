/*
 * exits: how sandboxd learns that a container exited. conmon writes the
 * exit file (conmon/conmon.h: code, signal, time, oom) and then exits;
 * sandboxd holds a pidfd on every conmon in one epoll set, served by a
 * thread of its own, and when a pidfd says its conmon is gone it reads the
 * file and marks the container EXITED (saved, and every waiter woken). A
 * conmon that dies without an exit file (killed) leaves the container
 * without a monitor: it is killed and marked exited with reason
 * "ContainerMonitorLost". Never logs (the caller of exits_collect, or the
 * thread for its own, logs at debug level nothing).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/log.h"
#include "conmon/conmon.h"
#include "sandboxd/container/ctr.h"

#define EXIT_FILE_MAX 4096

struct exits {
	int epfd;
	int stop_fd;                    /* eventfd: the thread ends */
	pthread_t thread;
};

static struct exits ex = { -1, -1, 0 };

/* Parse "code=..\nsignal=..\nfinished_ns=..\noom=..\n". */
static int exit_parse(const char *buf, int *code, int64_t *finished, bool *oom)
{
	int sig = 0, o = 0;
	long long fin = 0;
	if (sscanf(buf, CONMON_EXIT_FORMAT, code, &sig, &fin, &o) != 4)
		return -EBADMSG;
	*finished = fin;
	*oom = o != 0;
	return 0;
}

static void set_exited(struct sbx *s, struct ctr *c, int code, int64_t finished, bool oom,
		       const char *reason_override, const char *message)
{
	state_lock(s->st);
	if (c->state != CTR_EXITED && c->state != CTR_REMOVING && !c->gone) {
		c->state = CTR_EXITED;
		c->exit_code = code;
		c->finished_ns = finished ? finished : sbx_now_ns();
		const char *reason = reason_override ? reason_override : oom ? "OOMKilled" :
				     code == 0 ? "Completed" : "Error";
		state_set_str(&c->reason, reason);
		state_set_str(&c->message, message);
		if (!c->started_ns && !reason_override)
			c->started_ns = c->finished_ns;
		state_ctr_save(s->st, c);
	} else if (c->state == CTR_REMOVING && !c->finished_ns) {
		c->exit_code = code;
		c->finished_ns = finished ? finished : sbx_now_ns();
	}
	state_broadcast(s->st);
	state_unlock(s->st);
}

int exits_collect(struct sbx *s, struct ctr *c)
{
	char path[PATH_MAX], *buf = NULL;
	int code = 0;
	int64_t fin = 0;
	bool oom = false;
	int r = sbx_ctr_path(s, c->id, "exit", path, sizeof path);
	if (r < 0)
		return r;
	r = fs_read_file(AT_FDCWD, path, EXIT_FILE_MAX, &buf, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = exit_parse(buf, &code, &fin, &oom);
	free(buf);
	if (r < 0)
		return r;
	set_exited(s, c, code, fin, oom, NULL, NULL);
	return 1;
}

/* conmon is gone: its exit file, or the container has no monitor left. */
static void conmon_gone(struct sbx *s, struct ctr *c)
{
	if (exits_collect(s, c) != 0)
		return;
	state_lock(s->st);
	bool live = c->state == CTR_CREATED || c->state == CTR_STARTING || c->state == CTR_RUNNING;
	state_unlock(s->st);
	if (!live)
		return;
	struct runc rt;
	struct crisp_error err = { 0 };
	if (ctr_runc(s, c, &rt) == 0)
		runc_kill(&rt, c->id, SIGKILL, true, &err);
	set_exited(s, c, 137, 0, false, "ContainerMonitorLost",
		   "its conmon died without recording the exit; the container was killed");
}

static void *exits_thread(void *arg)
{
	struct sbx *s = arg;
	struct epoll_event evs[32];
	pthread_setname_np(pthread_self(), "exits");
	for (;;) {
		int n = epoll_wait(ex.epfd, evs, 32, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		for (int i = 0; i < n; i++) {
			struct ctr *c = evs[i].data.ptr;
			if (!c)
				return NULL;            /* the stop eventfd */
			int fd = c->exit_watch;
			epoll_ctl(ex.epfd, EPOLL_CTL_DEL, fd, NULL);
			close(fd);
			c->exit_watch = -1;
			conmon_gone(s, c);
			state_ctr_put(s->st, c);
		}
	}
}

int exits_start(struct sbx *s)
{
	ex.epfd = epoll_create1(EPOLL_CLOEXEC);
	ex.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (ex.epfd < 0 || ex.stop_fd < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(ex.epfd, EPOLL_CTL_ADD, ex.stop_fd, &ev) < 0)
		return -errno;
	int r = pthread_create(&ex.thread, NULL, exits_thread, s);
	return -r;
}

void exits_stop(struct sbx *s)
{
	(void)s;
	if (ex.stop_fd < 0)
		return;
	uint64_t one = 1;
	(void)!write(ex.stop_fd, &one, sizeof one);
	pthread_join(ex.thread, NULL);
	close(ex.stop_fd);
	close(ex.epfd);
	ex.stop_fd = ex.epfd = -1;
}

int exits_watch(struct sbx *s, struct ctr *c)
{
	int pfd = (int)syscall(SYS_pidfd_open, c->conmon_pid, 0);
	if (pfd < 0 && errno == ESRCH) {
		conmon_gone(s, c);
		return 0;
	}
	if (pfd < 0)
		return -errno;
	/* the pidfd may name a new process with that pid: check it is ours */
	if (!sbx_proc_is(c->conmon_pid, c->conmon_start)) {
		close(pfd);
		conmon_gone(s, c);
		return 0;
	}
	state_lock(s->st);
	c->refs++;
	c->exit_watch = pfd;
	state_unlock(s->st);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (epoll_ctl(ex.epfd, EPOLL_CTL_ADD, pfd, &ev) < 0) {
		int r = -errno;
		c->exit_watch = -1;
		close(pfd);
		state_ctr_put(s->st, c);
		return r;
	}
	return 0;
}
