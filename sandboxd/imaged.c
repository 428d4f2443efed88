/*
 * imaged: one request to imaged's admin socket per call (see imaged.h):
 * connect, Hello, the request, its answer, close. Never logs.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "common/chan.h"
#include "common/status.h"
#include "sandboxd/imaged.h"

#define IMAGED_TIMEOUT_MS 30000

static int call(const char *sock, uint32_t type, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *answer, int timeout_ms, ProtobufCMessage **ret,
		struct crisp_error *err)
{
	int fd = -1, role = 0;
	struct chan *c = NULL;
	struct chan_msg m = CHAN_MSG_INIT;
	int r = chan_connect(sock, &fd);
	if (r < 0)
		return crisp_fail(err, CRISP_STATUS_UNAVAILABLE, r, "imaged is not reachable at %s: %s",
				  sock, strerror(-r));
	if ((r = chan_new(fd, 0, &c)) < 0) {
		close(fd);
		return crisp_fail_errno(err, r, "channel to imaged");
	}
	r = chan_hello_client(c, CRISP__ROLE__ROLE_SANDBOXD, "sandboxd", 5000, &role);
	if (r == 0)
		r = chan_send_pb(c, type, 1, 0, req, -1);
	if (r == 0)
		r = chan_recv_timeout(c, timeout_ms > 0 ? timeout_ms : IMAGED_TIMEOUT_MS, &m);
	if (r < 0) {
		chan_free(c);
		return crisp_fail(err, r == -ETIMEDOUT ? CRISP_STATUS_DEADLINE_EXCEEDED :
				  CRISP_STATUS_UNAVAILABLE, r, "asking imaged: %s", strerror(-r));
	}
	if (m.status != CRISP_STATUS_OK) {
		r = crisp_fail(err, m.status, m.status == CRISP_STATUS_NOT_FOUND ? -ENOENT : -EIO,
			       "imaged: %s", m.error ? m.error : "failed");
	} else if (answer) {
		r = chan_msg_unpack(&m, answer, ret);
		if (r < 0)
			crisp_fail(err, CRISP_STATUS_INTERNAL, r, "imaged's answer does not unpack");
	}
	chan_msg_clear(&m);
	chan_free(c);
	return r;
}

int imaged_lease_image(const char *sock, const char *lease_id, const char *holder,
		       const char *image, int timeout_ms, Crisp__LeasedImage **ret,
		       struct crisp_error *err)
{
	Crisp__LeaseImage q = CRISP__LEASE_IMAGE__INIT;
	q.lease_id = (char *)lease_id;
	q.holder = (char *)holder;
	q.image = (char *)image;
	return call(sock, CRISP__MSG_TYPE__MSG_LEASE_IMAGE, &q.base, &crisp__leased_image__descriptor,
		    timeout_ms, (ProtobufCMessage **)ret, err);
}

int imaged_lease_release(const char *sock, const char *lease_id, struct crisp_error *err)
{
	Crisp__LeaseRelease q = CRISP__LEASE_RELEASE__INIT;
	q.id = (char *)lease_id;
	int r = call(sock, CRISP__MSG_TYPE__MSG_LEASE_RELEASE, &q.base, NULL, 0, NULL, err);
	return r == -ENOENT ? 0 : r;
}

int imaged_lease_list(const char *sock, Crisp__LeaseList **ret, struct crisp_error *err)
{
	Crisp__LeaseListRequest q = CRISP__LEASE_LIST_REQUEST__INIT;
	return call(sock, CRISP__MSG_TYPE__MSG_LEASE_LIST, &q.base, &crisp__lease_list__descriptor,
		    0, (ProtobufCMessage **)ret, err);
}
