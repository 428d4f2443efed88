/*
 * handle: sandboxd's dispatch-table handlers for the CRI pod and container
 * calls (see handle.c). userdata is the daemon_ctx whose data is the
 * struct sbx.
 */
#pragma once
#include "common/server.h"

int handle_run_pod(struct server_req *req, void *userdata);
int handle_stop_pod(struct server_req *req, void *userdata);
int handle_remove_pod(struct server_req *req, void *userdata);
int handle_pod_status(struct server_req *req, void *userdata);
int handle_list_pods(struct server_req *req, void *userdata);
int handle_create_ctr(struct server_req *req, void *userdata);
int handle_start_ctr(struct server_req *req, void *userdata);
int handle_stop_ctr(struct server_req *req, void *userdata);
int handle_remove_ctr(struct server_req *req, void *userdata);
int handle_ctr_status(struct server_req *req, void *userdata);
int handle_list_ctrs(struct server_req *req, void *userdata);
int handle_reopen_log(struct server_req *req, void *userdata);
int handle_exec_sync(struct server_req *req, void *userdata);
