/*
 * chan_recv: the receive path of the channel (see chan.h). Owns the checks
 * on what a peer sends: a datagram cut short (MSG_TRUNC) or whose control
 * data was cut (MSG_CTRUNC), more than one fd, an fd the envelope does not
 * announce or the channel does not allow, unknown envelope flags, a payload
 * over the cap, a memfd that is not sealed or not of the announced size, are
 * all -EPROTO. Every fd received is either handed to the caller in the
 * message or closed here. Must never log and never map or unpack a payload
 * before its size is checked.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/chan.h"
#include "common/chan_int.h"
#include "common/memfd.h"
#include "crisp.pb-c.h"

struct frame {
	size_t len;
	int fds[CHAN_RECV_FDS];
	size_t n_fds;
};

static void frame_close_fds(struct frame *f)
{
	for (size_t i = 0; i < f->n_fds; i++)
		close(f->fds[i]);
	f->n_fds = 0;
}

/* Collect the fds of every SCM_RIGHTS header (beyond CHAN_RECV_FDS they are
 * closed at once). Any other control data is -EPROTO. */
static int frame_take_fds(struct msghdr *mh, struct frame *f)
{
	int r = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			r = -EPROTO;
			continue;
		}
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
			if (f->n_fds < CHAN_RECV_FDS)
				f->fds[f->n_fds++] = fd;
			else
				close(fd);
		}
	}
	return r;
}

/* Receive one datagram into c->buf. On success f holds its length and fds. */
static int frame_recv(struct chan *c, struct frame *f)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(CHAN_RECV_FDS * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = c->buf, .iov_len = CHAN_FRAME_MAX };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
	};
	int flags = MSG_CMSG_CLOEXEC | ((c->flags & CHAN_NONBLOCK) ? MSG_DONTWAIT : 0);
	ssize_t n;
	int r;

	do
		n = recvmsg(c->fd, &mh, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		if (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN)
			return -ECONNRESET;
		return -errno;
	}
	f->len = (size_t)n;
	f->n_fds = 0;
	r = frame_take_fds(&mh, f);
	if (r == 0 && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		r = -EPROTO;
	if (r == 0 && f->n_fds > 1)
		r = -EPROTO;
	if (r == 0 && n == 0)
		r = -ECONNRESET;        /* orderly shutdown of the peer */
	if (r < 0)
		frame_close_fds(f);
	return r;
}

/* The envelope's promises must match what came with it. */
static int envelope_check(const struct chan *c, const Crisp__Envelope *e, size_t n_fds)
{
	if (e->flags & ~CHAN_FLAGS_KNOWN)
		return -EPROTO;
	if ((e->flags & CHAN_MSG_MORE) && !(e->flags & CHAN_MSG_ANSWER))
		return -EPROTO;
	if (e->payload.len > c->payload_max)
		return -EPROTO;
	if (e->flags & CHAN_MSG_MEMFD) {
		if ((e->flags & CHAN_MSG_FD) || n_fds != 1 || e->payload.len != 0)
			return -EPROTO;
		if (e->payload_size == 0 || e->payload_size > c->payload_max)
			return -EPROTO;
		return 0;
	}
	if (e->payload_size != 0)
		return -EPROTO;
	if (e->flags & CHAN_MSG_FD)
		return (c->flags & CHAN_FDS) && n_fds == 1 ? 0 : -EPROTO;
	return n_fds == 0 ? 0 : -EPROTO;
}

/* Fill m from a checked envelope; takes the frame's fd (if any). */
static int envelope_to_msg(const struct chan *c, const Crisp__Envelope *e, struct frame *f,
			   struct chan_msg *m)
{
	int r;

	m->type = e->type;
	m->id = e->id;
	m->flags = e->flags;
	m->status = e->status;
	m->timeout_ms = e->timeout_ms;
	if (e->error && e->error[0]) {
		m->error = strdup(e->error);
		if (!m->error)
			return -ENOMEM;
	}
	if (e->flags & CHAN_MSG_MEMFD) {
		void *map;
		r = memfd_map_sealed(f->fds[0], (size_t)e->payload_size, c->payload_max, &map);
		if (r < 0)
			return r;
		m->payload = map;
		m->payload_len = (size_t)e->payload_size;
		m->payload_mapped = true;
		return 0;               /* the memfd is closed by the caller */
	}
	if (e->payload.len > 0) {
		m->payload = malloc(e->payload.len);
		if (!m->payload)
			return -ENOMEM;
		memcpy(m->payload, e->payload.data, e->payload.len);
		m->payload_len = e->payload.len;
	}
	if (e->flags & CHAN_MSG_FD) {
		m->fd = f->fds[0];
		f->n_fds = 0;
	}
	return 0;
}

int chan_recv(struct chan *c, struct chan_msg *ret)
{
	struct chan_msg m = CHAN_MSG_INIT;
	Crisp__Envelope *e;
	struct frame f = { .n_fds = 0 };
	int r;

	if (!c || !ret)
		return -EINVAL;
	r = frame_recv(c, &f);
	if (r < 0)
		return r;
	e = crisp__envelope__unpack(NULL, f.len, c->buf);
	if (!e) {
		frame_close_fds(&f);
		return -EPROTO;
	}
	r = envelope_check(c, e, f.n_fds);
	if (r == 0)
		r = envelope_to_msg(c, e, &f, &m);
	crisp__envelope__free_unpacked(e, NULL);
	frame_close_fds(&f);
	if (r < 0) {
		chan_msg_clear(&m);
		return r;
	}
	*ret = m;
	return 0;
}

int chan_msg_unpack(const struct chan_msg *m, const ProtobufCMessageDescriptor *desc,
		    ProtobufCMessage **ret)
{
	static const uint8_t empty[1];
	ProtobufCMessage *pb;

	if (!m || !desc || !ret)
		return -EINVAL;
	pb = protobuf_c_message_unpack(desc, NULL, m->payload_len,
				       m->payload ? m->payload : empty);
	if (!pb)
		return -EPROTO;
	*ret = pb;
	return 0;
}

int chan_recv_timeout(struct chan *c, int timeout_ms, struct chan_msg *ret)
{
	struct pollfd p;
	int r;

	if (!c || !ret)
		return -EINVAL;
	p = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	do
		r = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return chan_recv(c, ret);
}
