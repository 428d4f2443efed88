/*
 * oci/spec: oci_spec_build, the whole document: ociVersion, root, then the
 * parts (process.c, mounts.c, linux.c), a few informational annotations,
 * the size cap, and last the image volumes (volumes.c: the one part that
 * writes, into the rootfs, once everything else has been accepted).
 *
 * Choices that are not a part's own:
 *   - a privileged container needs a privileged pod (containerd: "no
 *     privileged container allowed in sandbox");
 *   - the CRI annotations (the pod's and the container's) are never
 *     copied into the spec: runtimes act on some annotations. Only
 *     io.kubernetes.cri.{container-type,sandbox-id,sandbox-name,
 *     sandbox-namespace,container-name,image-name}, as containerd sets them;
 *   - no hostname (see linux.c), no seccomp, AppArmor or SELinux label yet
 *     (their security context fields are accepted and left unconfined);
 *   - ret is filled only on success.
 * Never logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sandboxd/oci/spec_int.h"

#define OCI_VERSION "1.0.2-dev"

static int annotations(struct ocispec *s)
{
	const struct oci_pod *pod = s->in->pod;
	const Runtime__V1__PodSandboxMetadata *pm = pod->config ? pod->config->metadata : NULL;
	const Runtime__V1__ContainerConfig *c = s->cfg;
	const struct {
		const char *key, *value;
	} a[] = {
		{ "io.kubernetes.cri.container-type", "container" },
		{ "io.kubernetes.cri.sandbox-id", ocispec_str(pod->id) },
		{ "io.kubernetes.cri.sandbox-name", pm ? ocispec_str(pm->name) : "" },
		{ "io.kubernetes.cri.sandbox-namespace", pm ? ocispec_str(pm->namespace_) : "" },
		{ "io.kubernetes.cri.container-name", c->metadata ? ocispec_str(c->metadata->name) : "" },
		{ "io.kubernetes.cri.image-name", c->image ? ocispec_str(c->image->image) : "" },
	};
	json_object *o = ocispec_child(s->spec, "annotations", false);
	if (!o)
		return ocispec_nomem(s);
	for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
		if (!a[i].value[0])
			continue;
		if (strlen(a[i].value) >= OCISPEC_MAX_PATH)
			return OCISPEC_INVALID(s, "%s: too long", a[i].key);
		if (ocispec_set_str(o, a[i].key, a[i].value) < 0)
			return ocispec_nomem(s);
	}
	return 0;
}

static int check_input(const struct oci_input *in, struct crisp_error *err)
{
	if (!in || !in->config || !in->pod || !in->host || !in->rootfs || in->rootfs[0] != '/' ||
	    in->rootfs_fd < 0)
		return crisp_fail(err, CRISP_STATUS_INTERNAL, -EINVAL,
				  "oci_spec_build: incomplete input");
	if (strlen(in->rootfs) >= OCISPEC_MAX_PATH)
		return crisp_fail(err, CRISP_STATUS_INTERNAL, -ENAMETOOLONG,
				  "oci_spec_build: rootfs path too long");
	return 0;
}

static int root(struct ocispec *s)
{
	json_object *r = ocispec_child(s->spec, "root", false);
	if (!r || ocispec_set_str(r, "path", s->in->rootfs) < 0 ||
	    ocispec_set_bool(r, "readonly", s->sc && s->sc->readonly_rootfs) < 0)
		return ocispec_nomem(s);
	return 0;
}

static int build(struct ocispec *s, char **ret_json)
{
	bool pod_privileged = s->pod_sc && s->pod_sc->privileged;
	if (s->privileged && !pod_privileged)
		return OCISPEC_INVALID(s, "config.linux.security_context.privileged: the pod is not "
				       "privileged (sandbox_config.linux.security_context.privileged)");
	s->spec = json_object_new_object();
	if (!s->spec || ocispec_set_str(s->spec, "ociVersion", OCI_VERSION) < 0)
		return ocispec_nomem(s);
	s->linux = ocispec_child(s->spec, "linux", false);
	s->resources = s->linux ? ocispec_child(s->linux, "resources", false) : NULL;
	if (!s->resources)
		return ocispec_nomem(s);
	int r = root(s);
	if (r >= 0)
		r = ocispec_process(s);
	if (r >= 0)
		r = ocispec_mounts(s);
	if (r >= 0)
		r = ocispec_linux(s);
	if (r >= 0)
		r = annotations(s);
	if (r < 0)
		return r;
	size_t len = 0;
	const char *j = json_object_to_json_string_length(s->spec, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!j)
		return ocispec_nomem(s);
	if (len > OCISPEC_MAX_SPEC)
		return OCISPEC_INVALID(s, "the OCI spec would be %zu bytes, more than %u", len,
				       OCISPEC_MAX_SPEC);
	r = ocispec_volumes(s);
	if (r < 0)
		return r;
	*ret_json = strndup(j, len);
	return *ret_json ? 0 : ocispec_nomem(s);
}

int oci_spec_build(const struct oci_input *in, struct oci_output *ret, struct crisp_error *err)
{
	static const Crisp__ImageRuntimeConfig no_image = CRISP__IMAGE_RUNTIME_CONFIG__INIT;
	int r = check_input(in, err);
	if (r < 0)
		return r;
	const Runtime__V1__LinuxContainerConfig *lc = in->config->linux;
	const Runtime__V1__PodSandboxConfig *pc = in->pod->config;
	struct ocispec s = {
		.in = in,
		.cfg = in->config,
		.sc = lc ? lc->security_context : NULL,
		.res = lc ? lc->resources : NULL,
		.pod_sc = pc && pc->linux ? pc->linux->security_context : NULL,
		.image = in->image ? in->image : &no_image,
		.err = err,
	};
	s.privileged = s.sc && s.sc->privileged;
	char *json = NULL;
	r = build(&s, &json);
	json_object_put(s.spec);
	if (r < 0) {
		free(s.groups);
		return r;
	}
	*ret = (struct oci_output){
		.json = json,
		.uid = s.uid,
		.gid = s.gid,
		.groups = s.groups,
		.n_groups = s.n_groups,
		.stop_signal = s.stop_signal,
		.tty = in->config->tty,
		.stdin = in->config->stdin,
		.stdin_once = in->config->stdin_once,
	};
	return 0;
}

void oci_output_clear(struct oci_output *o)
{
	if (!o)
		return;
	free(o->json);
	free(o->groups);
	o->json = NULL;
	o->groups = NULL;
	o->n_groups = 0;
}
