/*
 * oci/linux: the "linux" object but its mounts' rootfsPropagation
 * (oci/mounts): namespaces, cgroupsPath, maskedPaths, readonlyPaths, and
 * through oci/devices, oci/resources and oci/sysctl the rest.
 *
 * Namespaces, in containerd's order (pid, ipc, uts, mount, network, then
 * cgroup): mount always new; network, ipc, uts: the pod's pins (sandboxd
 * made them), or none (the host's) when the pod has none (host network,
 * host IPC; UTS follows the network); pid: none (the host's) when the
 * container's namespace_options.pid is NODE, the pod's shared one
 * (/proc/<pod-init>/ns/pid) when it is POD and the pod has one, else new;
 * TARGET (another container's) is not supported yet; cgroup: new on
 * cgroup v2 unless privileged (containerd: it hides /sys/fs/cgroup's
 * parents; v1 and privileged keep the host's for compatibility). No
 * hostname: the pod's UTS namespace already carries it (sandboxd set it
 * when it made the namespace), and a host-UTS container must not set the
 * node's. User namespaces are later work: a pod or container asking for
 * one (userns_options mode POD) is INVALID_ARGUMENT.
 *
 * maskedPaths, readonlyPaths: none when privileged; else the security
 * context's lists; an empty list gets containerd's defaults
 * (oci.populateDefaultUnixSpec). protobuf cannot tell an empty list from
 * none, and kubelet sends its defaults for every non-privileged container
 * except with procMount: Unmasked, which needs user namespaces (later
 * work); so where containerd 1.7 leaves a direct CRI client (crictl,
 * critest) with nothing masked, crisp masks the defaults. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "sandboxd/oci/spec_int.h"

#define NS_FIELD "config.linux.security_context.namespace_options"

static const char *const default_masked[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
	"/sys/devices/virtual/powercap", "/proc/scsi",
};
static const char *const default_readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static int ns(struct ocispec *s, json_object *a, const char *type, const char *path)
{
	json_object *o = json_object_new_object();
	if (!o || ocispec_set_str(o, "type", type) < 0 ||
	    (path && ocispec_set_str(o, "path", path) < 0)) {
		json_object_put(o);
		return ocispec_nomem(s);
	}
	return ocispec_push(a, o) < 0 ? ocispec_nomem(s) : 0;
}

static bool wants_userns(const Runtime__V1__NamespaceOption *o)
{
	return o && o->userns_options &&
	       o->userns_options->mode == RUNTIME__V1__NAMESPACE_MODE__POD;
}

static int namespaces(struct ocispec *s)
{
	const struct oci_pod *pod = s->in->pod;
	const Runtime__V1__NamespaceOption *o = s->sc ? s->sc->namespace_options : NULL;
	const Runtime__V1__NamespaceOption *po = s->pod_sc ? s->pod_sc->namespace_options : NULL;
	if (wants_userns(o) || wants_userns(po))
		return OCISPEC_INVALID(s, NS_FIELD ".userns_options: user namespaces are not "
				       "supported yet");
	int pid_mode = o ? (int)o->pid : RUNTIME__V1__NAMESPACE_MODE__POD;
	char pid_path[64] = "";
	switch (pid_mode) {
	case RUNTIME__V1__NAMESPACE_MODE__NODE:
		break;
	case RUNTIME__V1__NAMESPACE_MODE__POD:
		/* the pod's PID namespace: pod-init's, or the host's for a pod
		 * on the host PID namespace (containerd: the pause's, wherever
		 * it is) */
		if (pod->pid_ns_init > 0)
			snprintf(pid_path, sizeof pid_path, "/proc/%d/ns/pid", (int)pod->pid_ns_init);
		else if (po && po->pid == RUNTIME__V1__NAMESPACE_MODE__NODE)
			pid_mode = RUNTIME__V1__NAMESPACE_MODE__NODE;
		break;
	case RUNTIME__V1__NAMESPACE_MODE__CONTAINER:
		break;
	case RUNTIME__V1__NAMESPACE_MODE__TARGET:
		return OCISPEC_INVALID(s, NS_FIELD ".pid: TARGET (another container's PID "
				       "namespace) is not supported yet");
	default:
		return OCISPEC_INVALID(s, NS_FIELD ".pid: unknown mode %d", pid_mode);
	}
	json_object *a = ocispec_child(s->linux, "namespaces", true);
	if (!a)
		return ocispec_nomem(s);
	int r = 0;
	if (pid_mode != RUNTIME__V1__NAMESPACE_MODE__NODE)
		r = ns(s, a, "pid", pid_path[0] ? pid_path : NULL);
	if (r >= 0 && pod->ipc_ns)
		r = ns(s, a, "ipc", pod->ipc_ns);
	if (r >= 0 && pod->uts_ns)
		r = ns(s, a, "uts", pod->uts_ns);
	if (r >= 0)
		r = ns(s, a, "mount", NULL);
	if (r >= 0 && pod->net_ns)
		r = ns(s, a, "network", pod->net_ns);
	if (r >= 0 && s->in->host->cgroup_v2 && !s->privileged)
		r = ns(s, a, "cgroup", NULL);
	return r;
}

static int path_list(struct ocispec *s, const char *key, char *const *v, size_t n,
		     const char *field, const char *const *defaults, size_t n_defaults)
{
	if (s->privileged)
		return 0;
	if (n > OCISPEC_MAX_PATHS)
		return OCISPEC_INVALID(s, "%s: more than %u", field, OCISPEC_MAX_PATHS);
	for (size_t i = 0; i < n; i++) {
		const char *p = ocispec_str(v[i]);
		if (p[0] != '/' || strlen(p) >= OCISPEC_MAX_PATH)
			return OCISPEC_INVALID(s, "%s[%zu]: not an absolute path", field, i);
	}
	json_object *a = n ? ocispec_str_array((const char *const *)v, n)
			   : ocispec_str_array(defaults, n_defaults);
	return ocispec_set(s->linux, key, a) < 0 ? ocispec_nomem(s) : 0;
}

int ocispec_linux(struct ocispec *s)
{
	const struct oci_input *in = s->in;
	int r = namespaces(s);
	if (r < 0)
		return r;
	const char *cg = ocispec_str(in->cgroups_path);
	if (strlen(cg) >= OCISPEC_MAX_PATH)
		return OCISPEC_INVALID(s, "the cgroups path is too long");
	if (cg[0] && ocispec_set_str(s->linux, "cgroupsPath", cg) < 0)
		return ocispec_nomem(s);
	r = path_list(s, "maskedPaths", s->sc ? s->sc->masked_paths : NULL,
		      s->sc ? s->sc->n_masked_paths : 0,
		      "config.linux.security_context.masked_paths", default_masked,
		      sizeof default_masked / sizeof default_masked[0]);
	if (r >= 0)
		r = path_list(s, "readonlyPaths", s->sc ? s->sc->readonly_paths : NULL,
			      s->sc ? s->sc->n_readonly_paths : 0,
			      "config.linux.security_context.readonly_paths", default_readonly,
			      sizeof default_readonly / sizeof default_readonly[0]);
	if (r >= 0)
		r = ocispec_devices(s);
	if (r >= 0)
		r = ocispec_resources(s);
	if (r >= 0)
		r = ocispec_sysctls(s);
	return r;
}
