/*
 * pods: crispctl's pod verbs, named as crictl's: `pods` (ListPodSandbox as
 * a table or JSON), `stopp`, `rmp` and `inspectp`. Ids may be unique
 * prefixes (cri.c). A pod that `crispctl run` made carries the annotation
 * CTL_LOGDIR_ANNOTATION: when it is removed here, its log files and
 * directory go too (kubelet does the same for its pods). Never removes a
 * ready pod without -f.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"

#define LABELS_MAX 64

int64_t ctl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int ctl_regex(regex_t *re, const char *pattern)
{
	if (regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
		ctl_fail("not a regular expression: %s", pattern);
		return -EINVAL;
	}
	return 0;
}

static int by_created_desc(const void *a, const void *b)
{
	const Runtime__V1__PodSandbox *x = *(Runtime__V1__PodSandbox *const *)a;
	const Runtime__V1__PodSandbox *y = *(Runtime__V1__PodSandbox *const *)b;
	return x->created_at < y->created_at ? 1 : x->created_at > y->created_at ? -1 :
	       strcmp(x->id, y->id);
}

struct pods_opts {
	const char *name, *ns, *id, *state;
	struct ctl_kv labels[LABELS_MAX];
	size_t n_labels;
	bool quiet, json, no_trunc;
};

static int pods_parse(int argc, char **argv, struct pods_opts *o)
{
	enum { OPT_NAME = 1000, OPT_NS, OPT_ID, OPT_STATE, OPT_NOTRUNC };
	static const struct option opts[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "namespace", required_argument, NULL, OPT_NS },
		{ "id", required_argument, NULL, OPT_ID },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "label", required_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "output", required_argument, NULL, 'o' },
		{ "no-trunc", no_argument, NULL, OPT_NOTRUNC },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "l:qo:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_NAME: o->name = optarg; break;
		case OPT_NS: o->ns = optarg; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_NOTRUNC: o->no_trunc = true; break;
		case 'q': o->quiet = true; break;
		case OPT_STATE:
			if (strcasecmp(optarg, "ready") && strcasecmp(optarg, "notready"))
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

static bool name_match(const char *pattern, regex_t *re, const char *s)
{
	return !pattern || regexec(re, s ? s : "", 0, NULL, 0) == 0;
}

static void pods_table(Runtime__V1__PodSandbox *const *v, size_t n, bool no_trunc)
{
	static const char *const head[] = {
		"POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME",
	};
	struct ctl_table *t = ctl_table_new(7);
	if (!t || ctl_table_add(t, head) < 0) {
		ctl_table_free(t);
		return;
	}
	int64_t now = ctl_now_ns();
	for (size_t i = 0; i < n; i++) {
		const Runtime__V1__PodSandbox *p = v[i];
		char id[CTL_ID_SHORT + 1], ago[64], att[16];
		ctl_trunc_id(p->id, id);
		ctl_ago(p->created_at, now, ago, sizeof ago);
		snprintf(att, sizeof att, "%u", p->metadata ? p->metadata->attempt : 0);
		const char *row[] = {
			no_trunc ? p->id : id, ago, ctl_pod_state_name(p->state),
			p->metadata ? p->metadata->name : "", p->metadata ? p->metadata->namespace_ : "",
			att, p->runtime_handler && *p->runtime_handler ? p->runtime_handler : "(default)",
		};
		if (ctl_table_add(t, row) < 0)
			break;
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
}

/* The pods kept, as JSON, ids or a table. */
static int pods_print(const struct pods_opts *o, Runtime__V1__PodSandbox **keep, size_t n)
{
	if (o->json) {
		Runtime__V1__ListPodSandboxResponse out = RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT;
		out.items = keep;
		out.n_items = n;
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
	pods_table(keep, n, o->no_trunc);
	return 0;
}

int ctl_pods(struct ctl *c, int argc, char **argv)
{
	static const char use[] =
		"pods [--name RE] [--namespace RE] [--state ready|notready] [-l|--label K=V]...\n"
		"       [--id ID] [-q] [-o table|json] [--no-trunc]";
	struct pods_opts o = { 0 };
	regex_t re_name, re_ns;
	if (pods_parse(argc, argv, &o) < 0)
		return ctl_usage(use);
	if (o.name && ctl_regex(&re_name, o.name) < 0)
		return CTL_EXIT_USAGE;
	if (o.ns && ctl_regex(&re_ns, o.ns) < 0) {
		if (o.name)
			regfree(&re_name);
		return CTL_EXIT_USAGE;
	}
	Runtime__V1__ListPodSandboxRequest rq = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxFilter filter = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	Runtime__V1__PodSandboxStateValue sv = RUNTIME__V1__POD_SANDBOX_STATE_VALUE__INIT;
	Runtime__V1__ListPodSandboxResponse *resp = NULL;
	Runtime__V1__PodSandbox **keep = NULL;
	char *id = NULL;
	int ret = CTL_EXIT_FAIL;
	if (o.id && ctl_pod_resolve(c, o.id, 0, &id) < 0)
		goto out;
	filter.id = id ? id : "";
	if (o.state) {
		sv.state = strcasecmp(o.state, "ready") ?
			   RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY :
			   RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
		filter.state = &sv;
	}
	if (o.n_labels && ctl_map_new(&runtime__v1__pod_sandbox_filter__label_selector_entry__descriptor,
				      o.labels, o.n_labels, (void ***)&filter.label_selector) < 0)
		goto out;
	filter.n_label_selector = o.n_labels;
	rq.filter = &filter;
	if (ctl_cri_call(c, "ListPodSandbox", &rq.base,
			 &runtime__v1__list_pod_sandbox_response__descriptor, 0, 0,
			 (ProtobufCMessage **)&resp) < 0)
		goto out;
	/* the same filters here too: the table shows what was asked for */
	keep = calloc(resp->n_items + 1, sizeof *keep);
	if (!keep)
		goto out;
	size_t n = 0;
	for (size_t i = 0; i < resp->n_items; i++) {
		Runtime__V1__PodSandbox *p = resp->items[i];
		const char *pname = p->metadata ? p->metadata->name : "";
		const char *pns = p->metadata ? p->metadata->namespace_ : "";
		if ((id && strcmp(p->id, id)) || (o.state && p->state != sv.state) ||
		    !name_match(o.name, &re_name, pname) || !name_match(o.ns, &re_ns, pns) ||
		    !ctl_map_has_all((void *const *)p->labels, p->n_labels, o.labels, o.n_labels))
			continue;
		keep[n++] = p;
	}
	qsort(keep, n, sizeof *keep, by_created_desc);
	if (pods_print(&o, keep, n) < 0)
		goto out;
	ret = CTL_EXIT_OK;
out:
	free(keep);
	ctl_map_free((void **)filter.label_selector);
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(id);
	if (o.name)
		regfree(&re_name);
	if (o.ns)
		regfree(&re_ns);
	return ret;
}

int ctl_pod_status(struct ctl *c, const char *id, bool verbose, int flags,
		   Runtime__V1__PodSandboxStatusResponse **ret)
{
	Runtime__V1__PodSandboxStatusRequest rq = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	rq.pod_sandbox_id = (char *)id;
	rq.verbose = verbose;
	int r = ctl_cri_call(c, "PodSandboxStatus", &rq.base,
			     &runtime__v1__pod_sandbox_status_response__descriptor, 0, flags,
			     (ProtobufCMessage **)ret);
	if (r == 0 && !(*ret)->status) {
		protobuf_c_message_free_unpacked(&(*ret)->base, NULL);
		*ret = NULL;
		if (!(flags & CTL_CALL_QUIET))
			ctl_fail("PodSandboxStatus: no status for %s", id);
		return -EBADMSG;
	}
	return r;
}

int ctl_pod_stop(struct ctl *c, const char *id)
{
	Runtime__V1__StopPodSandboxRequest rq = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__StopPodSandboxResponse *resp = NULL;
	rq.pod_sandbox_id = (char *)id;
	int r = ctl_cri_call(c, "StopPodSandbox", &rq.base,
			     &runtime__v1__stop_pod_sandbox_response__descriptor, 0, 0,
			     (ProtobufCMessage **)&resp);
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

/* The log directory crispctl made for a pod: its *.log files (and rotated
 * ones) and the directory itself; anything else in it stays, and so does
 * the directory then. Only directories crispctl names so. */
void ctl_logdir_remove(const char *dir)
{
	size_t base = strlen(CTL_LOG_BASE);
	const char *slash = strrchr(dir, '/');
	if (!slash || (strncmp(dir, CTL_LOG_BASE "/", base + 1) &&
		       strncmp(slash + 1, CTL_LOG_TMP_PREFIX, strlen(CTL_LOG_TMP_PREFIX))))
		return;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_type == DT_REG && strstr(e->d_name, ".log"))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

int ctl_pod_remove(struct ctl *c, const char *id)
{
	Runtime__V1__PodSandboxStatusResponse *st = NULL;
	Runtime__V1__RemovePodSandboxRequest rq = RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RemovePodSandboxResponse *resp = NULL;
	char *logdir = NULL;
	if (ctl_pod_status(c, id, false, CTL_CALL_QUIET, &st) == 0) {
		const char *d = ctl_map_get((void *const *)st->status->annotations,
					    st->status->n_annotations, CTL_LOGDIR_ANNOTATION);
		logdir = d ? strdup(d) : NULL;
		protobuf_c_message_free_unpacked(&st->base, NULL);
	}
	rq.pod_sandbox_id = (char *)id;
	int r = ctl_cri_call(c, "RemovePodSandbox", &rq.base,
			     &runtime__v1__remove_pod_sandbox_response__descriptor, 0, 0,
			     (ProtobufCMessage **)&resp);
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (r == 0 && logdir)
		ctl_logdir_remove(logdir);
	free(logdir);
	return r;
}

int ctl_stopp(struct ctl *c, int argc, char **argv)
{
	int failed = 0;
	if (argc < 2 || argv[1][0] == '-')
		return ctl_usage("stopp POD...");
	for (int i = 1; i < argc; i++) {
		char *id = NULL;
		if (ctl_pod_resolve(c, argv[i], 0, &id) < 0 || ctl_pod_stop(c, id) < 0)
			failed = 1;
		else
			printf("Stopped sandbox %s\n", id);
		free(id);
	}
	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int ctl_rmp(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	bool force = false;
	int o, failed = 0;
	while ((o = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (o != 'f')
			return ctl_usage("rmp [-f] POD...");
		force = true;
	}
	if (optind >= argc)
		return ctl_usage("rmp [-f] POD...");
	for (int i = optind; i < argc; i++) {
		Runtime__V1__PodSandboxStatusResponse *st = NULL;
		char *id = NULL;
		bool ready = false;
		if (ctl_pod_resolve(c, argv[i], 0, &id) < 0 || ctl_pod_status(c, id, false, 0, &st) < 0) {
			failed = 1;
			free(id);
			continue;
		}
		ready = st->status->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
		protobuf_c_message_free_unpacked(&st->base, NULL);
		if (ready && !force) {
			ctl_fail("pod sandbox %s is running, please stop it first (or rmp -f)", id);
			failed = 1;
		} else if ((ready && ctl_pod_stop(c, id) < 0) || ctl_pod_remove(c, id) < 0) {
			failed = 1;
		} else {
			printf("Removed sandbox %s\n", id);
		}
		free(id);
	}
	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int ctl_print_inspect(struct json_object *const *objs, size_t n)
{
	struct json_object *top = NULL;
	int r;
	if (n == 1) {
		r = ctl_json_print(objs[0], stdout);
	} else {
		top = json_object_new_array();
		for (size_t i = 0; top && i < n; i++)
			json_object_array_add(top, json_object_get(objs[i]));
		r = top ? ctl_json_print(top, stdout) : -ENOMEM;
		json_object_put(top);
	}
	return r;
}

/* The inspect object of pod id (NULL: printed why). */
struct json_object *ctl_pod_inspect(struct ctl *c, const char *id)
{
	Runtime__V1__PodSandboxStatusResponse *st = NULL;
	if (ctl_pod_status(c, id, true, 0, &st) < 0)
		return NULL;
	struct json_object *j = ctl_inspect_json(&st->status->base, (void *const *)st->info,
						 st->n_info);
	if (!j)
		ctl_fail("out of memory");
	protobuf_c_message_free_unpacked(&st->base, NULL);
	return j;
}

int ctl_inspectp(struct ctl *c, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return ctl_usage("inspectp POD...");
	struct json_object **objs = calloc((size_t)argc, sizeof *objs);
	size_t n = 0;
	int failed = !objs;
	for (int i = 1; objs && i < argc; i++) {
		char *id = NULL;
		struct json_object *j = NULL;
		if (ctl_pod_resolve(c, argv[i], 0, &id) == 0)
			j = ctl_pod_inspect(c, id);
		free(id);
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
