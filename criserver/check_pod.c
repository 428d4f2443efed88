/*
 * check_pod: the checks of the pod sandbox requests (see check.h):
 * RunPodSandbox's config (metadata, hostname, log directory, DNS, port
 * mappings, labels and annotations, the Linux config and its security
 * context), the pod id of Stop/Remove/Status, and ListPodSandbox's filter.
 * Windows configs are not looked at: sandboxd ignores them.
 */
#include <errno.h>
#include <string.h>

#include "criserver/check_int.h"

static int chk_metadata(struct chk *c, const char *field, const Runtime__V1__PodSandboxMetadata *m,
			bool required)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!m)
		return required ? chk_fail(c, field, "must be set") : 0;
	if (required) {
		r = chk_name(c, chk_field(f, field, "name"), m->name);
		if (r == 0)
			r = chk_name(c, chk_field(f, field, "namespace"), m->namespace_);
		if (r == 0)
			r = chk_name(c, chk_field(f, field, "uid"), m->uid);
		return r;
	}
	r = chk_str(c, chk_field(f, field, "name"), m->name, CHECK_NAME_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "namespace"), m->namespace_, CHECK_NAME_MAX);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "uid"), m->uid, CHECK_NAME_MAX);
	return r;
}

static int chk_dns(struct chk *c, const char *field, const Runtime__V1__DNSConfig *d)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!d)
		return 0;
	r = chk_str_list(c, chk_field(f, field, "servers"), d->servers, d->n_servers,
			 CHECK_DNS_SERVERS_MAX, CHECK_DNS_ITEM_MAX);
	if (r == 0)
		r = chk_str_list(c, chk_field(f, field, "searches"), d->searches, d->n_searches,
				 CHECK_DNS_SEARCHES_MAX, CHECK_DNS_ITEM_MAX);
	if (r == 0)
		r = chk_str_list(c, chk_field(f, field, "options"), d->options, d->n_options,
				 CHECK_DNS_OPTIONS_MAX, CHECK_DNS_ITEM_MAX);
	return r;
}

static int chk_ports(struct chk *c, const char *field, Runtime__V1__PortMapping *const *pm,
		     size_t n)
{
	char f[CHK_FIELD_MAX];
	int r = 0;

	if (n > CHECK_PORTS_MAX)
		return chk_fail(c, field, "more than %d entries", CHECK_PORTS_MAX);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const Runtime__V1__PortMapping *p = pm[i];
		char item[CHK_FIELD_MAX];
		chk_field(item, "", "%s[%zu]", field, i);
		r = chk_enum(c, chk_field(f, item, "protocol"), &runtime__v1__protocol__descriptor,
			     p->protocol);
		if (r == 0 && (p->container_port < 0 || p->container_port > 65535))
			r = chk_fail(c, chk_field(f, item, "container_port"), "must be 0 to 65535");
		if (r == 0 && (p->host_port < 0 || p->host_port > 65535))
			r = chk_fail(c, chk_field(f, item, "host_port"), "must be 0 to 65535");
		if (r == 0)
			r = chk_str(c, chk_field(f, item, "host_ip"), p->host_ip, CHECK_HOST_IP_MAX);
	}
	return r;
}

static int chk_sandbox_security(struct chk *c, const char *field,
				const Runtime__V1__LinuxSandboxSecurityContext *s)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!s)
		return 0;
	r = chk_ns_options(c, chk_field(f, field, "namespace_options"), s->namespace_options);
	if (r == 0)
		r = chk_selinux(c, chk_field(f, field, "selinux_options"), s->selinux_options);
	if (r == 0)
		r = chk_groups(c, chk_field(f, field, "supplemental_groups"), s->n_supplemental_groups);
	if (r == 0)
		r = chk_enum(c, chk_field(f, field, "supplemental_groups_policy"),
			     &runtime__v1__supplemental_groups_policy__descriptor,
			     s->supplemental_groups_policy);
	if (r == 0)
		r = chk_profile(c, chk_field(f, field, "seccomp"), s->seccomp);
	if (r == 0)
		r = chk_profile(c, chk_field(f, field, "apparmor"), s->apparmor);
	/* the deprecated field is capped too: a client may still send it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "seccomp_profile_path"),
			    s->seccomp_profile_path, CHECK_PATH_MAX);
#pragma GCC diagnostic pop
	return r;
}

static int chk_pod_linux(struct chk *c, const char *field,
			 const Runtime__V1__LinuxPodSandboxConfig *l)
{
	char f[CHK_FIELD_MAX];
	int r;

	if (!l)
		return 0;
	r = chk_str(c, chk_field(f, field, "cgroup_parent"), l->cgroup_parent, CHECK_PATH_MAX);
	if (r == 0)
		r = chk_sandbox_security(c, chk_field(f, field, "security_context"),
					 l->security_context);
	if (r == 0)
		r = chk_map(c, chk_field(f, field, "sysctls"),
			    CHK_MAP(Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry, l->sysctls,
				    l->n_sysctls),
			    CHECK_SYSCTLS_MAX, CHECK_SYSCTL_KEY_MAX, CHECK_SYSCTL_VALUE_MAX, NULL);
	if (r == 0)
		r = chk_resources(c, chk_field(f, field, "overhead"), l->overhead);
	if (r == 0)
		r = chk_resources(c, chk_field(f, field, "resources"), l->resources);
	return r;
}

int chk_pod_config(struct chk *c, const char *field, const Runtime__V1__PodSandboxConfig *p,
		   bool required)
{
	char f[CHK_FIELD_MAX];
	size_t bytes = 0;
	int r;

	if (!p)
		return required ? chk_fail(c, field, "must be set") : 0;
	r = chk_metadata(c, chk_field(f, field, "metadata"), p->metadata, required);
	if (r == 0)
		r = chk_str(c, chk_field(f, field, "hostname"), p->hostname, CHECK_HOSTNAME_MAX);
	if (r == 0)
		r = chk_abs_path(c, chk_field(f, field, "log_directory"), p->log_directory, false);
	if (r == 0)
		r = chk_dns(c, chk_field(f, field, "dns_config"), p->dns_config);
	if (r == 0)
		r = chk_ports(c, chk_field(f, field, "port_mappings"), p->port_mappings,
			      p->n_port_mappings);
	if (r == 0)
		r = chk_map(c, chk_field(f, field, "labels"),
			    CHK_MAP(Runtime__V1__PodSandboxConfig__LabelsEntry, p->labels, p->n_labels),
			    CHECK_MAP_ENTRIES_MAX, CHECK_MAP_KEY_MAX, CHECK_META_BYTES_MAX, &bytes);
	if (r == 0)
		r = chk_map(c, chk_field(f, field, "annotations"),
			    CHK_MAP(Runtime__V1__PodSandboxConfig__AnnotationsEntry, p->annotations,
				    p->n_annotations),
			    CHECK_MAP_ENTRIES_MAX, CHECK_MAP_KEY_MAX, CHECK_META_BYTES_MAX, &bytes);
	if (r == 0)
		r = chk_meta_bytes(c, field, bytes);
	if (r == 0)
		r = chk_pod_linux(c, chk_field(f, field, "linux"), p->linux);
	return r;
}

int check_run_pod(const ProtobufCMessage *req, char *err, size_t len)
{
	const Runtime__V1__RunPodSandboxRequest *q = (const void *)req;
	struct chk c = { err, len };
	int r = chk_pod_config(&c, "config", q->config, true);
	if (r == 0)
		r = chk_str(&c, "runtime_handler", q->runtime_handler, CHECK_SHORT_MAX);
	return r;
}

int check_stop_pod(const ProtobufCMessage *req, char *err, size_t len)
{
	const Runtime__V1__StopPodSandboxRequest *q = (const void *)req;
	struct chk c = { err, len };
	return chk_id(&c, "pod_sandbox_id", q->pod_sandbox_id, true);
}

int check_remove_pod(const ProtobufCMessage *req, char *err, size_t len)
{
	const Runtime__V1__RemovePodSandboxRequest *q = (const void *)req;
	struct chk c = { err, len };
	return chk_id(&c, "pod_sandbox_id", q->pod_sandbox_id, true);
}

int check_pod_status(const ProtobufCMessage *req, char *err, size_t len)
{
	const Runtime__V1__PodSandboxStatusRequest *q = (const void *)req;
	struct chk c = { err, len };
	return chk_id(&c, "pod_sandbox_id", q->pod_sandbox_id, true);
}

int check_list_pods(const ProtobufCMessage *req, char *err, size_t len)
{
	const Runtime__V1__ListPodSandboxRequest *q = (const void *)req;
	const Runtime__V1__PodSandboxFilter *fl = q->filter;
	struct chk c = { err, len };
	int r;

	if (!fl)
		return 0;
	r = chk_id(&c, "filter.id", fl->id, false);
	if (r == 0 && fl->state)
		r = chk_enum(&c, "filter.state.state", &runtime__v1__pod_sandbox_state__descriptor,
			     fl->state->state);
	if (r == 0)
		r = chk_map(&c, "filter.label_selector",
			    CHK_MAP(Runtime__V1__PodSandboxFilter__LabelSelectorEntry,
				    fl->label_selector, fl->n_label_selector),
			    CHECK_SELECTOR_ENTRIES_MAX, CHECK_MAP_KEY_MAX, CHECK_MAP_KEY_MAX, NULL);
	return r;
}
