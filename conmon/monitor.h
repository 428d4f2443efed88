/*
 * monitor: container mode's poll loop, from the sync answer to the exit
 * file. It copies the container's output into the log (k8s_log) and to the
 * attach clients, attach clients' input into the container's stdin (one
 * chunk at a time: while it waits for the container to read, clients are
 * not read either, so the back-pressure lands on their sockets, not on
 * conmon's memory), serves ctl requests and SIGUSR1 (log reopen), and reaps
 * every child (conmon is their subreaper). When the container's init is
 * reaped it drains what output is left (bounded), and returns the wait
 * status and the time it was reaped. Single-threaded; owns no fd it was
 * given (the caller closes them). Never signals anyone.
 */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include "conmon/args.h"
#include "conmon/attach.h"
#include "conmon/ctl.h"
#include "conmon/k8s_log.h"
#include "conmon/stdio.h"

#define CONMON_DRAIN_MAX (8u * 1024u * 1024u)   /* output read after init's exit */

struct conmon_monitor {
	const struct conmon_args *args;
	struct conmon_stdio *io;
	struct k8s_log *log;
	struct conmon_attach *attach;
	struct conmon_ctl *ctl;
	int sigfd;                      /* signalfd: SIGCHLD, SIGUSR1 */
	pid_t init;
};

/* Runs until init exits: *ret_status its wait status, *ret_finished_ns
 * when it was reaped (CLOCK_REALTIME). */
int conmon_monitor_run(struct conmon_monitor *m, int *ret_status, int64_t *ret_finished_ns);
