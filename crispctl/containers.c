/*
 * containers: crispctl's container verbs, named as crictl's: `ps`
 * (ListContainers as a table or JSON; running ones only without -a),
 * `stop`, `rm` and `inspect` (ContainerStatus verbose; a pod's status when
 * the id names a pod). Ids may be unique prefixes (cri.c). Never removes a
 * running container without -f.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"

#define LABELS_MAX 64
#define STOP_TIMEOUT_S 10
#define STOP_CALL_GRACE_MS (30 * 1000)

static int by_created_desc(const void *a, const void *b)
{
	const Runtime__V1__Container *x = *(Runtime__V1__Container *const *)a;
	const Runtime__V1__Container *y = *(Runtime__V1__Container *const *)b;
	return x->created_at < y->created_at ? 1 : x->created_at > y->created_at ? -1 :
	       strcmp(x->id, y->id);
}

struct ps_opts {
	const char *name, *id, *pod, *state;
	struct ctl_kv labels[LABELS_MAX];
	size_t n_labels;
	bool all, quiet, json, no_trunc;
};

static int state_of(const char *s)
{
	static const char *const names[] = { "created", "running", "exited", "unknown" };
	for (int i = 0; i < 4; i++)
		if (!strcasecmp(s, names[i]))
			return i;      /* the CRI's numbers */
	return -1;
}

static int ps_parse(int argc, char **argv, struct ps_opts *o)
{
	enum { OPT_NAME = 1000, OPT_ID, OPT_POD, OPT_STATE, OPT_NOTRUNC };
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "id", required_argument, NULL, OPT_ID },
		{ "pod", required_argument, NULL, OPT_POD },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "label", required_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "output", required_argument, NULL, 'o' },
		{ "no-trunc", no_argument, NULL, OPT_NOTRUNC },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "al:qo:p:", opts, NULL)) != -1) {
		switch (c) {
		case 'a': o->all = true; break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_ID: o->id = optarg; break;
		case 'p':
		case OPT_POD: o->pod = optarg; break;
		case OPT_NOTRUNC: o->no_trunc = true; break;
		case 'q': o->quiet = true; break;
		case OPT_STATE:
			if (state_of(optarg) < 0)
				return -EINVAL;
			o->state = optarg;
			break;
		case 'l':
			if (o->n_labels == LABELS_MAX ||
			    ctl_split_kv(optarg, &o->labels[o->n_labels].key,
					 &o->labels[o->n_labels].value) < 0)
				return -EINVAL;
			o->n_labels++;
			break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "table"))
				return -EINVAL;
			o->json = !strcmp(optarg, "json");
			break;
		default:
			return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

/* pod id -> name, for the POD column (NULL: no answer; the column is empty). */
static Runtime__V1__ListPodSandboxResponse *pods_list(struct ctl *c)
{
	Runtime__V1__ListPodSandboxRequest rq = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__ListPodSandboxResponse *resp = NULL;
	if (ctl_cri_call(c, "ListPodSandbox", &rq.base,
			 &runtime__v1__list_pod_sandbox_response__descriptor, 0, CTL_CALL_QUIET,
			 (ProtobufCMessage **)&resp) < 0)
		return NULL;
	return resp;
}

static const char *pod_name(const Runtime__V1__ListPodSandboxResponse *pods, const char *id)
{
	for (size_t i = 0; pods && i < pods->n_items; i++)
		if (!strcmp(pods->items[i]->id, id) && pods->items[i]->metadata)
			return pods->items[i]->metadata->name;
	return "";
}

static void ps_table(struct ctl *c, Runtime__V1__Container *const *v, size_t n, bool no_trunc)
{
	static const char *const head[] = {
		"CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD",
	};
	Runtime__V1__ListPodSandboxResponse *pods = pods_list(c);
	struct ctl_table *t = ctl_table_new(8);
	int64_t now = ctl_now_ns();
	if (t && ctl_table_add(t, head) == 0) {
		for (size_t i = 0; i < n; i++) {
			const Runtime__V1__Container *k = v[i];
			char id[CTL_ID_SHORT + 1], pod[CTL_ID_SHORT + 1], img[CTL_ID_SHORT + 1];
			char ago[64], att[16];
			const char *image = k->image && k->image->image ? k->image->image : "";
			ctl_trunc_id(k->id, id);
			ctl_trunc_id(k->pod_sandbox_id, pod);
			ctl_trunc_id(image, img);
			ctl_ago(k->created_at, now, ago, sizeof ago);
			snprintf(att, sizeof att, "%u", k->metadata ? k->metadata->attempt : 0);
			const char *row[] = {
				no_trunc ? k->id : id,
				no_trunc || strncmp(image, "sha256:", 7) ? image : img, ago,
				ctl_ctr_state_name(k->state), k->metadata ? k->metadata->name : "", att,
				no_trunc ? k->pod_sandbox_id : pod, pod_name(pods, k->pod_sandbox_id),
			};
			if (ctl_table_add(t, row) < 0)
				break;
		}
		ctl_table_print(t, stdout);
	}
	ctl_table_free(t);
	if (pods)
		protobuf_c_message_free_unpacked(&pods->base, NULL);
}

/* The containers kept, as JSON, ids or a table. */
static int ps_print(struct ctl *c, const struct ps_opts *o, Runtime__V1__Container **keep,
		    size_t n)
{
	if (o->json) {
		Runtime__V1__ListContainersResponse out = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
		out.containers = keep;
		out.n_containers = n;
		struct json_object *j = ctl_pb_json(&out.base);
		int r = j ? ctl_json_print(j, stdout) : -ENOMEM;
		json_object_put(j);
		if (r < 0)
			ctl_fail("out of memory");
		return r;
	}
	if (o->quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", keep[i]->id);
		return 0;
	}
	ps_table(c, keep, n, o->no_trunc);
	return 0;
}

int ctl_ps(struct ctl *c, int argc, char **argv)
{
	static const char use[] =
		"ps [-a] [--pod POD] [--name RE] [--state created|running|exited|unknown]\n"
		"       [-l|--label K=V]... [--id ID] [-q] [-o table|json] [--no-trunc]";
	struct ps_opts o = { 0 };
	regex_t re;
	if (ps_parse(argc, argv, &o) < 0)
		return ctl_usage(use);
	if (o.name && ctl_regex(&re, o.name) < 0)
		return CTL_EXIT_USAGE;
	Runtime__V1__ListContainersRequest rq = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ContainerFilter filter = RUNTIME__V1__CONTAINER_FILTER__INIT;
	Runtime__V1__ContainerStateValue sv = RUNTIME__V1__CONTAINER_STATE_VALUE__INIT;
	Runtime__V1__ListContainersResponse *resp = NULL;
	Runtime__V1__Container **keep = NULL;
	char *id = NULL, *pod = NULL;
	int ret = CTL_EXIT_FAIL;
	if ((o.id && ctl_ctr_resolve(c, o.id, 0, &id) < 0) ||
	    (o.pod && ctl_pod_resolve(c, o.pod, 0, &pod) < 0))
		goto out;
	filter.id = id ? id : "";
	filter.pod_sandbox_id = pod ? pod : "";
	bool by_state = o.state || !o.all;
	if (by_state) {
		sv.state = o.state ? state_of(o.state) : RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
		filter.state = &sv;
	}
	if (o.n_labels &&
	    ctl_map_new(&runtime__v1__container_filter__label_selector_entry__descriptor, o.labels,
			o.n_labels, (void ***)&filter.label_selector) < 0)
		goto out;
	filter.n_label_selector = o.n_labels;
	rq.filter = &filter;
	if (ctl_cri_call(c, "ListContainers", &rq.base,
			 &runtime__v1__list_containers_response__descriptor, 0, 0,
			 (ProtobufCMessage **)&resp) < 0)
		goto out;
	keep = calloc(resp->n_containers + 1, sizeof *keep);
	if (!keep)
		goto out;
	size_t n = 0;
	for (size_t i = 0; i < resp->n_containers; i++) {
		Runtime__V1__Container *k = resp->containers[i];
		if ((id && strcmp(k->id, id)) || (pod && strcmp(k->pod_sandbox_id, pod)) ||
		    (by_state && (int)k->state != (int)sv.state) ||
		    (o.name && regexec(&re, k->metadata ? k->metadata->name : "", 0, NULL, 0)) ||
		    !ctl_map_has_all((void *const *)k->labels, k->n_labels, o.labels, o.n_labels))
			continue;
		keep[n++] = k;
	}
	qsort(keep, n, sizeof *keep, by_created_desc);
	if (ps_print(c, &o, keep, n) < 0)
		goto out;
	ret = CTL_EXIT_OK;
out:
	free(keep);
	ctl_map_free((void **)filter.label_selector);
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(id);
	free(pod);
	if (o.name)
		regfree(&re);
	return ret;
}

int ctl_ctr_stop(struct ctl *c, const char *id, int64_t timeout_s)
{
	Runtime__V1__StopContainerRequest rq = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	Runtime__V1__StopContainerResponse *resp = NULL;
	rq.container_id = (char *)id;
	rq.timeout = timeout_s;
	int64_t call_ms = timeout_s * 1000 + STOP_CALL_GRACE_MS;
	int r = ctl_cri_call(c, "StopContainer", &rq.base,
			     &runtime__v1__stop_container_response__descriptor,
			     call_ms > c->timeout_ms ? call_ms : c->timeout_ms, 0,
			     (ProtobufCMessage **)&resp);
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

int ctl_ctr_remove(struct ctl *c, const char *id)
{
	Runtime__V1__RemoveContainerRequest rq = RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;
	Runtime__V1__RemoveContainerResponse *resp = NULL;
	rq.container_id = (char *)id;
	int r = ctl_cri_call(c, "RemoveContainer", &rq.base,
			     &runtime__v1__remove_container_response__descriptor, 0, 0,
			     (ProtobufCMessage **)&resp);
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

int ctl_stop(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ 0 },
	};
	static const char use[] = "stop [-t|--timeout SECONDS] CONTAINER...";
	int64_t timeout = STOP_TIMEOUT_S;
	int o, failed = 0;
	char *end;
	while ((o = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		if (o != 't')
			return ctl_usage(use);
		errno = 0;
		timeout = strtoll(optarg, &end, 10);
		if (errno || *end || end == optarg || timeout < 0 || timeout > 24 * 3600)
			return ctl_usage(use);
	}
	if (optind >= argc)
		return ctl_usage(use);
	for (int i = optind; i < argc; i++) {
		char *id = NULL;
		if (ctl_ctr_resolve(c, argv[i], 0, &id) < 0 || ctl_ctr_stop(c, id, timeout) < 0)
			failed = 1;
		else
			printf("%s\n", id);
		free(id);
	}
	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int ctl_rm(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	bool force = false;
	int o, failed = 0;
	while ((o = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (o != 'f')
			return ctl_usage("rm [-f] CONTAINER...");
		force = true;
	}
	if (optind >= argc)
		return ctl_usage("rm [-f] CONTAINER...");
	for (int i = optind; i < argc; i++) {
		Runtime__V1__ContainerStatusResponse *st = NULL;
		char *id = NULL;
		if (ctl_ctr_resolve(c, argv[i], 0, &id) < 0 || ctl_ctr_status(c, id, false, 0, &st) < 0) {
			failed = 1;
			free(id);
			continue;
		}
		bool running = st->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
		protobuf_c_message_free_unpacked(&st->base, NULL);
		if (running && !force) {
			ctl_fail("container %s is running, please stop it first (or rm -f)", id);
			failed = 1;
		} else if ((running && ctl_ctr_stop(c, id, 0) < 0) || ctl_ctr_remove(c, id) < 0) {
			failed = 1;
		} else {
			printf("%s\n", id);
		}
		free(id);
	}
	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

static struct json_object *ctr_inspect(struct ctl *c, const char *id)
{
	Runtime__V1__ContainerStatusResponse *st = NULL;
	if (ctl_ctr_status(c, id, true, 0, &st) < 0)
		return NULL;
	struct json_object *j = ctl_inspect_json(&st->status->base, (void *const *)st->info,
						 st->n_info);
	if (!j)
		ctl_fail("out of memory");
	protobuf_c_message_free_unpacked(&st->base, NULL);
	return j;
}

/* A container's inspect object, or a pod's when arg names no container. */
static struct json_object *inspect_one(struct ctl *c, const char *arg)
{
	struct json_object *j = NULL;
	char *id = NULL;
	int r = ctl_ctr_resolve(c, arg, CTL_CALL_QUIET, &id);
	if (r == 0) {
		j = ctr_inspect(c, id);
	} else if (r == -ENOENT) {
		r = ctl_pod_resolve(c, arg, CTL_CALL_QUIET, &id);
		if (r == 0)
			j = ctl_pod_inspect(c, id);
		else if (r == -ENOENT)
			ctl_fail("no such container or pod: %s", arg);
		else if (r == -EEXIST)
			ctl_fail("pod id prefix %s is ambiguous", arg);
		else
			ctl_fail("%s", c->last_error);
	} else if (r == -EEXIST) {
		ctl_fail("container id prefix %s is ambiguous", arg);
	} else {
		ctl_fail("%s", c->last_error);
	}
	free(id);
	return j;
}

int ctl_inspect(struct ctl *c, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return ctl_usage("inspect CONTAINER|POD...");
	struct json_object **objs = calloc((size_t)argc, sizeof *objs);
	size_t n = 0;
	int failed = !objs;
	for (int i = 1; objs && i < argc; i++) {
		struct json_object *j = inspect_one(c, argv[i]);
		if (j)
			objs[n++] = j;
		else
			failed = 1;
	}
	if (n && ctl_print_inspect(objs, n) < 0)
		failed = 1;
	for (size_t i = 0; i < n; i++)
		json_object_put(objs[i]);
	free(objs);
	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
