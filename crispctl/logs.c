/*
 * logs: crispctl's `logs [-f] [--tail N] [--timestamps] CONTAINER`, and the
 * following of a running container's log that `run` uses too. crispctl is
 * root on the node: it reads the file ContainerStatus.log_path names (as
 * kubelet does for `kubectl logs`), writes stdout records to stdout and
 * stderr records to stderr (crilog.c), and while following asks
 * ContainerStatus every FOLLOW_POLL_MS until the container has exited,
 * then reads what is left (an UNAVAILABLE answer, a daemon restarting, is
 * waited out for FOLLOW_UNAVAILABLE_MS). Rotation (ReopenContainerLog) is followed by
 * path. Never writes to the log.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "crispctl/crilog.h"
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"

#define FOLLOW_IDLE_MS 50
#define FOLLOW_POLL_MS 200
#define FOLLOW_UNAVAILABLE_MS (30 * 1000)      /* a daemon restarting: wait that long */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);   /* a signal ends it early: fine */
}

int ctl_ctr_status(struct ctl *c, const char *id, bool verbose, int flags,
		   Runtime__V1__ContainerStatusResponse **ret)
{
	Runtime__V1__ContainerStatusRequest rq = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	rq.container_id = (char *)id;
	rq.verbose = verbose;
	int r = ctl_cri_call(c, "ContainerStatus", &rq.base,
			     &runtime__v1__container_status_response__descriptor, 0, flags,
			     (ProtobufCMessage **)ret);
	if (r == 0 && !(*ret)->status) {
		protobuf_c_message_free_unpacked(&(*ret)->base, NULL);
		*ret = NULL;
		if (!(flags & CTL_CALL_QUIET))
			ctl_fail("ContainerStatus: no status for %s", id);
		return -EBADMSG;
	}
	return r;
}

/* Reads what is left, also past a rotation. */
static int drain(struct crilog_file *f, struct crilog_out *o)
{
	int r;
	do {
		while ((r = crilog_file_pump(f, o)) > 0)
			;
		if (r == 0)
			r = crilog_file_follow(f, o);
	} while (r > 0);
	return r;
}

int ctl_log_follow(struct ctl *c, const char *id, struct crilog_file *f, struct crilog_out *o,
		   int *ret_code)
{
	int seen = ctl_interrupts();
	int64_t next_poll = 0, unavailable_since = 0;
	for (;;) {
		int r = crilog_file_pump(f, o);
		if (r == 0)
			r = crilog_file_follow(f, o);
		if (r < 0)
			return r;
		if (ctl_interrupts() != seen)
			return -EINTR;
		if (r > 0)
			continue;
		if (now_ms() < next_poll) {
			sleep_ms(FOLLOW_IDLE_MS);
			continue;
		}
		Runtime__V1__ContainerStatusResponse *st = NULL;
		r = ctl_ctr_status(c, id, false, CTL_CALL_QUIET, &st);
		if (r == -EINTR)
			return r;
		if (r < 0 && c->last_code == 5) {       /* NOT_FOUND: removed */
			r = drain(f, o);
			return r < 0 ? r : -ENOENT;
		}
		if (r < 0 && c->last_code == 14) {    /* UNAVAILABLE: crisp-up restarts daemons */
			if (!unavailable_since)
				unavailable_since = now_ms();
			if (now_ms() - unavailable_since < FOLLOW_UNAVAILABLE_MS) {
				next_poll = now_ms() + FOLLOW_POLL_MS * 5;
				continue;
			}
		}
		if (r < 0) {
			ctl_fail("%s", r == -EBADMSG ? "ContainerStatus: an answer without a status" :
				 c->last_error);
			return r;
		}
		unavailable_since = 0;
		bool exited = st->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
		if (exited)
			*ret_code = st->status->exit_code;
		protobuf_c_message_free_unpacked(&st->base, NULL);
		if (exited)
			return drain(f, o);
		next_poll = now_ms() + FOLLOW_POLL_MS;
	}
}

int ctl_logs(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "tail", required_argument, NULL, 'n' },
		{ "timestamps", no_argument, NULL, 't' },
		{ 0 },
	};
	static const char use[] = "logs [-f] [--tail N] [-t|--timestamps] CONTAINER";
	bool follow = false, timestamps = false;
	long tail = -1;
	char *end, *id = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "fn:t", opts, NULL)) != -1) {
		if (o == 'f') {
			follow = true;
		} else if (o == 't') {
			timestamps = true;
		} else if (o == 'n') {
			errno = 0;
			tail = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || tail < -1)
				return ctl_usage(use);
		} else {
			return ctl_usage(use);
		}
	}
	if (argc - optind != 1)
		return ctl_usage(use);
	if (ctl_ctr_resolve(c, argv[optind], 0, &id) < 0)
		return CTL_EXIT_FAIL;
	Runtime__V1__ContainerStatusResponse *st = NULL;
	struct crilog_file f;
	struct crilog_out out;
	int r, code = 0, ret = CTL_EXIT_FAIL;
	if (ctl_ctr_status(c, id, false, 0, &st) < 0)
		goto out;
	if (!st->status->log_path || !*st->status->log_path) {
		ctl_fail("container %s has no log file (its pod has no log_directory)", id);
		goto out;
	}
	r = crilog_file_open(&f, st->status->log_path, tail);
	if (r < 0) {
		ctl_fail("%s: %s", st->status->log_path, strerror(-r));
		goto out;
	}
	crilog_out_init(&out, STDOUT_FILENO, STDERR_FILENO, timestamps);
	r = follow ? ctl_log_follow(c, id, &f, &out, &code) : drain(&f, &out);
	if (f.bad)
		ctl_fail("%lu lines of %s were not CRI log records (skipped)", f.bad, f.path);
	crilog_file_close(&f);
	if (r == -EINTR)
		ret = CTL_EXIT_INTERRUPTED;
	else if (r == -EPIPE || r == -ENOENT || r >= 0)
		ret = CTL_EXIT_OK;
	else
		ctl_fail("reading the log: %s", strerror(-r));
out:
	if (st)
		protobuf_c_message_free_unpacked(&st->base, NULL);
	free(id);
	return ret;
}
