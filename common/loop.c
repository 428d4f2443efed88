/*
 * loop: the daemons' epoll event loop (see loop.h). Owns the epoll fd, one
 * signalfd for every signal a callback handles (those signals are blocked in
 * the calling thread, so add them before starting threads), one timerfd per
 * timer and one eventfd for loop_wake()/loop_quit() from other threads.
 * A removed source is freed only after the current batch of events has been
 * dispatched, so a callback may remove any source, itself included. Must
 * never close an fd it was given (loop_add_fd) and never log.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "common/loop.h"

#define LOOP_EVENTS 64

enum source_kind { SRC_FD, SRC_TIMER, SRC_SIGNAL, SRC_WAKE };

struct loop_source {
	enum source_kind kind;
	int fd;                 /* watched fd; owned by the loop unless SRC_FD */
	bool removed;
	bool free_after_fire;   /* one-shot timer nobody holds a handle to */
	bool periodic;
	union { loop_fd_cb fd; loop_timer_cb timer; } cb;
	void *data;
	struct loop_source *prev, *next;
};

struct signal_handler {
	loop_signal_cb cb;
	void *data;
};

struct loop {
	int epfd;
	struct loop_source *live;       /* every source still registered */
	struct loop_source *dead;       /* removed, freed after the batch */
	struct loop_source *sig_src;
	sigset_t sigmask;
	struct signal_handler sigs[_NSIG];
	struct loop_source *wake_src;
	loop_wake_cb wake_cb;
	void *wake_data;
	atomic_bool quit;
	atomic_int code;
};

static void source_close(struct loop_source *s)
{
	if (s->kind != SRC_FD && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static int source_add(struct loop *l, enum source_kind kind, int fd, uint32_t events,
		      struct loop_source **ret)
{
	struct epoll_event ev = { .events = events };
	struct loop_source *s = calloc(1, sizeof *s);

	if (!s)
		return -ENOMEM;
	s->kind = kind;
	s->fd = fd;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		free(s);
		return r;
	}
	s->next = l->live;
	if (l->live)
		l->live->prev = s;
	l->live = s;
	*ret = s;
	return 0;
}

void loop_remove(struct loop *l, struct loop_source *s)
{
	if (!l || !s || s->removed)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	source_close(s);
	s->removed = true;
	if (s->prev)
		s->prev->next = s->next;
	else
		l->live = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = NULL;
	s->next = l->dead;
	l->dead = s;
}

static void free_dead(struct loop *l)
{
	while (l->dead) {
		struct loop_source *s = l->dead;
		l->dead = s->next;
		free(s);
	}
}

int loop_new(struct loop **ret)
{
	struct loop *l;
	int fd, r;

	if (!ret)
		return -EINVAL;
	l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	sigemptyset(&l->sigmask);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		r = -errno;
		free(l);
		return r;
	}
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	r = source_add(l, SRC_WAKE, fd, EPOLLIN, &l->wake_src);
	if (r < 0) {
		close(fd);
		goto fail;
	}
	*ret = l;
	return 0;
fail:
	loop_free(l);
	return r;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->live)
		loop_remove(l, l->live);
	free_dead(l);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data,
		struct loop_source **ret)
{
	struct loop_source *s;
	int r;

	if (!l || fd < 0 || !cb)
		return -EINVAL;
	r = source_add(l, SRC_FD, fd, events, &s);
	if (r < 0)
		return r;
	s->cb.fd = cb;
	s->data = data;
	if (ret)
		*ret = s;
	return 0;
}

int loop_add_timer(struct loop *l, uint64_t ms, int periodic, loop_timer_cb cb, void *data,
		   struct loop_source **ret)
{
	struct itimerspec its = { 0 };
	struct loop_source *s;
	int fd, r;

	if (!l || !cb || (periodic && ms == 0))
		return -EINVAL;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (ms == 0)
		its.it_value.tv_nsec = 1;       /* zero would disarm it */
	if (periodic)
		its.it_interval = its.it_value;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = source_add(l, SRC_TIMER, fd, EPOLLIN, &s);
	if (r < 0) {
		close(fd);
		return r;
	}
	s->cb.timer = cb;
	s->data = data;
	s->periodic = periodic != 0;
	s->free_after_fire = !periodic && !ret;
	if (ret)
		*ret = s;
	return 0;
}

int loop_add_signal(struct loop *l, int signo, loop_signal_cb cb, void *data)
{
	sigset_t one, mask;
	int fd, r;

	if (!l || !cb || signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	if (l->sigs[signo].cb)
		return -EEXIST;
	sigemptyset(&one);
	sigaddset(&one, signo);
	r = pthread_sigmask(SIG_BLOCK, &one, NULL);
	if (r != 0)
		return -r;
	mask = l->sigmask;
	sigaddset(&mask, signo);
	fd = signalfd(l->sig_src ? l->sig_src->fd : -1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (!l->sig_src) {
		r = source_add(l, SRC_SIGNAL, fd, EPOLLIN, &l->sig_src);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	l->sigmask = mask;
	l->sigs[signo] = (struct signal_handler){ cb, data };
	return 0;
}

/* Stop taking signo through the signalfd (it stays blocked). */
static void signal_drop(struct loop *l, int signo)
{
	l->sigs[signo] = (struct signal_handler){ 0 };
	sigdelset(&l->sigmask, signo);
	(void)signalfd(l->sig_src->fd, &l->sigmask, SFD_CLOEXEC | SFD_NONBLOCK);
}

int loop_set_wake(struct loop *l, loop_wake_cb cb, void *data)
{
	if (!l)
		return -EINVAL;
	l->wake_cb = cb;
	l->wake_data = data;
	return 0;
}

void loop_wake(struct loop *l)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, a wake-up is pending anyway */
	if (l && l->wake_src)
		(void)!write(l->wake_src->fd, &one, sizeof one);
}

void loop_quit(struct loop *l, int code)
{
	if (!l)
		return;
	atomic_store(&l->code, code);
	atomic_store(&l->quit, true);
	loop_wake(l);
}

static void dispatch_signals(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sig_src->fd, &si, sizeof si) == (ssize_t)sizeof si) {
		int signo = (int)si.ssi_signo;
		if (signo <= 0 || signo >= _NSIG || !l->sigs[signo].cb)
			continue;
		if (l->sigs[signo].cb(l, signo, l->sigs[signo].data) < 0)
			signal_drop(l, signo);
	}
}

static void dispatch_timer(struct loop *l, struct loop_source *s)
{
	uint64_t expirations;

	if (read(s->fd, &expirations, sizeof expirations) != (ssize_t)sizeof expirations)
		return;         /* not expired after all */
	if (s->cb.timer(l, s->data) < 0 || s->free_after_fire)
		loop_remove(l, s);
}

static void dispatch(struct loop *l, struct loop_source *s, uint32_t events)
{
	uint64_t count;

	if (s->removed)
		return;
	switch (s->kind) {
	case SRC_FD:
		if (s->cb.fd(l, s->fd, events, s->data) < 0)
			loop_remove(l, s);
		break;
	case SRC_TIMER:
		dispatch_timer(l, s);
		break;
	case SRC_SIGNAL:
		dispatch_signals(l);
		break;
	case SRC_WAKE:
		if (read(s->fd, &count, sizeof count) == (ssize_t)sizeof count && l->wake_cb)
			l->wake_cb(l, l->wake_data);
		break;
	}
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_EVENTS];

	if (!l)
		return -EINVAL;
	while (!atomic_load(&l->quit)) {
		int n = epoll_wait(l->epfd, evs, LOOP_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !atomic_load(&l->quit); i++)
			dispatch(l, evs[i].data.ptr, evs[i].events);
		free_dead(l);
	}
	atomic_store(&l->quit, false);
	return atomic_load(&l->code);
}
