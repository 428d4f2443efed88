/*
 * test_oci_spec_lib: the request builder and JSON look-ups shared by the
 * test_oci_spec*.c unit tests (see test_oci_spec_lib.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/status.h"
#include "tests/unit/test_oci_spec_lib.h"
#include "tests/unit/unit.h"

static const char *const passwd_text =
	"root:x:0:0:root:/root:/bin/sh\n"
	"daemon:x:2:2::/:/bin/false\n"
	"# a comment\n"
	"\n"
	"alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
	"bob:x:1001:1001::/home/bob:/bin/sh\n";
static const char *const group_text =
	"root:x:0:\n"
	"wheel:x:10:root\n"
	"audio:x:29:bob,alice\n"
	"video:x:44:alice\n"
	"alice:x:1000:alice\n"
	"bob:x:1001:\n"
	"staff:x:50:carol\n";

void t_write(const char *dir, const char *rel, const char *text)
{
	char p[PATH_MAX * 2], d[PATH_MAX * 3];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	snprintf(d, sizeof d, "mkdir -p \"$(dirname '%s')\"", p);
	CHECK(system(d) == 0);
	FILE *f = fopen(p, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

void t_init(struct t_spec *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->rootfs, sizeof t->rootfs, "%s/rootfs", unit_tmpdir());
	snprintf(t->files, sizeof t->files, "%s/pod", unit_tmpdir());
	CHECK(mkdir(t->rootfs, 0755) == 0 && mkdir(t->files, 0755) == 0);
	t_write(t->rootfs, "etc/passwd", passwd_text);
	t_write(t->rootfs, "etc/group", group_text);
	snprintf(t->hostname_path, sizeof t->hostname_path, "%s/pod/hostname", unit_tmpdir());
	snprintf(t->hosts_path, sizeof t->hosts_path, "%s/pod/hosts", unit_tmpdir());
	snprintf(t->resolv_path, sizeof t->resolv_path, "%s/pod/resolv.conf", unit_tmpdir());
	snprintf(t->shm_path, sizeof t->shm_path, "%s/pod/shm", unit_tmpdir());
	t_write(t->files, "hostname", "pod1\n");
	t_write(t->files, "hosts", "127.0.0.1 localhost\n");
	t_write(t->files, "resolv.conf", "nameserver 127.0.0.1\n");
	CHECK(mkdir(t->shm_path, 01777) == 0);

	runtime__v1__container_config__init(&t->cfg);
	runtime__v1__container_metadata__init(&t->meta);
	runtime__v1__image_spec__init(&t->img_spec);
	runtime__v1__linux_container_config__init(&t->lc);
	runtime__v1__linux_container_security_context__init(&t->sc);
	runtime__v1__linux_container_resources__init(&t->res);
	runtime__v1__capability__init(&t->caps);
	runtime__v1__namespace_option__init(&t->nsopt);
	runtime__v1__int64_value__init(&t->run_as_user);
	runtime__v1__int64_value__init(&t->run_as_group);
	runtime__v1__pod_sandbox_config__init(&t->pod_cfg);
	runtime__v1__pod_sandbox_metadata__init(&t->pod_meta);
	runtime__v1__linux_pod_sandbox_config__init(&t->pod_linux);
	runtime__v1__linux_sandbox_security_context__init(&t->pod_sc);
	runtime__v1__namespace_option__init(&t->pod_nsopt);
	crisp__image_runtime_config__init(&t->image);

	static char *sh[] = { "/bin/sh" };
	t->meta.name = "c1";
	t->img_spec.image = "docker.io/library/busybox:latest";
	t->cfg.metadata = &t->meta;
	t->cfg.image = &t->img_spec;
	t->cfg.command = sh;
	t->cfg.n_command = 1;
	t->cfg.linux = &t->lc;
	t->lc.security_context = &t->sc;
	t->sc.namespace_options = &t->nsopt;
	t->nsopt.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;

	t->pod_meta.name = "pod1";
	t->pod_meta.namespace_ = "default";
	t->pod_meta.uid = "uid-1";
	t->pod_cfg.metadata = &t->pod_meta;
	t->pod_cfg.hostname = "pod1";
	t->pod_cfg.linux = &t->pod_linux;
	t->pod_linux.security_context = &t->pod_sc;
	t->pod_sc.namespace_options = &t->pod_nsopt;

	t->pod = (struct oci_pod){
		.id = "podid1",
		.config = &t->pod_cfg,
		.net_ns = "/run/crisp-test/netns/pod1",
		.ipc_ns = "/run/crisp-test/ipcns/pod1",
		.uts_ns = "/run/crisp-test/utsns/pod1",
		.pid_ns_init = 0,
		.hostname_path = t->hostname_path,
		.hosts_path = t->hosts_path,
		.resolv_path = t->resolv_path,
		.shm_path = t->shm_path,
	};
	t->host = (struct oci_host){ .oom_score_adj_min = -999 };
	int fd = open(t->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	t->in = (struct oci_input){
		.id = "ctr1",
		.config = &t->cfg,
		.image = &t->image,
		.rootfs = t->rootfs,
		.rootfs_fd = fd,
		.cgroups_path = "/crisp/pod1/ctr1",
		.pod = &t->pod,
		.host = &t->host,
	};
}

void t_done(struct t_spec *t)
{
	if (t->doc)
		json_object_put(t->doc);
	t->doc = NULL;
	oci_output_clear(&t->out);
}

int t_build(struct t_spec *t)
{
	t_done(t);
	memset(&t->err, 0, sizeof t->err);
	memset(&t->out, 0, sizeof t->out);
	int r = oci_spec_build(&t->in, &t->out, &t->err);
	if (r < 0) {
		CHECK(t->err.code != 0 && t->err.msg[0]);
		CHECK(t->out.json == NULL);
		return r;
	}
	CHECK(t->out.json);
	if (getenv("OCI_SPEC_DUMP"))    /* to read what a test built */
		fprintf(stderr, "%s\n", t->out.json);
	t->doc = json_tokener_parse(t->out.json);
	CHECK(t->doc && json_object_is_type(t->doc, json_type_object));
	return r;
}

json_object *t_get(struct t_spec *t, const char *path)
{
	json_object *o = t->doc;
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && o;
	     part = strtok_r(NULL, ".", &save)) {
		char *br = strchr(part, '[');
		size_t idx = 0;
		if (br) {
			*br = '\0';
			idx = strtoul(br + 1, NULL, 10);
		}
		json_object *c = NULL;
		if (!json_object_object_get_ex(o, part, &c))
			return NULL;
		o = c;
		if (br) {
			if (!json_object_is_type(o, json_type_array) ||
			    idx >= json_object_array_length(o))
				return NULL;
			o = json_object_array_get_idx(o, idx);
		}
	}
	return o;
}

const char *t_str(struct t_spec *t, const char *path)
{
	json_object *o = t_get(t, path);
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

long long t_int(struct t_spec *t, const char *path)
{
	json_object *o = t_get(t, path);
	return o && json_object_is_type(o, json_type_int) ? (long long)json_object_get_int64(o)
							   : -999999;
}

bool t_has_str(json_object *a, const char *s)
{
	if (!a || !json_object_is_type(a, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s) == 0)
			return true;
	return false;
}

const char *t_member(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

json_object *t_mount(struct t_spec *t, const char *dst)
{
	json_object *m = t_get(t, "mounts");
	for (size_t i = 0; m && i < json_object_array_length(m); i++) {
		json_object *e = json_object_array_get_idx(m, i);
		const char *d = t_member(e, "destination");
		if (d && strcmp(d, dst) == 0)
			return e;
	}
	return NULL;
}

json_object *t_ns(struct t_spec *t, const char *type)
{
	json_object *a = t_get(t, "linux.namespaces");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *ty = t_member(e, "type");
		if (ty && strcmp(ty, type) == 0)
			return e;
	}
	return NULL;
}
