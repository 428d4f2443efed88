/*
 * cri: crispctl's side of the CRI: the channel to the socket endpoint.c
 * names (opened on first use), calls by method name with the timeout of
 * --timeout, errors printed as "crispctl: METHOD: STATUS: message", the
 * SIGINT/SIGTERM counter that cancels a call in flight, and ids given as
 * prefixes resolved through ListContainers / ListPodSandbox (so that an
 * ambiguous prefix says so). Never prints a request (envs may hold
 * credentials).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "crispctl/cri_client.h"
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"

static volatile sig_atomic_t interrupts;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupts++;
}

int ctl_interrupts(void)
{
	return (int)interrupts;
}

int ctl_cri_connect(struct ctl *c)
{
	char target[CTL_PATH_MAX + 8];
	struct stat st;
	if (c->cri)
		return 0;
	int r = ctl_endpoint_path(c->endpoint, getenv(CTL_ENDPOINT_ENV), c->default_listen,
				  c->cri_path, sizeof c->cri_path);
	if (r < 0) {
		ctl_fail("runtime endpoint %s: %s", c->endpoint ? c->endpoint :
			 getenv(CTL_ENDPOINT_ENV) ? getenv(CTL_ENDPOINT_ENV) : "(default)",
			 r == -EPROTONOSUPPORT ? "only unix sockets (unix:///path or a path)" :
			 strerror(-r));
		return r;
	}
	r = stat(c->cri_path, &st) < 0 ? -errno : !S_ISSOCK(st.st_mode) ? -ENOTSOCK : 0;
	if (r < 0) {
		ctl_fail("cannot reach the CRI socket %s: %s (is crisp running? choose the socket "
			 "with -r/--runtime-endpoint or $%s)", c->cri_path,
			 r == -ENOTSOCK ? "not a socket" : strerror(-r), CTL_ENDPOINT_ENV);
		return r;
	}
	snprintf(target, sizeof target, "unix:%s", c->cri_path);
	r = cri_client_open(target, &c->cri);
	if (r < 0) {
		ctl_fail("gRPC channel to %s: %s", c->cri_path, strerror(-r));
		return r;
	}
	struct sigaction sa = { .sa_handler = on_interrupt };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}

void ctl_cri_close(struct ctl *c)
{
	cri_client_close(c->cri);
	c->cri = NULL;
}

static bool image_method(const char *m)
{
	static const char *const img[] = {
		"ListImages", "StreamImages", "ImageStatus", "PullImage", "RemoveImage",
		"ImageFsInfo",
	};
	for (size_t i = 0; i < sizeof img / sizeof img[0]; i++)
		if (!strcmp(m, img[i]))
			return true;
	return false;
}

int ctl_cri_call(struct ctl *c, const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *desc, int64_t timeout_ms, int flags,
		 ProtobufCMessage **ret)
{
	char path[128];
	struct cri_status st;
	int r = ctl_cri_connect(c);
	if (r < 0) {
		c->last_code = 14;      /* UNAVAILABLE */
		snprintf(c->last_error, sizeof c->last_error, "cannot reach the CRI socket");
		return r;
	}
	snprintf(path, sizeof path, "/runtime.v1.%s/%s",
		 image_method(method) ? "ImageService" : "RuntimeService", method);
	r = cri_client_call(c->cri, path, req, desc, timeout_ms > 0 ? timeout_ms : c->timeout_ms,
			    &interrupts, ret, &st);
	c->last_code = r == 0 ? 0 : st.code;
	if (r == 0)
		return 0;
	if (r == -EINTR)
		snprintf(c->last_error, sizeof c->last_error, "%s: interrupted", method);
	else if (r == -EREMOTEIO)
		snprintf(c->last_error, sizeof c->last_error, "%s: %s: %s%s", method,
			 cri_status_name(st.code), st.details,
			 st.code == 14 && strstr(st.details, "failed to connect") ?
			 " (is crisp running at this endpoint?)" : "");
	else if (r == -EBADMSG)
		snprintf(c->last_error, sizeof c->last_error, "%s: the answer does not unpack as %s",
			 method, desc->name);
	else
		snprintf(c->last_error, sizeof c->last_error, "%s: %s", method, strerror(-r));
	if (!(flags & CTL_CALL_QUIET))
		ctl_fail("%s", c->last_error);
	return r;
}

int ctl_id_pick(const char *what, const char *prefix, const char *const *ids, size_t n,
		int flags, char **ret_id)
{
	size_t len = strlen(prefix), found = 0, at = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(ids[i], prefix)) {
			found = 1;
			at = i;
			break;
		}
		if (!strncmp(ids[i], prefix, len)) {
			if (!found++)
				at = i;
		}
	}
	if (found == 0) {
		if (!(flags & CTL_CALL_QUIET))
			ctl_fail("no such %s: %s", what, prefix);
		return -ENOENT;
	}
	if (found > 1) {
		if (!(flags & CTL_CALL_QUIET))
			ctl_fail("%s id prefix %s is ambiguous: %zu %ss match", what, prefix, found,
				 what);
		return -EEXIST;
	}
	*ret_id = strdup(ids[at]);
	return *ret_id ? 0 : -ENOMEM;
}

int ctl_ctr_resolve(struct ctl *c, const char *prefix, int flags, char **ret_id)
{
	Runtime__V1__ListContainersRequest rq = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ListContainersResponse *resp = NULL;
	if (!*prefix) {
		ctl_fail("an empty container id");
		return -EINVAL;
	}
	int r = ctl_cri_call(c, "ListContainers", &rq.base,
			     &runtime__v1__list_containers_response__descriptor, 0, 0,
			     (ProtobufCMessage **)&resp);
	if (r < 0)
		return r;
	const char **ids = calloc(resp->n_containers + 1, sizeof *ids);
	if (!ids) {
		r = -ENOMEM;
	} else {
		for (size_t i = 0; i < resp->n_containers; i++)
			ids[i] = resp->containers[i]->id;
		r = ctl_id_pick("container", prefix, ids, resp->n_containers, flags, ret_id);
	}
	free(ids);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

int ctl_pod_resolve(struct ctl *c, const char *prefix, int flags, char **ret_id)
{
	Runtime__V1__ListPodSandboxRequest rq = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__ListPodSandboxResponse *resp = NULL;
	if (!*prefix) {
		ctl_fail("an empty pod id");
		return -EINVAL;
	}
	int r = ctl_cri_call(c, "ListPodSandbox", &rq.base,
			     &runtime__v1__list_pod_sandbox_response__descriptor, 0, 0,
			     (ProtobufCMessage **)&resp);
	if (r < 0)
		return r;
	const char **ids = calloc(resp->n_items + 1, sizeof *ids);
	if (!ids) {
		r = -ENOMEM;
	} else {
		for (size_t i = 0; i < resp->n_items; i++)
			ids[i] = resp->items[i]->id;
		r = ctl_id_pick("pod", prefix, ids, resp->n_items, flags, ret_id);
	}
	free(ids);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}
