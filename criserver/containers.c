/*
 * containers: the CRI container calls in criserver (CreateContainer,
 * StartContainer, StopContainer, RemoveContainer, ContainerStatus,
 * ListContainers, ReopenContainerLog, ExecSync). Each request is checked
 * first (check_ctr.c), then handed as is to sandboxd (MSG_SBX_*_CTR,
 * MSG_SBX_REOPEN_LOG, MSG_SBX_EXEC_SYNC) with the call's time left, and
 * sandboxd's answer or error is relayed unchanged.
 *
 * Timeouts of their own: ExecSync's `timeout` is the command's, and
 * StopContainer's the grace period before SIGKILL; sandboxd enforces them.
 * A call that came with a gRPC deadline keeps it (kubelet gives these calls
 * their timeout plus its own request timeout). One that came without gets
 * criserver's api.max_call_timeout, raised here to the call's own timeout
 * plus CRI_OWN_TIMEOUT_GRACE_S, so that criserver's default never ends a
 * command or a stop before the time the caller asked for (a timeout of 0,
 * no limit, is bounded by api.max_call_timeout alone).
 *
 * Must never pass on a request it has not checked, nor log one (envs may
 * hold credentials).
 */
#include <stdint.h>

#include "criserver/check.h"
#include "criserver/criserver.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"

/* time sandboxd may take past a call's own timeout (kill, reap, answer) */
#define CRI_OWN_TIMEOUT_GRACE_S 30
#define CRI_OWN_TIMEOUT_MAX_S (INT64_MAX / 1000 - CRI_OWN_TIMEOUT_GRACE_S)

static struct backend *sandboxd(void *userdata)
{
	return ((struct criserver *)userdata)->backends[BACKEND_SANDBOXD];
}

/* A call without a deadline lives at least its own timeout_s plus grace. */
static void own_timeout(struct rpc *r, int64_t timeout_s)
{
	if (timeout_s <= 0)
		return;
	if (timeout_s > CRI_OWN_TIMEOUT_MAX_S)
		timeout_s = CRI_OWN_TIMEOUT_MAX_S;
	rpc_default_deadline_at_least(r, (timeout_s + CRI_OWN_TIMEOUT_GRACE_S) * 1000);
}

void cri_create_container(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_create_ctr,
			    CRISP__MSG_TYPE__MSG_SBX_CREATE_CTR, req,
			    &runtime__v1__create_container_response__descriptor);
}

void cri_start_container(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_start_ctr,
			    CRISP__MSG_TYPE__MSG_SBX_START_CTR, req,
			    &runtime__v1__start_container_response__descriptor);
}

void cri_stop_container(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Runtime__V1__StopContainerRequest *q = (const void *)req;

	if (q->timeout > 0)
		own_timeout(r, q->timeout);
	cri_forward_checked(r, sandboxd(userdata), check_stop_ctr,
			    CRISP__MSG_TYPE__MSG_SBX_STOP_CTR, req,
			    &runtime__v1__stop_container_response__descriptor);
}

void cri_remove_container(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_remove_ctr,
			    CRISP__MSG_TYPE__MSG_SBX_REMOVE_CTR, req,
			    &runtime__v1__remove_container_response__descriptor);
}

void cri_container_status(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_ctr_status,
			    CRISP__MSG_TYPE__MSG_SBX_CTR_STATUS, req,
			    &runtime__v1__container_status_response__descriptor);
}

void cri_list_containers(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_list_ctrs,
			    CRISP__MSG_TYPE__MSG_SBX_LIST_CTRS, req,
			    &runtime__v1__list_containers_response__descriptor);
}

void cri_reopen_container_log(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_reopen_log,
			    CRISP__MSG_TYPE__MSG_SBX_REOPEN_LOG, req,
			    &runtime__v1__reopen_container_log_response__descriptor);
}

void cri_exec_sync(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Runtime__V1__ExecSyncRequest *q = (const void *)req;

	own_timeout(r, q->timeout);
	cri_forward_checked(r, sandboxd(userdata), check_exec_sync,
			    CRISP__MSG_TYPE__MSG_SBX_EXEC_SYNC, req,
			    &runtime__v1__exec_sync_response__descriptor);
}
