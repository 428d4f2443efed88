/*
 * runtime_info: the CRI calls that say what the runtime is and how it is:
 * Version, Status and RuntimeConfig.
 *
 * Status: RuntimeReady is true only while every daemon behind criserver
 * (imaged, sandboxd, streamd) is connected and handshaken; otherwise false,
 * reason DaemonNotReady, naming each daemon that is down. NetworkReady is
 * sandboxd's answer to MSG_SBX_NETWORK_STATUS (false when sandboxd is down or
 * cannot tell). Runtime handlers: one per configured handler, the default
 * one also under the empty name (critest looks features up there), each
 * with the features sandboxd found for it (NetworkStatus.handlers: recursive
 * read-only mounts, user namespaces); a handler sandboxd did not report, or
 * every handler when sandboxd gave no answer, has them all false. The
 * runtime's own features are false. verbose adds JSON info (status_info.c),
 * with sandboxd's answer as it came ("network").
 *
 * Must never report ready for something it did not check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "criserver/criserver.h"
#include "criserver/status_info.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"

#define CRI_API_VERSION "0.1.0"         /* the kubelet API version, as containerd says it */
#define STATUS_TEXT_MAX 512
#define STATUS_HANDLERS_MAX (CONFIG_MAX_HANDLERS + 1)

void cri_version(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	Runtime__V1__VersionResponse v = RUNTIME__V1__VERSION_RESPONSE__INIT;

	v.version = (char *)CRI_API_VERSION;
	v.runtime_name = (char *)"crisp";
	v.runtime_version = (char *)CRISP_VERSION;
	v.runtime_api_version = (char *)"v1";
	rpc_finish(r, &v.base);
}

void cri_runtime_config(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	struct criserver *cs = userdata;
	Runtime__V1__RuntimeConfigResponse rc = RUNTIME__V1__RUNTIME_CONFIG_RESPONSE__INIT;
	Runtime__V1__LinuxRuntimeConfiguration lx = RUNTIME__V1__LINUX_RUNTIME_CONFIGURATION__INIT;
	const char *m = cs->cfg->cgroup_manager ? cs->cfg->cgroup_manager : "";

	if (strcmp(m, "cgroupfs") == 0) {
		lx.cgroup_driver = RUNTIME__V1__CGROUP_DRIVER__CGROUPFS;
	} else if (strcmp(m, "systemd") == 0) {
		lx.cgroup_driver = RUNTIME__V1__CGROUP_DRIVER__SYSTEMD;
	} else {
		rpc_finish_status(r, GRPC_STATUS_FAILED_PRECONDITION,
				  "runtime.cgroup_manager is \"%s\", neither cgroupfs nor systemd", m);
		return;
	}
	rc.linux = &lx;
	rpc_finish(r, &rc.base);
}

/* RuntimeReady: every daemon connected. */
static void runtime_ready(struct criserver *cs, Runtime__V1__RuntimeCondition *c, char *msg,
			  size_t len)
{
	size_t n = 0;

	c->type = (char *)"RuntimeReady";
	c->status = true;
	msg[0] = '\0';
	for (int i = 0; i < BACKEND_N; i++) {
		struct backend_info bi;
		backend_get_info(cs->backends[i], &bi);
		if (bi.ready)
			continue;
		c->status = false;
		int k = snprintf(msg + n, len - n, "%s%s is not connected (%s)", n ? "; " : "",
				 bi.name, bi.last_error[0] ? bi.last_error : "down");
		if (k > 0)
			n = (size_t)k >= len - n ? len - 1 : n + (size_t)k;
	}
	if (!c->status)
		c->reason = (char *)"DaemonNotReady";
	c->message = msg;
}

/* NetworkReady: sandboxd's answer a. */
static void network_ready(const struct backend_answer *a, Runtime__V1__RuntimeCondition *c,
			  char *msg, size_t len)
{
	const Crisp__NetworkStatus *ns = (const Crisp__NetworkStatus *)a->body;

	c->type = (char *)"NetworkReady";
	msg[0] = '\0';
	c->message = msg;
	if (a->status == CRISP_STATUS_OK && ns) {
		c->status = ns->ready;
		snprintf(msg, len, "%s", ns->message ? ns->message : "");
		if (!ns->ready)
			c->reason = ns->reason && ns->reason[0] ? ns->reason :
				    (char *)"NetworkPluginNotReady";
		return;
	}
	c->status = false;
	if (a->status == CRISP_STATUS_UNAVAILABLE) {
		c->reason = (char *)"DaemonNotReady";
		snprintf(msg, len, "sandboxd cannot tell: %s", a->error ? a->error : "not connected");
	} else {
		c->reason = (char *)"NetworkStatusUnknown";
		snprintf(msg, len, "sandboxd cannot tell: %s", a->error ? a->error : "no answer");
	}
}

/* What sandboxd said handler name can do; all false when it said nothing. */
static void handler_features(const Crisp__NetworkStatus *ns, const char *name,
			     Runtime__V1__RuntimeHandlerFeatures *ret)
{
	*ret = (Runtime__V1__RuntimeHandlerFeatures)RUNTIME__V1__RUNTIME_HANDLER_FEATURES__INIT;
	for (size_t i = 0; ns && i < ns->n_handlers; i++) {
		const Crisp__RuntimeHandlerInfo *hi = ns->handlers[i];
		if (hi && hi->name && strcmp(hi->name, name) == 0) {
			ret->recursive_read_only_mounts = hi->recursive_read_only_mounts;
			ret->user_namespaces = hi->user_namespaces;
			return;
		}
	}
}

static void handler_add(Runtime__V1__RuntimeHandler *h, Runtime__V1__RuntimeHandler **hp,
			Runtime__V1__RuntimeHandlerFeatures *f, size_t *n, const char *name,
			const char *features_of, const Crisp__NetworkStatus *ns)
{
	h[*n] = (Runtime__V1__RuntimeHandler)RUNTIME__V1__RUNTIME_HANDLER__INIT;
	h[*n].name = (char *)name;
	handler_features(ns, features_of, &f[*n]);
	h[*n].features = &f[*n];
	hp[*n] = &h[*n];
	(*n)++;
}

/* One handler per configured one; the default also under "". ns: sandboxd's
 * answer, or NULL. */
static size_t runtime_handlers(const struct crisp_config *cfg, const Crisp__NetworkStatus *ns,
			       Runtime__V1__RuntimeHandler *h, Runtime__V1__RuntimeHandler **hp,
			       Runtime__V1__RuntimeHandlerFeatures *f)
{
	size_t n = 0;

	if (cfg->default_runtime && config_handler(cfg, cfg->default_runtime))
		handler_add(h, hp, f, &n, "", cfg->default_runtime, ns);
	for (size_t i = 0; i < cfg->n_handlers && n < STATUS_HANDLERS_MAX; i++)
		handler_add(h, hp, f, &n, cfg->handlers[i].name, cfg->handlers[i].name, ns);
	return n;
}

static void status_answer(struct criserver *cs, struct rpc *r, bool verbose,
			  const struct backend_answer *net)
{
	Runtime__V1__StatusResponse resp = RUNTIME__V1__STATUS_RESPONSE__INIT;
	Runtime__V1__RuntimeStatus st = RUNTIME__V1__RUNTIME_STATUS__INIT;
	Runtime__V1__RuntimeCondition conds[2] = {
		RUNTIME__V1__RUNTIME_CONDITION__INIT, RUNTIME__V1__RUNTIME_CONDITION__INIT,
	};
	Runtime__V1__RuntimeCondition *condp[2] = { &conds[0], &conds[1] };
	Runtime__V1__RuntimeHandlerFeatures hf[STATUS_HANDLERS_MAX];
	Runtime__V1__RuntimeHandler h[STATUS_HANDLERS_MAX];
	Runtime__V1__RuntimeHandler *hp[STATUS_HANDLERS_MAX];
	Runtime__V1__RuntimeFeatures features = RUNTIME__V1__RUNTIME_FEATURES__INIT;
	struct status_info info;
	char rmsg[STATUS_TEXT_MAX], nmsg[STATUS_TEXT_MAX];

	runtime_ready(cs, &conds[0], rmsg, sizeof rmsg);
	network_ready(net, &conds[1], nmsg, sizeof nmsg);
	st.n_conditions = 2;
	st.conditions = condp;
	resp.status = &st;
	const Crisp__NetworkStatus *ns = net->status == CRISP_STATUS_OK ?
					 (const Crisp__NetworkStatus *)net->body : NULL;
	resp.n_runtime_handlers = runtime_handlers(cs->cfg, ns, h, hp, hf);
	resp.runtime_handlers = hp;
	resp.features = &features;
	if (verbose) {
		if (status_info_build(cs, ns, net->error, &info) < 0) {
			rpc_finish_status(r, GRPC_STATUS_INTERNAL, "out of memory");
			return;
		}
		resp.n_info = info.n;
		resp.info = info.entries;
	}
	rpc_finish(r, &resp.base);
	if (verbose)
		status_info_free(&info);
}

struct status_call {
	struct criserver *cs;
	struct rpc *r;
	bool verbose;
};

static void status_network_cb(void *ctx, const struct backend_answer *a)
{
	struct status_call *c = ctx;

	if (a->more)
		return;         /* NetworkStatus is one answer: wait for the last */
	if (a->status == CRISP_STATUS_CANCELLED)
		rpc_finish_status(c->r, GRPC_STATUS_CANCELLED, "%s", a->error ? a->error : "cancelled");
	else
		status_answer(c->cs, c->r, c->verbose, a);
	free(c);
}

void cri_status(struct rpc *r, const ProtobufCMessage *req, void *userdata)
{
	const Runtime__V1__StatusRequest *q = (const Runtime__V1__StatusRequest *)req;
	Crisp__NetworkStatusRequest nreq = CRISP__NETWORK_STATUS_REQUEST__INIT;
	struct criserver *cs = userdata;
	struct status_call *c = calloc(1, sizeof *c);

	if (!c) {
		rpc_finish_status(r, GRPC_STATUS_INTERNAL, "out of memory");
		return;
	}
	*c = (struct status_call){ .cs = cs, .r = r, .verbose = q->verbose };
	int e = cri_ask(r, cs->backends[BACKEND_SANDBOXD], CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS,
			&nreq.base, &crisp__network_status__descriptor, status_network_cb, c);
	if (e < 0) {
		struct backend_answer a = {
			.status = e == -ENOTCONN ? CRISP_STATUS_UNAVAILABLE : CRISP_STATUS_INTERNAL,
			.error = e == -ENOTCONN ? "sandboxd is not connected" : strerror(-e),
		};
		status_network_cb(c, &a);
	}
}
