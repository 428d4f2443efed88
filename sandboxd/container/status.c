/*
 * status: ContainerStatus and ListContainers, answered from memory. The CRI
 * view of a container: one being made is not shown yet (as containerd,
 * which stores it only once created); STARTING is CREATED; REMOVING is
 * EXITED. List filters exactly per the spec: id (a prefix, as containerd
 * matches truncated ids), state, pod_sandbox_id (a prefix too) and every
 * label of label_selector. Answers are built in an arena; the configs'
 * immutable parts are pointed to, not copied, while the caller holds the
 * containers' references. Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/fsutil.h"
#include "common/status.h"
#include "sandboxd/answer.h"
#include "sandboxd/container/ctr.h"

#define SPEC_INFO_MAX (1024 * 1024)

static Runtime__V1__ContainerState cri_state(enum ctr_state s)
{
	switch (s) {
	case CTR_CREATED: case CTR_STARTING:
		return RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
	case CTR_RUNNING:
		return RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	case CTR_EXITED: case CTR_REMOVING:
		return RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
	default:
		return RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN;
	}
}

static Runtime__V1__ImageSpec *image_spec(const struct ctr *c, struct arena *a)
{
	Runtime__V1__ImageSpec *im = arena_new(a, Runtime__V1__ImageSpec);
	if (!im)
		return NULL;
	runtime__v1__image_spec__init(im);
	im->image = c->image_name ? c->image_name : c->config->image->image;
	if (c->config->image->user_specified_image)
		im->user_specified_image = c->config->image->user_specified_image;
	return im;
}

Runtime__V1__ContainerStatus *ctr_cri_status(const struct ctr *c, struct arena *a)
{
	Runtime__V1__ContainerStatus *st = arena_new(a, Runtime__V1__ContainerStatus);
	if (!st)
		return NULL;
	runtime__v1__container_status__init(st);
	const Runtime__V1__ContainerConfig *cfg = c->config;
	st->id = (char *)c->id;
	st->metadata = cfg->metadata;
	st->state = cri_state(c->state);
	st->created_at = c->created_ns;
	st->started_at = c->started_ns;
	st->finished_at = c->state == CTR_EXITED || c->state == CTR_REMOVING ? c->finished_ns : 0;
	st->exit_code = st->finished_at ? c->exit_code : 0;
	st->image = image_spec(c, a);
	st->image_ref = c->image_ref ? c->image_ref : (char *)"";
	st->image_id = c->image_id ? c->image_id : (char *)"";
	st->reason = st->finished_at && c->reason ? arena_strdup(a, c->reason) : (char *)"";
	st->message = st->finished_at && c->message ? arena_strdup(a, c->message) : (char *)"";
	st->labels = answer_map(a, (void *const *)cfg->labels, cfg->n_labels,
			      &runtime__v1__container_status__labels_entry__descriptor,
			      &st->n_labels);
	st->annotations = answer_map(a, (void *const *)cfg->annotations, cfg->n_annotations,
				   &runtime__v1__container_status__annotations_entry__descriptor,
				   &st->n_annotations);
	st->mounts = cfg->mounts;
	st->n_mounts = cfg->n_mounts;
	st->log_path = c->log_path ? c->log_path : (char *)"";
	st->stop_signal = cfg->stop_signal;
	return a->failed ? NULL : st;
}

/* Verbose info: "info" JSON with the pids and the OCI spec, as crictl
 * inspect shows containerd's. */
static int verbose_info(struct sbx *s, const struct ctr *c, struct arena *a,
			Runtime__V1__ContainerStatusResponse *resp)
{
	char p[PATH_MAX], *spec = NULL;
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "sandboxID", json_object_new_string(c->pod_id));
	json_object_object_add(o, "pid", json_object_new_int(c->pid));
	json_object_object_add(o, "conmonPid", json_object_new_int(c->conmon_pid));
	json_object_object_add(o, "imageID", json_object_new_string(c->image_id ? c->image_id : ""));
	if (sbx_ctr_path(s, c->id, "bundle/config.json", p, sizeof p) == 0 &&
	    fs_read_file(AT_FDCWD, p, SPEC_INFO_MAX, &spec, NULL) == 0) {
		json_object *js = json_tokener_parse(spec);
		if (js)
			json_object_object_add(o, "runtimeSpec", js);
		free(spec);
	}
	resp->info = answer_map1(a, "info", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
				 &runtime__v1__container_status_response__info_entry__descriptor,
				 &resp->n_info);
	json_object_put(o);
	return a->failed;
}

int ctr_status(struct sbx *s, const Runtime__V1__ContainerStatusRequest *rq, struct arena *a,
	       Runtime__V1__ContainerStatusResponse **ret, struct crisp_error *err)
{
	struct ctr *c;
	int r = state_ctr_get(s->st, rq->container_id, &c);
	if (r == 0 && c->state == CTR_CREATING) {
		state_ctr_put(s->st, c);
		r = -ENOENT;
	}
	if (r < 0)
		return crisp_fail(err, r == -ENOENT ? CRISP_STATUS_NOT_FOUND :
				  CRISP_STATUS_INVALID_ARGUMENT, r, "container %.80s: %s",
				  rq->container_id, r == -ENOENT ? "not found" :
				  r == -ENOTUNIQ ? "an ambiguous id prefix" : "not an id");
	Runtime__V1__ContainerStatusResponse *resp =
		arena_new(a, Runtime__V1__ContainerStatusResponse);
	if (resp) {
		runtime__v1__container_status_response__init(resp);
		state_lock(s->st);
		resp->status = ctr_cri_status(c, a);
		state_unlock(s->st);
		if (rq->verbose)
			verbose_info(s, c, a, resp);
	}
	answer_hold_ctr(a, s->st, c);
	if (!resp || a->failed)
		return crisp_fail_errno(err, a->failed ? a->failed : -ENOMEM, "container status");
	*ret = resp;
	return 0;
}

static bool labels_match(const struct ctr *c, const Runtime__V1__ContainerFilter *f)
{
	for (size_t i = 0; i < f->n_label_selector; i++) {
		const char *k = f->label_selector[i]->key, *v = f->label_selector[i]->value;
		bool found = false;
		for (size_t j = 0; j < c->config->n_labels && !found; j++)
			found = !strcmp(c->config->labels[j]->key, k) &&
				!strcmp(c->config->labels[j]->value, v);
		if (!found)
			return false;
	}
	return true;
}

static bool prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool match(const struct ctr *c, const Runtime__V1__ContainerFilter *f)
{
	if (c->state == CTR_CREATING)
		return false;
	if (!f)
		return true;
	if (f->id && f->id[0] && !prefix(c->id, f->id))
		return false;
	if (f->pod_sandbox_id && f->pod_sandbox_id[0] && !prefix(c->pod_id, f->pod_sandbox_id))
		return false;
	if (f->state && cri_state(c->state) != f->state->state)
		return false;
	return labels_match(c, f);
}

int ctr_list(struct sbx *s, const Runtime__V1__ListContainersRequest *rq, struct arena *a,
	     Runtime__V1__ListContainersResponse **ret, struct crisp_error *err)
{
	struct ctr **v;
	size_t n;
	int r = state_ctrs_all(s->st, &v, &n);
	if (r < 0)
		return crisp_fail_errno(err, r, "containers");
	Runtime__V1__ListContainersResponse *resp = arena_new(a, Runtime__V1__ListContainersResponse);
	Runtime__V1__Container **out = arena_alloc(a, (n ? n : 1) * sizeof *out);
	size_t k = 0;
	if (resp && out) {
		runtime__v1__list_containers_response__init(resp);
		state_lock(s->st);
		for (size_t i = 0; i < n && !a->failed; i++) {
			struct ctr *c = v[i];
			if (!match(c, rq->filter))
				continue;
			Runtime__V1__Container *x = arena_new(a, Runtime__V1__Container);
			if (!x)
				break;
			runtime__v1__container__init(x);
			x->id = c->id;
			x->pod_sandbox_id = c->pod_id;
			x->metadata = c->config->metadata;
			x->image = image_spec(c, a);
			x->image_ref = c->image_ref ? c->image_ref : (char *)"";
			x->image_id = c->image_id ? c->image_id : (char *)"";
			x->state = cri_state(c->state);
			x->created_at = c->created_ns;
			x->labels = answer_map(a, (void *const *)c->config->labels, c->config->n_labels,
					     &runtime__v1__container__labels_entry__descriptor,
					     &x->n_labels);
			x->annotations = answer_map(a, (void *const *)c->config->annotations,
						  c->config->n_annotations,
						  &runtime__v1__container__annotations_entry__descriptor,
						  &x->n_annotations);
			out[k++] = x;
		}
		state_unlock(s->st);
		resp->containers = out;
		resp->n_containers = k;
	}
	answer_hold_ctrs(a, s->st, v, n);
	if (!resp || !out || a->failed)
		return crisp_fail(err, a->failed == -E2BIG ? CRISP_STATUS_RESOURCE_EXHAUSTED :
				  CRISP_STATUS_INTERNAL, a->failed ? a->failed : -ENOMEM,
				  "the list of containers is too large for one answer%s",
				  a->failed == -E2BIG ? " (use StreamContainers)" : "");
	*ret = resp;
	return 0;
}
