/*
 * chan_hello: the handshake that opens every channel (see chan.h). The
 * client speaks first with its Hello (protocol version, role, pid, name);
 * the server checks the version and that the role may use this socket, and
 * answers with its own Hello (status OK) or an error answer that says why
 * before the caller closes. The client checks the server's version in turn.
 * Must never log; must never let a channel past a failed check.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "common/chan.h"
#include "common/status.h"
#include "crisp.pb-c.h"

#ifndef CRISP_VERSION
#define CRISP_VERSION "unknown"
#endif

#define HELLO_ID 0

static void hello_fill(Crisp__Hello *h, int role, const char *name)
{
	h->version = CRISP_PROTOCOL_VERSION;
	h->role = (Crisp__Role)role;
	h->pid = (uint32_t)getpid();
	h->name = (char *)(name ? name : "");
	h->suite_version = (char *)CRISP_VERSION;
}

static bool role_valid(int role)
{
	return role > 0 && role < 32;
}

int chan_hello_client(struct chan *c, int role, const char *name, int timeout_ms,
		      int *ret_server_role)
{
	Crisp__Hello mine = CRISP__HELLO__INIT, *theirs = NULL;
	struct chan_msg m = CHAN_MSG_INIT;
	int r;

	if (!c || !role_valid(role))
		return -EINVAL;
	hello_fill(&mine, role, name);
	r = chan_send_pb(c, CRISP__MSG_TYPE__MSG_HELLO, HELLO_ID, 0, &mine.base, -1);
	if (r < 0)
		return r;
	r = chan_recv_timeout(c, timeout_ms, &m);
	if (r < 0)
		return r;
	if (m.type != CRISP__MSG_TYPE__MSG_HELLO || m.id != HELLO_ID || m.fd >= 0 ||
	    (m.flags & (CHAN_MSG_ANSWER | CHAN_MSG_MORE)) != CHAN_MSG_ANSWER) {
		r = -EPROTO;
		goto out;
	}
	if (m.status != CRISP_STATUS_OK) {
		r = m.status == CRISP_STATUS_PERMISSION_DENIED ? -EPERM :
		    m.status == CRISP_STATUS_FAILED_PRECONDITION ? -EPROTONOSUPPORT : -EPROTO;
		goto out;
	}
	r = chan_msg_unpack(&m, &crisp__hello__descriptor, (ProtobufCMessage **)&theirs);
	if (r < 0)
		goto out;
	if (theirs->version != CRISP_PROTOCOL_VERSION)
		r = -EPROTONOSUPPORT;
	else if (!role_valid((int)theirs->role))
		r = -EPROTO;
	else if (ret_server_role)
		*ret_server_role = (int)theirs->role;
	crisp__hello__free_unpacked(theirs, NULL);
out:
	chan_msg_clear(&m);
	return r;
}

/* Answer the Hello m: our Hello with status, or an error text. */
static int hello_answer(struct chan *c, const struct chan_msg *m, int role, const char *name,
			int32_t status, const char *error)
{
	Crisp__Hello mine = CRISP__HELLO__INIT;

	hello_fill(&mine, role, name);
	return chan_answer(c, m, status, error, &mine.base, -1);
}

int chan_hello_check(struct chan *c, const struct chan_msg *m, int role, const char *name,
		     uint32_t allowed_roles, int *ret_client_role)
{
	Crisp__Hello *theirs = NULL;
	char why[128];
	int r, peer_role;

	if (!c || !m || !role_valid(role))
		return -EINVAL;
	if (m->type != CRISP__MSG_TYPE__MSG_HELLO || m->flags != 0 || m->fd >= 0 ||
	    chan_msg_unpack(m, &crisp__hello__descriptor, (ProtobufCMessage **)&theirs) < 0) {
		(void)hello_answer(c, m, role, name, CRISP_STATUS_INVALID_ARGUMENT,
				   "the first message must be a Hello");
		return -EPROTO;
	}
	peer_role = (int)theirs->role;
	if (theirs->version != CRISP_PROTOCOL_VERSION) {
		snprintf(why, sizeof why, "protocol version %u, this server speaks %u",
			 theirs->version, CRISP_PROTOCOL_VERSION);
		(void)hello_answer(c, m, role, name, CRISP_STATUS_FAILED_PRECONDITION, why);
		r = -EPROTONOSUPPORT;
	} else if (!role_valid(peer_role) || !(allowed_roles & (1u << peer_role))) {
		snprintf(why, sizeof why, "role %d may not use this socket", peer_role);
		(void)hello_answer(c, m, role, name, CRISP_STATUS_PERMISSION_DENIED, why);
		r = -EPERM;
	} else {
		r = hello_answer(c, m, role, name, CRISP_STATUS_OK, NULL);
	}
	crisp__hello__free_unpacked(theirs, NULL);
	if (r == 0 && ret_client_role)
		*ret_client_role = peer_role;
	return r;
}

int chan_hello_server(struct chan *c, int role, const char *name, uint32_t allowed_roles,
		      int timeout_ms, int *ret_client_role)
{
	struct chan_msg m = CHAN_MSG_INIT;
	int r;

	if (!c)
		return -EINVAL;
	r = chan_recv_timeout(c, timeout_ms, &m);
	if (r < 0)
		return r;
	r = chan_hello_check(c, &m, role, name, allowed_roles, ret_client_role);
	chan_msg_clear(&m);
	return r;
}
