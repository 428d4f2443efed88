/*
 * check_ctr: the checks of the container requests (see check.h):
 * CreateContainer's config (metadata, image, the process: command, args,
 * envs, working dir; mounts, devices, CDI devices, labels and annotations,
 * log path, stop signal, the Linux config and its security context) and the
 * copy of the pod's config it carries; the container id of the others;
 * ListContainers' filter; ExecSync's command and timeout; StopContainer's
 * timeout. Windows configs are not looked at: sandboxd ignores them.
 */
#include <errno.h>
#include <string.h>

#include "criserver/check_int.h"

/* command + args (or cmd): count, each string, all together. */
static int chk_argv(struct chk *c, const char *field, char *const *a, size_t na,
		    char *const *b, size_t nb)
{
	size_t bytes = 0;
	int r;

	if (na + nb > CHECK_ARGV_MAX)
		return chk_fail(c, field, "more than %d arguments", CHECK_ARGV_MAX);
	r = chk_str_list(c, field, a, na, CHECK_ARGV_MAX, CHECK_ARG_MAX);
	for (size_t i = 0; i < na; i++)
		bytes += strlen(a[i]) + 1;
	for (size_t i = 0; i < nb; i++)
		bytes += strlen(b[i]) + 1;
	if (r == 0 && bytes > CHECK_ARGV_BYTES_MAX)
		r = chk_fail(c, field, "more than %u bytes of arguments", CHECK_ARGV_BYTES_MAX);
	return r;
}

static int chk_envs(struct chk *c, const char *field, Runtime__V1__KeyValue *const *e, size_t n)
{
	char f[CHK_FIELD_MAX];
	size_t bytes = 0;

	if (n > CHECK_ENVS_MAX)
		return chk_fail(c, field, "more than %d entries", CHECK_ENVS_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t k = e[i]->key ? strnlen(e[i]->key, CHECK_ENV_KEY_MAX + 1) : 0;
		if (k == 0)
			return chk_fail(c, chk_field(f, "", "%s[%zu].key", field, i),
					"must not be empty");
		if (k > CHECK_ENV_KEY_MAX)
			return chk_fail(c, chk_field(f, "", "%s[%zu].key", field, i),
					"longer than %d bytes", CHECK_ENV_KEY_MAX);
		if (k + 1 + e[i]->value.len + 1 > CHECK_ARG_MAX)
			return chk_fail(c, chk_field(f, "", "%s[%zu]", field, i),
					"KEY=value is longer than %u bytes", CHECK_ARG_MAX);
		bytes += k + 1 + e[i]->value.len + 1;
	}
	if (bytes > CHECK_ENVS_BYTES_MAX)
		return chk_fail(c, field, "more than %u bytes together", CHECK_ENVS_BYTES_MAX);
	return 0;
}

static int chk_mount(struct chk *c, const char *item, const Runtime__V1__Mount *m)
{
	char f[CHK_FIELD_MAX];
	int r;

	r = chk_required(c, chk_field(f, item, "container_path"), m->container_path,
			 CHECK_PATH_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, item, "host_path"), m->host_path, CHECK_PATH_MAX);
	if (r == 0)
		r = chk_enum(c, chk_field(f, item, "propagation"),
			     &runtime__v1__mount_propagation__descriptor, m->propagation);
	if (r == 0)
		r = chk_idmaps(c, chk_field(f, item, "uidMappings"), m->uidmappings,
			       m->n_uidmappings);
	if (r == 0)
		r = chk_idmaps(c, chk_field(f, item, "gidMappings"), m->gidmappings,
			       m->n_gidmappings);
	if (r == 0)
		r = chk_image_spec(c, chk_field(f, item, "image"), m->image, false);
	if (r == 0)
		r = chk_rel_path(c, chk_field(f, item, "image_sub_path"), m->image_sub_path);
	if (r == 0)
		r = chk_str_list(c, chk_field(f, item, "mount_options"), m->mount_options,
				 m->n_mount_options, CHECK_MOUNT_OPTIONS_MAX, CHECK_SHORT_MAX);
	return r;
}

static int chk_mounts(struct chk *c, const char *field, Runtime__V1__Mount *const *m, size_t n)
{
	char item[CHK_FIELD_MAX];
	int r = 0;

	if (n > CHECK_MOUNTS_MAX)
		return chk_fail(c, field, "more than %d entries", CHECK_MOUNTS_MAX);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = chk_mount(c, chk_field(item, "", "%s[%zu]", field, i), m[i]);
	return r;
}

static int chk_devices(struct chk *c, const char *field, Runtime__V1__Device *const *d, size_t n)
{
	char item[CHK_FIELD_MAX], f[CHK_FIELD_MAX];
	int r = 0;

	if (n > CHECK_DEVICES_MAX)
		return chk_fail(c, field, "more than %d entries", CHECK_DEVICES_MAX);
	for (size_t i = 0; r == 0 && i < n; i++) {
		chk_field(item, "", "%s[%zu]", field, i);
		r = chk_required(c, chk_field(f, item, "container_path"), d[i]->container_path,
				 CHECK_PATH_MAX);
		if (r == 0)
			r = chk_required(c, chk_field(f, item, "host_path"), d[i]->host_path,
					 CHECK_PATH_MAX);
		const char *p = d[i]->permissions ? d[i]->permissions : "";
		if (r == 0 && (strlen(p) > 3 || p[strspn(p, "rwm")] != '\0'))
			r = chk_fail(c, chk_field(f, item, "permissions"),
				     "must be made of 'r', 'w' and 'm'");
	}
	return r;
}

static int chk_cdi(struct chk *c, const char *field, Runtime__V1__CDIDevice *const *d, size_t n)
{
	char f[CHK_FIELD_MAX];

	if (n > CHECK_DEVICES_MAX)
		return chk_fail(c, field, "more than %d entries", CHECK_DEVICES_MAX);
	for (size_t i = 0; i < n; i++)
		if (chk_required(c, chk_field(f, "", "%s[%zu].name", field, i), d[i]->name,
				 CHECK_SHORT_MAX) < 0)
			return -EINVAL;
	return 0;
}

static int chk_capabilities(struct chk *c, const char *field, const Runtime__V1__Capability *k)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!k)
		return 0;
	r = chk_str_list(c, chk_field(f, field, "add_capabilities"), k->add_capabilities,
			 k->n_add_capabilities, CHECK_CAPS_MAX, CHECK_DNS_ITEM_MAX);
	if (r == 0)
		r = chk_str_list(c, chk_field(f, field, "drop_capabilities"), k->drop_capabilities,
				 k->n_drop_capabilities, CHECK_CAPS_MAX, CHECK_DNS_ITEM_MAX);
	if (r == 0)
		r = chk_str_list(c, chk_field(f, field, "add_ambient_capabilities"),
				 k->add_ambient_capabilities, k->n_add_ambient_capabilities,
				 CHECK_CAPS_MAX, CHECK_DNS_ITEM_MAX);
	return r;
}

static int chk_ctr_security(struct chk *c, const char *field,
			    const Runtime__V1__LinuxContainerSecurityContext *s)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!s)
		return 0;
	r = chk_capabilities(c, chk_field(f, field, "capabilities"), s->capabilities);
	if (r == 0)
		r = chk_ns_options(c, chk_field(f, field, "namespace_options"), s->namespace_options);
	if (r == 0)
		r = chk_selinux(c, chk_field(f, field, "selinux_options"), s->selinux_options);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "run_as_username"), s->run_as_username,
			    CHECK_SHORT_MAX);
	if (r == 0)
		r = chk_groups(c, chk_field(f, field, "supplemental_groups"), s->n_supplemental_groups);
	if (r == 0)
		r = chk_enum(c, chk_field(f, field, "supplemental_groups_policy"),
			     &runtime__v1__supplemental_groups_policy__descriptor,
			     s->supplemental_groups_policy);
	if (r == 0)
		r = chk_str_list(c, chk_field(f, field, "masked_paths"), s->masked_paths,
				 s->n_masked_paths, CHECK_PATHS_MAX, CHECK_PATH_MAX);
	if (r == 0)
		r = chk_str_list(c, chk_field(f, field, "readonly_paths"), s->readonly_paths,
				 s->n_readonly_paths, CHECK_PATHS_MAX, CHECK_PATH_MAX);
	if (r == 0)
		r = chk_profile(c, chk_field(f, field, "seccomp"), s->seccomp);
	if (r == 0)
		r = chk_profile(c, chk_field(f, field, "apparmor"), s->apparmor);
	/* the deprecated fields are capped too: a client may still send them */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "apparmor_profile"), s->apparmor_profile,
			    CHECK_PATH_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "seccomp_profile_path"), s->seccomp_profile_path,
			    CHECK_PATH_MAX);
#pragma GCC diagnostic pop
	return r;
}

static int chk_ctr_meta(struct chk *c, const char *field, const Runtime__V1__ContainerConfig *k)
{
	char f[CHK_FIELD_MAX];
	size_t bytes = 0;
	int r;

	r = chk_map(c, chk_field(f, field, "labels"),
		    CHK_MAP(Runtime__V1__ContainerConfig__LabelsEntry, k->labels, k->n_labels),
		    CHECK_MAP_ENTRIES_MAX, CHECK_MAP_KEY_MAX, CHECK_META_BYTES_MAX, &bytes);
	if (r == 0)
		r = chk_map(c, chk_field(f, field, "annotations"),
			    CHK_MAP(Runtime__V1__ContainerConfig__AnnotationsEntry, k->annotations,
				    k->n_annotations),
			    CHECK_MAP_ENTRIES_MAX, CHECK_MAP_KEY_MAX, CHECK_META_BYTES_MAX, &bytes);
	if (r == 0)
		r = chk_meta_bytes(c, field, bytes);
	return r;
}

static int chk_ctr_config(struct chk *c, const char *field, const Runtime__V1__ContainerConfig *k)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!k)
		return chk_fail(c, field, "must be set");
	if (!k->metadata)
		return chk_fail(c, chk_field(f, field, "metadata"), "must be set");
	r = chk_name(c, chk_field(f, field, "metadata.name"), k->metadata->name);
	if (r == 0)
		r = chk_image_spec(c, chk_field(f, field, "image"), k->image, true);
	if (r == 0)
		r = chk_argv(c, chk_field(f, field, "command"), k->command, k->n_command, NULL, 0);
	if (r == 0)
		r = chk_argv(c, chk_field(f, field, "args"), k->args, k->n_args, k->command,
			     k->n_command);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "working_dir"), k->working_dir, CHECK_PATH_MAX);
	if (r == 0)
		r = chk_envs(c, chk_field(f, field, "envs"), k->envs, k->n_envs);
	if (r == 0)
		r = chk_mounts(c, chk_field(f, field, "mounts"), k->mounts, k->n_mounts);
	if (r == 0)
		r = chk_devices(c, chk_field(f, field, "devices"), k->devices, k->n_devices);
	if (r == 0)
		r = chk_cdi(c, chk_field(f, field, "CDI_devices"), k->cdi_devices, k->n_cdi_devices);
	if (r == 0)
		r = chk_ctr_meta(c, field, k);
	if (r == 0)
		r = chk_rel_path(c, chk_field(f, field, "log_path"), k->log_path);
	if (r == 0)
		r = chk_enum(c, chk_field(f, field, "stop_signal"), &runtime__v1__signal__descriptor,
			     k->stop_signal);
	if (r == 0 && k->linux)
		r = chk_resources(c, chk_field(f, field, "linux.resources"), k->linux->resources);
	if (r == 0 && k->linux)
		r = chk_ctr_security(c, chk_field(f, field, "linux.security_context"),
				     k->linux->security_context);
	return r;
}

int check_create_ctr(const ProtobufCMessage *req, char *err, size_t len)
{
	const Runtime__V1__CreateContainerRequest *q = (const void *)req;
	struct chk c = { err, len };
	int r = chk_id(&c, "pod_sandbox_id", q->pod_sandbox_id, true);
	if (r == 0)
		r = chk_ctr_config(&c, "config", q->config);
	if (r == 0)
		r = chk_pod_config(&c, "sandbox_config", q->sandbox_config, false);
	return r;
}

static int container_id_only(const char *id, char *err, size_t len)
{
	struct chk c = { err, len };
	return chk_id(&c, "container_id", id, true);
}

int check_start_ctr(const ProtobufCMessage *req, char *err, size_t len)
{
	return container_id_only(((const Runtime__V1__StartContainerRequest *)req)->container_id,
				 err, len);
}

int check_remove_ctr(const ProtobufCMessage *req, char *err, size_t len)
{
	return container_id_only(((const Runtime__V1__RemoveContainerRequest *)req)->container_id,
				 err, len);
}

int check_ctr_status(const ProtobufCMessage *req, char *err, size_t len)
{
	return container_id_only(((const Runtime__V1__ContainerStatusRequest *)req)->container_id,
				 err, len);
}

int check_reopen_log(const ProtobufCMessage *req, char *err, size_t len)
{
	return container_id_only(
		((const Runtime__V1__ReopenContainerLogRequest *)req)->container_id, err, len);
}

int check_stop_ctr(const ProtobufCMessage *req, char *err, size_t len)
{
	const Runtime__V1__StopContainerRequest *q = (const void *)req;
	struct chk c = { err, len };
	int r = chk_id(&c, "container_id", q->container_id, true);
	if (r == 0 && q->timeout < 0)
		r = chk_fail(&c, "timeout", "must not be negative");
	return r;
}

int check_list_ctrs(const ProtobufCMessage *req, char *err, size_t len)
{
	const Runtime__V1__ListContainersRequest *q = (const void *)req;
	const Runtime__V1__ContainerFilter *fl = q->filter;
	struct chk c = { err, len };
	int r;

	if (!fl)
		return 0;
	r = chk_id(&c, "filter.id", fl->id, false);
	if (r == 0)
		r = chk_id(&c, "filter.pod_sandbox_id", fl->pod_sandbox_id, false);
	if (r == 0 && fl->state)
		r = chk_enum(&c, "filter.state.state", &runtime__v1__container_state__descriptor,
			     fl->state->state);
	if (r == 0)
		r = chk_map(&c, "filter.label_selector",
			    CHK_MAP(Runtime__V1__ContainerFilter__LabelSelectorEntry,
				    fl->label_selector, fl->n_label_selector),
			    CHECK_SELECTOR_ENTRIES_MAX, CHECK_MAP_KEY_MAX, CHECK_MAP_KEY_MAX, NULL);
	return r;
}

int check_exec_sync(const ProtobufCMessage *req, char *err, size_t len)
{
	const Runtime__V1__ExecSyncRequest *q = (const void *)req;
	struct chk c = { err, len };
	int r = chk_id(&c, "container_id", q->container_id, true);
	if (r == 0 && (q->n_cmd == 0 || !q->cmd[0][0]))
		r = chk_fail(&c, "cmd", "must not be empty");
	if (r == 0)
		r = chk_argv(&c, "cmd", q->cmd, q->n_cmd, NULL, 0);
	if (r == 0 && q->timeout < 0)
		r = chk_fail(&c, "timeout", "must not be negative");
	return r;
}
