/*
 * test_loop: the event loop (common/loop.c): fd sources, one-shot and
 * periodic timers, signals through the signalfd, wake and quit from another
 * thread, and removing sources from inside callbacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include "common/loop.h"
#include "tests/unit/unit.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int fd_calls;

static int on_fd(struct loop *l, int fd, uint32_t events, void *data)
{
	char buf[16];

	CHECK(events & EPOLLIN);
	CHECK(read(fd, buf, sizeof buf) == 3);
	fd_calls++;
	loop_quit(l, *(int *)data);
	return -1;      /* remove: a second write must not call us again */
}

/* ends a run that would otherwise block forever */
static int on_guard(struct loop *l, void *data)
{
	loop_quit(l, -1000);
	return 0;
}

TEST(loop_fd)
{
	struct loop *l;
	int p[2], code = 7;

	CHECK_RC(loop_new(&l));
	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	CHECK_RC(loop_add_fd(l, p[0], EPOLLIN, on_fd, &code, NULL));
	CHECK(write(p[1], "abc", 3) == 3);
	CHECK(loop_run(l) == 7);
	CHECK(fd_calls == 1);
	/* the source is gone: more data does not reach the callback */
	CHECK(write(p[1], "abc", 3) == 3);
	CHECK_RC(loop_add_timer(l, 50, 0, on_guard, NULL, NULL));
	CHECK(loop_run(l) == -1000);
	CHECK(fd_calls == 1);
	loop_free(l);
	/* the loop does not own the fds it watched */
	CHECK(fcntl(p[0], F_GETFD) >= 0 && fcntl(p[1], F_GETFD) >= 0);
	close(p[0]);
	close(p[1]);
}

static int ticks;

static int on_tick(struct loop *l, void *data)
{
	if (++ticks == 3)
		loop_quit(l, 3);
	return 0;
}

static int oneshot_calls;

static int on_oneshot(struct loop *l, void *data)
{
	oneshot_calls++;
	*(uint64_t *)data = now_ms();
	return 0;
}

TEST(loop_timer)
{
	struct loop *l;
	struct loop_source *held;
	uint64_t fired = 0, fired_held = 0, t0 = now_ms();

	CHECK_RC(loop_new(&l));
	CHECK(loop_add_timer(l, 0, 1, on_tick, NULL, NULL) == -EINVAL);
	CHECK_RC(loop_add_timer(l, 30, 0, on_oneshot, &fired, NULL));
	CHECK_RC(loop_add_timer(l, 20, 0, on_oneshot, &fired_held, &held));
	CHECK_RC(loop_add_timer(l, 25, 1, on_tick, NULL, NULL));
	CHECK(loop_run(l) == 3);
	uint64_t elapsed = now_ms() - t0;
	CHECK(ticks == 3);
	CHECK(elapsed >= 74 && elapsed < 2000);  /* ms clocks truncate */
	CHECK(fired >= t0 + 29 && fired_held >= t0 + 19);
	CHECK(oneshot_calls == 2);      /* one-shots fire once */
	/* a held one-shot stays until removed, and does not fire again */
	loop_remove(l, held);
	CHECK_RC(loop_add_timer(l, 40, 0, on_guard, NULL, NULL));
	CHECK(loop_run(l) == -1000);
	CHECK(oneshot_calls == 2 && ticks >= 4);
	loop_free(l);
}

static int on_signal(struct loop *l, int signo, void *data)
{
	(*(int *)data)++;
	loop_quit(l, signo);
	return 0;
}

TEST(loop_signal)
{
	struct loop *l;
	int usr1 = 0, usr2 = 0;
	sigset_t blocked;

	CHECK_RC(loop_new(&l));
	CHECK_RC(loop_add_signal(l, SIGUSR1, on_signal, &usr1));
	CHECK_RC(loop_add_signal(l, SIGUSR2, on_signal, &usr2));
	CHECK(loop_add_signal(l, SIGUSR1, on_signal, &usr1) == -EEXIST);
	CHECK(loop_add_signal(l, SIGKILL, on_signal, &usr1) == -EINVAL);
	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &blocked) == 0);
	CHECK(sigismember(&blocked, SIGUSR1) && sigismember(&blocked, SIGUSR2));
	/* the default action would kill us: the signal must arrive as an event */
	CHECK(kill(getpid(), SIGUSR1) == 0);
	CHECK(loop_run(l) == SIGUSR1);
	CHECK(usr1 == 1 && usr2 == 0);
	CHECK(kill(getpid(), SIGUSR2) == 0);
	CHECK(loop_run(l) == SIGUSR2);
	CHECK(usr1 == 1 && usr2 == 1);
	loop_free(l);
}

static int woken;

static void on_wake(struct loop *l, void *data)
{
	woken++;
	loop_quit(l, 11);
}

static void *wake_later(void *arg)
{
	usleep(30 * 1000);
	loop_wake(arg);
	return NULL;
}

static void *quit_later(void *arg)
{
	usleep(30 * 1000);
	loop_quit(arg, 12);
	return NULL;
}

TEST(loop_wake_and_quit_from_thread)
{
	struct loop *l;
	pthread_t t;

	CHECK_RC(loop_new(&l));
	CHECK_RC(loop_set_wake(l, on_wake, NULL));
	CHECK(pthread_create(&t, NULL, wake_later, l) == 0);
	CHECK(loop_run(l) == 11);
	pthread_join(t, NULL);
	CHECK(woken == 1);
	CHECK_RC(loop_set_wake(l, NULL, NULL));
	CHECK(pthread_create(&t, NULL, quit_later, l) == 0);
	CHECK(loop_run(l) == 12);
	pthread_join(t, NULL);
	CHECK(woken == 1);
	loop_free(l);
}

struct pairsrc {
	struct loop_source *self, *other;
	int calls;
};

static struct pairsrc ps[2];

/* Each callback removes the other source: only one of them may ever run,
 * though both fds are ready in the same batch. */
static int on_either(struct loop *l, int fd, uint32_t events, void *data)
{
	struct pairsrc *me = data;

	me->calls++;
	loop_remove(l, me->other);
	return -1;
}

TEST(loop_remove_in_callback)
{
	struct loop *l;
	int a[2], b[2];

	CHECK_RC(loop_new(&l));
	CHECK(pipe2(a, O_CLOEXEC) == 0 && pipe2(b, O_CLOEXEC) == 0);
	CHECK(write(a[1], "x", 1) == 1 && write(b[1], "y", 1) == 1);
	CHECK_RC(loop_add_fd(l, a[0], EPOLLIN, on_either, &ps[0], &ps[0].self));
	CHECK_RC(loop_add_fd(l, b[0], EPOLLIN, on_either, &ps[1], &ps[1].self));
	ps[0].other = ps[1].self;
	ps[1].other = ps[0].self;
	CHECK_RC(loop_add_timer(l, 30, 0, on_guard, NULL, NULL));
	CHECK(loop_run(l) == -1000);
	CHECK(ps[0].calls + ps[1].calls == 1);
	loop_free(l);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}
