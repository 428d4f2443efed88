/*
 * criserver: the state the CRI handlers share, and the handlers' names. One
 * struct criserver lives for the life of the process (main.c makes it);
 * handlers get it as their userdata. Owns nothing itself: the config is
 * common/daemon.c's, the backends backend.c's, the gRPC server
 * rpc_server.c's, the socket cri_socket.c's.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/config.h"
#include "criserver/backend.h"
#include "criserver/cri_socket.h"
#include "criserver/rpc.h"

/* The daemons criserver asks, in the suite's start order (common/proc.c). */
enum backend_id { BACKEND_IMAGED, BACKEND_SANDBOXD, BACKEND_STREAMD, BACKEND_N };

struct criserver {
	const struct crisp_config *cfg; /* common/daemon.c's */
	struct backend *backends[BACKEND_N];
	struct cri_socket *sock;
	struct rpc_server *rpc;
	int64_t started_ms;             /* CLOCK_REALTIME */
};

/* routes.c: every CRI method, with its handler or NULL (not built yet). */
const struct rpc_method *cri_methods(size_t *ret_n);

/* runtime_info.c: what the runtime is and how it is. */
void cri_version(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_status(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_runtime_config(struct rpc *r, const ProtobufCMessage *req, void *userdata);

/* images.c: the image service, checked here and served by imaged. */
void cri_pull_image(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_image_status(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_remove_image(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_list_images(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_stream_images(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_image_fs_info(struct rpc *r, const ProtobufCMessage *req, void *userdata);

/* pods.c: the pod sandboxes, checked here (check.h) and served by sandboxd. */
void cri_run_pod_sandbox(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_stop_pod_sandbox(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_remove_pod_sandbox(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_pod_sandbox_status(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_list_pod_sandbox(struct rpc *r, const ProtobufCMessage *req, void *userdata);

/* containers.c: the containers, checked here (check.h) and served by sandboxd. */
void cri_create_container(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_start_container(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_stop_container(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_remove_container(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_container_status(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_list_containers(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_reopen_container_log(struct rpc *r, const ProtobufCMessage *req, void *userdata);
void cri_exec_sync(struct rpc *r, const ProtobufCMessage *req, void *userdata);

/* call_backend.c: ask daemon b on behalf of CRI call r (see there). */
int cri_ask(struct rpc *r, struct backend *b, uint32_t type, const ProtobufCMessage *req,
	    const ProtobufCMessageDescriptor *answer_desc, backend_cb cb, void *ctx);
/* Hand CRI call r to daemon b as request type with body req, and relay its
 * answer (unpacked as answer_desc, the CRI response type) as the call's
 * answer, or its streamed answers as the call's stream. Finishes r. */
void cri_forward(struct rpc *r, struct backend *b, uint32_t type, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *answer_desc);
/* A request check (check.h): 0, or -EINVAL with the reason in err. */
typedef int (*cri_check_fn)(const ProtobufCMessage *req, char *err, size_t len);
/* cri_forward after check passed; INVALID_ARGUMENT with its reason if not. */
void cri_forward_checked(struct rpc *r, struct backend *b, cri_check_fn check, uint32_t type,
			 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *answer_desc);
