/*
 * monitor: see monitor.h. The poll set is rebuilt each round from the
 * current fds (a few dozen at most), with a parallel array saying what
 * each entry is.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "conmon/monitor.h"

#define READ_CHUNK (16u * 1024u)
#define POLL_MAX (6 + CONMON_ATTACH_CLIENTS + CONMON_CTL_CLIENTS)

enum what { W_SIG, W_OUT, W_ERR, W_IN, W_ATTACH_LISTEN, W_ATTACH, W_CTL_LISTEN, W_CTL };

struct state {
	struct conmon_monitor *m;
	bool exited;
	int status;
	int64_t finished_ns;
	char pending[CONMON_ATTACH_CHUNK];      /* stdin bytes not yet written */
	size_t pending_off, pending_len;
	bool close_stdin;                       /* once pending is written */
	bool log_failing;                       /* warned about a log write error */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- output ------------------------------------------------------------ */

static void output(struct state *s, int stream, const char *buf, size_t len)
{
	const char *name = stream == CONMON_ATTACH_STDERR ? "stderr" : "stdout";
	int r = k8s_log_write(s->m->log, name, buf, len);
	if (r < 0 && !s->log_failing)
		log_warn_errno(r, "writing the container log: %m");
	s->log_failing = r < 0;
	conmon_attach_send(s->m->attach, stream, buf, len);
}

/* Read once from *fd. At EOF (or EIO: a pty whose slave side is all
 * closed) the fd is closed and set to -1. Returns the bytes read, 0 if
 * there was nothing (EAGAIN) or at EOF. */
static size_t pump(struct state *s, int *fd, int stream)
{
	char buf[READ_CHUNK];
	ssize_t n;
	do
		n = read(*fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		if (n < 0 && errno != EIO)
			log_warn_errno(-errno, "reading the container's %s: %m",
				       stream == CONMON_ATTACH_STDERR ? "stderr" : "stdout");
		struct conmon_stdio *io = s->m->io;
		if (*fd == io->pty) {   /* the pty is out (and in): one close */
			io->pty = -1;
			io->in = -1;
		}
		close(*fd);
		*fd = -1;
		return 0;
	}
	output(s, stream, buf, (size_t)n);
	return (size_t)n;
}

/* After init's exit: what the pipes still hold, up to CONMON_DRAIN_MAX
 * (a process left in a shared PID namespace may keep writing). */
static void drain(struct state *s)
{
	struct conmon_stdio *io = s->m->io;
	size_t total = 0;
	bool more = true;
	while (more && total < CONMON_DRAIN_MAX) {
		more = false;
		if (io->out >= 0) {
			size_t n = pump(s, &io->out, CONMON_ATTACH_STDOUT);
			total += n;
			more |= n > 0;
		}
		if (io->err >= 0) {
			size_t n = pump(s, &io->err, CONMON_ATTACH_STDERR);
			total += n;
			more |= n > 0;
		}
	}
}

/* ---- stdin ------------------------------------------------------------- */

static void stdin_close(struct state *s)
{
	s->pending_len = s->pending_off = 0;
	s->close_stdin = false;
	conmon_stdio_close_stdin(s->m->io);
}

static void stdin_flush(struct state *s)
{
	int fd = s->m->io->in;
	while (fd >= 0 && s->pending_off < s->pending_len) {
		ssize_t n = write(fd, s->pending + s->pending_off, s->pending_len - s->pending_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {           /* EPIPE: the container closed its stdin */
			stdin_close(s);
			return;
		}
		s->pending_off += (size_t)n;
	}
	s->pending_off = s->pending_len = 0;
	if (s->close_stdin)
		stdin_close(s);
}

static void attach_input(struct state *s, int i)
{
	const struct conmon_args *a = s->m->args;
	if (s->pending_len > 0)
		return;                 /* another client's bytes wait: next round */
	ssize_t n = conmon_attach_recv(s->m->attach, i, s->pending, sizeof s->pending);
	if (n < 0)
		return;
	if (n == 0) {                   /* this client's EOF */
		if (a->stdin_once && s->m->io->in >= 0)
			stdin_close(s);
		return;
	}
	if (s->m->io->in < 0)
		return;                 /* no stdin (or closed): dropped */
	s->pending_off = 0;
	s->pending_len = (size_t)n;
	stdin_flush(s);
}

/* ---- ctl ----------------------------------------------------------------- */

static int ctl_request(const struct conmon_ctl_req *req, void *data)
{
	struct state *s = data;
	struct conmon_stdio *io = s->m->io;
	switch (req->type) {
	case CONMON_CTL_REOPEN_LOG: {
		int r = k8s_log_reopen(s->m->log);
		if (r < 0)
			log_warn_errno(r, "reopening %s: %m", s->m->args->log_path);
		return r;
	}
	case CONMON_CTL_RESIZE: {
		if (io->pty < 0)
			return -ENOTTY;
		struct winsize ws = { .ws_col = (unsigned short)req->a, .ws_row = (unsigned short)req->b };
		return ioctl(io->pty, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
	}
	case CONMON_CTL_CLOSE_STDIN:
		s->close_stdin = true;
		if (s->pending_len == 0)
			stdin_close(s);
		return 0;
	}
	return -EINVAL;
}

/* ---- signals ----------------------------------------------------------- */

static void signals(struct state *s)
{
	struct signalfd_siginfo si;
	while (read(s->m->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGUSR1) {
			int r = k8s_log_reopen(s->m->log);
			if (r < 0)
				log_warn_errno(r, "reopening %s: %m", s->m->args->log_path);
			continue;
		}
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p == s->m->init && !s->exited) {
				s->exited = true;
				s->status = st;
				s->finished_ns = now_ns();
			}
		}
	}
}

/* ---- the loop ------------------------------------------------------------ */

struct pollset {
	struct pollfd fd[POLL_MAX];
	enum what what[POLL_MAX];
	int idx[POLL_MAX];
	nfds_t n;
};

static void add(struct pollset *p, int fd, short events, enum what w, int idx)
{
	p->fd[p->n] = (struct pollfd){ .fd = fd, .events = events };
	p->what[p->n] = w;
	p->idx[p->n] = idx;
	p->n++;
}

static void build(struct state *s, struct pollset *p)
{
	struct conmon_monitor *m = s->m;
	p->n = 0;
	add(p, m->sigfd, POLLIN, W_SIG, 0);
	if (m->io->out >= 0)
		add(p, m->io->out, POLLIN, W_OUT, 0);
	if (m->io->err >= 0)
		add(p, m->io->err, POLLIN, W_ERR, 0);
	if (m->io->in >= 0 && s->pending_len > 0)
		add(p, m->io->in, POLLOUT, W_IN, 0);
	add(p, m->attach->listen_fd, POLLIN, W_ATTACH_LISTEN, 0);
	for (int i = 0; i < CONMON_ATTACH_CLIENTS; i++) {
		const struct conmon_attach_client *c = &m->attach->c[i];
		if (c->fd < 0)
			continue;
		/* read a client only when its bytes have somewhere to go */
		bool read_it = !c->input_done && s->pending_len == 0;
		add(p, c->fd, read_it ? POLLIN : 0, W_ATTACH, i);
	}
	add(p, m->ctl->listen_fd, POLLIN, W_CTL_LISTEN, 0);
	for (int i = 0; i < CONMON_CTL_CLIENTS; i++)
		if (m->ctl->c[i] >= 0)
			add(p, m->ctl->c[i], POLLIN, W_CTL, i);
}

static void dispatch(struct state *s, const struct pollset *p, nfds_t k)
{
	struct conmon_monitor *m = s->m;
	short ev = p->fd[k].revents;
	int i = p->idx[k];
	switch (p->what[k]) {
	case W_SIG:
		signals(s);
		break;
	case W_OUT:
		pump(s, &m->io->out, CONMON_ATTACH_STDOUT);
		break;
	case W_ERR:
		pump(s, &m->io->err, CONMON_ATTACH_STDERR);
		break;
	case W_IN:
		stdin_flush(s);
		break;
	case W_ATTACH_LISTEN:
		conmon_attach_accept(m->attach);
		break;
	case W_ATTACH:
		/* the fd may have been dropped by a send this round */
		if (m->attach->c[i].fd != p->fd[k].fd)
			break;
		if (ev & POLLIN)
			attach_input(s, i);
		else if (ev & (POLLHUP | POLLERR | POLLNVAL))
			conmon_attach_drop(m->attach, i);
		break;
	case W_CTL_LISTEN:
		conmon_ctl_accept(m->ctl);
		break;
	case W_CTL:
		conmon_ctl_serve(m->ctl, i, ctl_request, s);
		break;
	}
}

int conmon_monitor_run(struct conmon_monitor *m, int *ret_status, int64_t *ret_finished_ns)
{
	struct state s = { .m = m };
	struct pollset p;
	while (!s.exited) {
		build(&s, &p);
		if (poll(p.fd, p.n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* output first, so that what the container wrote before it
		 * exited is in the log before the exit is seen */
		for (nfds_t k = 0; k < p.n; k++)
			if (p.fd[k].revents && p.what[k] != W_SIG)
				dispatch(&s, &p, k);
		if (p.fd[0].revents)
			dispatch(&s, &p, 0);
	}
	drain(&s);
	*ret_status = s.status;
	*ret_finished_ns = s.finished_ns;
	return 0;
}
