/*
 * chan: one crisp.Envelope per SEQPACKET datagram (see chan.h). Owns the
 * channel object and sending: inline or through a sealed memfd, one sendmsg
 * per message (so concurrent senders never interleave), MSG_NOSIGNAL. The
 * receive path is chan_recv.c. Must never log; must never keep state that
 * makes sending unsafe from several threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/chan.h"
#include "common/chan_int.h"
#include "common/memfd.h"
#include "crisp.pb-c.h"

int chan_new(int fd, unsigned flags, struct chan **ret)
{
	struct chan *c;

	if (fd < 0 || !ret || (flags & ~(unsigned)(CHAN_FDS | CHAN_NONBLOCK)))
		return -EINVAL;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->buf = malloc(CHAN_FRAME_MAX);
	if (!c->buf) {
		free(c);
		return -ENOMEM;
	}
	c->fd = fd;
	c->flags = flags;
	c->payload_max = CHAN_PAYLOAD_MAX;
	*ret = c;
	return 0;
}

void chan_free(struct chan *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

int chan_fd(const struct chan *c)
{
	return c ? c->fd : -EINVAL;
}

void chan_set_payload_max(struct chan *c, size_t max)
{
	if (c)
		c->payload_max = max;
}

void chan_msg_clear(struct chan_msg *m)
{
	if (!m)
		return;
	if (m->payload_mapped)
		munmap(m->payload, m->payload_len);
	else
		free(m->payload);
	free(m->error);
	if (m->fd >= 0)
		close(m->fd);
	*m = (struct chan_msg)CHAN_MSG_INIT;
}

/* ---- sending ---- */

static int send_frame(int sock, const uint8_t *frame, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)frame, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		memset(&ctl, 0, sizeof ctl);
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Pack env and send it with fd (or none). */
static int send_envelope(const struct chan *c, const Crisp__Envelope *env, int fd)
{
	size_t len = crisp__envelope__get_packed_size(env);
	uint8_t *frame;
	int r;

	if (len > CHAN_FRAME_MAX)
		return -EMSGSIZE;
	frame = malloc(len ? len : 1);
	if (!frame)
		return -ENOMEM;
	crisp__envelope__pack(env, frame);
	r = send_frame(c->fd, frame, len, fd);
	free(frame);
	return r;
}

int chan_send(struct chan *c, const struct chan_msg *m)
{
	Crisp__Envelope env = CRISP__ENVELOPE__INIT;
	char error[CHAN_ERROR_MAX + 1];
	int fd = -1, r;

	if (!c || !m || (m->payload_len > 0 && !m->payload))
		return -EINVAL;
	if (m->fd >= 0 && !(c->flags & CHAN_FDS))
		return -EINVAL;
	if (m->payload_len > c->payload_max)
		return -EMSGSIZE;
	env.type = m->type;
	env.id = m->id;
	env.flags = m->flags & (CHAN_MSG_ANSWER | CHAN_MSG_MORE);
	env.status = m->status;
	env.timeout_ms = m->timeout_ms;
	if (m->error) {
		snprintf(error, sizeof error, "%s", m->error);
		env.error = error;
	}
	if (m->payload_len > CHAN_INLINE_MAX) {
		if (m->fd >= 0)
			return -EMSGSIZE;       /* one fd per message */
		r = memfd_new_sealed("crisp-payload", m->payload, m->payload_len, &fd);
		if (r < 0)
			return r;
		env.flags |= CHAN_MSG_MEMFD;
		env.payload_size = m->payload_len;
	} else {
		env.payload.data = m->payload;
		env.payload.len = m->payload_len;
		if (m->fd >= 0) {
			env.flags |= CHAN_MSG_FD;
			fd = m->fd;
		}
	}
	r = send_envelope(c, &env, fd);
	if (env.flags & CHAN_MSG_MEMFD)
		close(fd);
	return r;
}

/* Pack msg (NULL: empty payload) into m's payload and send m. */
static int send_packed(struct chan *c, struct chan_msg *m, const ProtobufCMessage *msg)
{
	uint8_t *buf = NULL;
	int r;

	if (msg) {
		size_t len = protobuf_c_message_get_packed_size(msg);
		if (len > c->payload_max)
			return -EMSGSIZE;
		if (len > 0) {
			buf = malloc(len);
			if (!buf)
				return -ENOMEM;
			protobuf_c_message_pack(msg, buf);
		}
		m->payload = buf;
		m->payload_len = len;
	}
	r = chan_send(c, m);
	free(buf);
	m->payload = NULL;
	m->payload_len = 0;
	return r;
}

int chan_send_pb(struct chan *c, uint32_t type, uint64_t id, uint32_t flags,
		 const ProtobufCMessage *msg, int fd)
{
	struct chan_msg m = CHAN_MSG_INIT;

	if (!c)
		return -EINVAL;
	m.type = type;
	m.id = id;
	m.flags = flags;
	m.fd = fd;
	return send_packed(c, &m, msg);
}

int chan_answer(struct chan *c, const struct chan_msg *req, int32_t status,
		const char *error, const ProtobufCMessage *msg, int fd)
{
	struct chan_msg m = CHAN_MSG_INIT;

	if (!c || !req)
		return -EINVAL;
	m.type = req->type;
	m.id = req->id;
	m.flags = CHAN_MSG_ANSWER;
	m.status = status;
	m.error = (char *)error;
	m.fd = fd;
	return send_packed(c, &m, msg);
}
