/*
 * test_criserver_client: a small grpc core client for criserver's unit
 * tests: a channel over a socket pair handed to an rpc_server, and one call
 * at a time that sends a request, reads every answer (crisp.Health messages)
 * and the status. Test code only.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <grpc/grpc.h>
#include "criserver/rpc.h"
#include "crisp.pb-c.h"

struct client {
	grpc_channel *ch;
	grpc_completion_queue *cq;
	int server_fd;                  /* the number handed to rpc_server_add_fd */
};

struct reply {
	grpc_status_code status;
	char details[256];
	int n;                          /* messages received */
	Crisp__Health *last;
	bool in_order;                  /* message i had pid i */
};

void client_open(struct client *c, struct rpc_server *srv);
void client_close(struct client *c);
/* One call: send req (len bytes), read every answer, then the status.
 * deadline_ms / cancel_ms: 0 for none. */
void client_call(struct client *c, const char *method, const void *req, size_t len,
		 int deadline_ms, int cancel_ms, struct reply *r);
/* The same with a crisp.Hello{name, pid} as the request. */
void client_call_hello(struct client *c, const char *method, const char *name, uint32_t pid,
		       int deadline_ms, int cancel_ms, struct reply *r);
void reply_clear(struct reply *r);
