/*
 * loop: a small epoll event loop for the daemons' main threads. Owns the
 * epoll fd, one signalfd for the signals a daemon handles, and timerfds.
 * Callbacks run on the loop's thread only. loop_wake() may be called from any
 * thread (eventfd) to run the wake callback on the loop thread.
 * Returns negative errno; never logs.
 */
#pragma once
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_source;

typedef int (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *data);
typedef int (*loop_signal_cb)(struct loop *l, int signo, void *data);
typedef int (*loop_timer_cb)(struct loop *l, void *data);
typedef void (*loop_wake_cb)(struct loop *l, void *data);

int loop_new(struct loop **ret);
void loop_free(struct loop *l);

/* A callback returning < 0 removes its source. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data,
		struct loop_source **ret);
/* Blocks signo in the calling thread (add signals before starting threads;
 * it stays blocked after loop_free) and delivers it through a signalfd.
 * -EEXIST if signo already has a callback. */
int loop_add_signal(struct loop *l, int signo, loop_signal_cb cb, void *data);
/* One-shot timer after ms milliseconds (or periodic when periodic != 0).
 * A one-shot added with ret stays (disarmed) after it fires until
 * loop_remove(); without ret it is freed after it fires. */
int loop_add_timer(struct loop *l, uint64_t ms, int periodic, loop_timer_cb cb, void *data,
		   struct loop_source **ret);
/* Safe from inside any callback, for any source; s may be NULL. Remove an
 * fd source before closing its fd. */
void loop_remove(struct loop *l, struct loop_source *s);
int loop_set_wake(struct loop *l, loop_wake_cb cb, void *data);
void loop_wake(struct loop *l);

int loop_run(struct loop *l);       /* until loop_quit(); returns its code */
void loop_quit(struct loop *l, int code);  /* any thread */
