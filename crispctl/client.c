/*
 * client: crispctl's side of the internal channel to imaged's admin socket:
 * connect, Hello as role crispctl, then one call at a time (request ids
 * count up from 1). While it waits, SIGINT/SIGTERM send a Cancel for the
 * call in flight (imaged stops and answers CANCELLED), and a second one
 * gives up at once. Errors are printed here with what imaged said.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/chan.h"
#include "common/proc.h"
#include "common/status.h"
#include "crispctl/crispctl.h"
#include "crisp.pb-c.h"

#define WAIT_SLICE_MS 200

static volatile sig_atomic_t interrupts;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupts++;
}

int ctl_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("crispctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return CTL_EXIT_FAIL;
}

int ctl_connect(struct ctl *c)
{
	char path[PATH_MAX];
	int fd = -1, role = 0;
	int r = proc_admin_socket(c->runroot, "imaged", path, sizeof path);
	if (r < 0) {
		ctl_fail("runroot %s: %s", c->runroot, strerror(-r));
		return r;
	}
	r = chan_connect(path, &fd);
	if (r < 0) {
		ctl_fail("cannot reach imaged at %s: %s%s", path, strerror(-r),
			 r == -ENOENT || r == -ECONNREFUSED ? " (is crisp running with this --runroot?)" :
			 r == -EACCES ? " (crispctl is for root)" : "");
		return r;
	}
	r = chan_new(fd, CHAN_FDS, &c->chan);
	if (r < 0) {
		close(fd);
		ctl_fail("channel: %s", strerror(-r));
		return r;
	}
	r = chan_hello_client(c->chan, CRISP__ROLE__ROLE_CRISPCTL, "crispctl", CTL_CONNECT_TIMEOUT_MS,
			      &role);
	if (r < 0) {
		ctl_fail("imaged refused the handshake: %s", r == -EPERM ?
			 "crispctl may not use this socket" : strerror(-r));
		return r;
	}
	struct sigaction sa = { .sa_handler = on_interrupt };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	c->next_id = 1;
	return 0;
}

void ctl_close(struct ctl *c)
{
	chan_free(c->chan);
	c->chan = NULL;
}

/* Waits for the answer to id; Ctrl-C sends a Cancel once, twice gives up. */
static int wait_answer(struct ctl *c, uint32_t type, uint64_t id, struct chan_msg *m)
{
	bool cancel_sent = false;
	for (;;) {
		if (interrupts >= 2)
			return -EINTR;
		if (interrupts == 1 && !cancel_sent) {
			Crisp__Cancel cm = CRISP__CANCEL__INIT;
			chan_send_pb(c->chan, CRISP__MSG_TYPE__MSG_CANCEL, id, 0, &cm.base, -1);
			cancel_sent = true;
			fprintf(stderr, "crispctl: cancelling (again to stop waiting)\n");
		}
		int r = chan_recv_timeout(c->chan, WAIT_SLICE_MS, m);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0)
			return r;
		if ((m->flags & CHAN_MSG_ANSWER) && m->id == id && m->type == type)
			return 0;
		chan_msg_clear(m);      /* nothing else is ours */
	}
}

int ctl_call(struct ctl *c, uint32_t type, const ProtobufCMessage *msg, int fd,
	     const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret)
{
	struct chan_msg m = CHAN_MSG_INIT;
	uint64_t id = c->next_id++;
	int r = chan_send_pb(c->chan, type, id, 0, msg, fd);
	if (r < 0) {
		ctl_fail("sending to imaged: %s", strerror(-r));
		return r;
	}
	r = wait_answer(c, type, id, &m);
	if (r == -EINTR) {
		ctl_fail("interrupted");
		return r;
	}
	if (r == -ECONNRESET) {
		ctl_fail("imaged closed the connection (did it restart?)");
		return r;
	}
	if (r < 0) {
		ctl_fail("waiting for imaged: %s", strerror(-r));
		return r;
	}
	if (m.status != CRISP_STATUS_OK) {
		ctl_fail("%s", m.error && *m.error ? m.error : "request failed");
		chan_msg_clear(&m);
		return -EREMOTEIO;
	}
	if (desc) {
		r = chan_msg_unpack(&m, desc, ret);
		if (r < 0)
			ctl_fail("imaged's answer does not unpack as %s", desc->name);
	}
	chan_msg_clear(&m);
	return r;
}
