/*
 * pods: the CRI pod sandbox calls in criserver (RunPodSandbox,
 * StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox). Each
 * request is checked first (check_pod.c: required fields, caps, forms), then
 * handed as is to sandboxd (MSG_SBX_*_POD), which does the work, with the
 * call's time left; sandboxd's answer or error is relayed unchanged.
 * Must never pass on a request it has not checked, nor log one (a pod's
 * annotations may hold anything).
 */
#include "criserver/check.h"
#include "criserver/criserver.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"

static struct backend *sandboxd(void *userdata)
{
	return ((struct criserver *)userdata)->backends[BACKEND_SANDBOXD];
}

void cri_run_pod_sandbox(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_run_pod, CRISP__MSG_TYPE__MSG_SBX_RUN_POD,
			    req, &runtime__v1__run_pod_sandbox_response__descriptor);
}

void cri_stop_pod_sandbox(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_stop_pod,
			    CRISP__MSG_TYPE__MSG_SBX_STOP_POD, req,
			    &runtime__v1__stop_pod_sandbox_response__descriptor);
}

void cri_remove_pod_sandbox(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_remove_pod,
			    CRISP__MSG_TYPE__MSG_SBX_REMOVE_POD, req,
			    &runtime__v1__remove_pod_sandbox_response__descriptor);
}

void cri_pod_sandbox_status(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_pod_status,
			    CRISP__MSG_TYPE__MSG_SBX_POD_STATUS, req,
			    &runtime__v1__pod_sandbox_status_response__descriptor);
}

void cri_list_pod_sandbox(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	cri_forward_checked(r, sandboxd(userdata), check_list_pods,
			    CRISP__MSG_TYPE__MSG_SBX_LIST_PODS, req,
			    &runtime__v1__list_pod_sandbox_response__descriptor);
}
