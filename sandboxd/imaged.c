/*
 * imaged: sandboxd's one connection to imaged's admin socket (see imaged.h):
 * connect and Hello when there is none, the request, its answer (matched by
 * id), and on a broken connection one retry on a new one. Never logs.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "common/chan.h"
#include "common/status.h"
#include "sandboxd/imaged.h"

#define IMAGED_TIMEOUT_MS 30000
#define HELLO_TIMEOUT_MS 5000

void imaged_conn_init(struct imaged_conn *c, const char *sock)
{
	*c = (struct imaged_conn){ .sock = sock, .next_id = 1 };
	pthread_mutex_init(&c->lock, NULL);
}

void imaged_conn_close(struct imaged_conn *c)
{
	chan_free(c->chan);
	c->chan = NULL;
	pthread_mutex_destroy(&c->lock);
}

static int connect_chan(struct imaged_conn *c)
{
	int fd = -1, role = 0;
	int r = chan_connect(c->sock, &fd);
	if (r < 0)
		return r;
	if ((r = chan_new(fd, 0, &c->chan)) < 0) {
		close(fd);
		return r;
	}
	r = chan_hello_client(c->chan, CRISP__ROLE__ROLE_SANDBOXD, "sandboxd", HELLO_TIMEOUT_MS,
			      &role);
	if (r < 0) {
		chan_free(c->chan);
		c->chan = NULL;
	}
	return r;
}

/* One exchange on the connection (lock held): the answer for our id. */
static int exchange(struct imaged_conn *c, uint32_t type, const ProtobufCMessage *req,
		    int timeout_ms, struct chan_msg *ret)
{
	uint64_t id = c->next_id++;
	int r = chan_send_pb(c->chan, type, id, 0, req, -1);
	while (r == 0) {
		r = chan_recv_timeout(c->chan, timeout_ms, ret);
		if (r == 0 && ret->id == id && (ret->flags & CHAN_MSG_ANSWER))
			return 0;
		if (r == 0)             /* an answer to a request we gave up on */
			chan_msg_clear(ret);
	}
	return r;
}

static bool broken(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -EPROTO;
}

static int call(struct imaged_conn *c, uint32_t type, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *answer, int timeout_ms, ProtobufCMessage **ret,
		struct crisp_error *err)
{
	struct chan_msg m = CHAN_MSG_INIT;
	int r = 0;
	pthread_mutex_lock(&c->lock);
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = !c->chan;
		if (fresh && (r = connect_chan(c)) < 0)
			break;
		r = exchange(c, type, req, timeout_ms > 0 ? timeout_ms : IMAGED_TIMEOUT_MS, &m);
		if (r == 0)
			break;
		chan_free(c->chan);     /* broken, or out of step after a timeout */
		c->chan = NULL;
		if (fresh || !broken(r))
			break;          /* only a kept connection that died is tried again */
	}
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		return crisp_fail(err, r == -ETIMEDOUT ? CRISP_STATUS_DEADLINE_EXCEEDED :
				  CRISP_STATUS_UNAVAILABLE, r, "asking imaged at %s: %s", c->sock,
				  strerror(-r));
	if (m.status != CRISP_STATUS_OK) {
		r = crisp_fail(err, m.status, m.status == CRISP_STATUS_NOT_FOUND ? -ENOENT : -EIO,
			       "imaged: %s", m.error ? m.error : "failed");
	} else if (answer) {
		r = chan_msg_unpack(&m, answer, ret);
		if (r < 0)
			crisp_fail(err, CRISP_STATUS_INTERNAL, r, "imaged's answer does not unpack");
	}
	chan_msg_clear(&m);
	return r;
}

int imaged_lease_image(struct imaged_conn *c, const char *lease_id, const char *holder,
		       const char *image, int timeout_ms, Crisp__LeasedImage **ret,
		       struct crisp_error *err)
{
	Crisp__LeaseImage q = CRISP__LEASE_IMAGE__INIT;
	q.lease_id = (char *)lease_id;
	q.holder = (char *)holder;
	q.image = (char *)image;
	return call(c, CRISP__MSG_TYPE__MSG_LEASE_IMAGE, &q.base, &crisp__leased_image__descriptor,
		    timeout_ms, (ProtobufCMessage **)ret, err);
}

int imaged_lease_release(struct imaged_conn *c, const char *lease_id, struct crisp_error *err)
{
	Crisp__LeaseRelease q = CRISP__LEASE_RELEASE__INIT;
	q.id = (char *)lease_id;
	int r = call(c, CRISP__MSG_TYPE__MSG_LEASE_RELEASE, &q.base, NULL, 0, NULL, err);
	return r == -ENOENT ? 0 : r;
}

int imaged_lease_list(struct imaged_conn *c, Crisp__LeaseList **ret, struct crisp_error *err)
{
	Crisp__LeaseListRequest q = CRISP__LEASE_LIST_REQUEST__INIT;
	return call(c, CRISP__MSG_TYPE__MSG_LEASE_LIST, &q.base, &crisp__lease_list__descriptor,
		    0, (ProtobufCMessage **)ret, err);
}
