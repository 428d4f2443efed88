/*
 * test_oci_spec_lib: what the sandboxd/oci unit tests share: a request
 * built by hand from protobuf-c structs (one container, its pod, its image)
 * against a temporary rootfs with its own etc/passwd and etc/group, the
 * build, and a look into the JSON it made (parsed back with json-c).
 */
#pragma once
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include "sandboxd/oci/spec.h"

struct t_spec {
	Runtime__V1__ContainerConfig cfg;
	Runtime__V1__ContainerMetadata meta;
	Runtime__V1__ImageSpec img_spec;
	Runtime__V1__LinuxContainerConfig lc;
	Runtime__V1__LinuxContainerSecurityContext sc;
	Runtime__V1__LinuxContainerResources res;
	Runtime__V1__Capability caps;
	Runtime__V1__NamespaceOption nsopt;
	Runtime__V1__Int64Value run_as_user, run_as_group;
	Runtime__V1__PodSandboxConfig pod_cfg;
	Runtime__V1__PodSandboxMetadata pod_meta;
	Runtime__V1__LinuxPodSandboxConfig pod_linux;
	Runtime__V1__LinuxSandboxSecurityContext pod_sc;
	Runtime__V1__NamespaceOption pod_nsopt;
	Crisp__ImageRuntimeConfig image;
	struct oci_pod pod;
	struct oci_host host;
	struct oci_input in;
	char rootfs[PATH_MAX];
	char files[PATH_MAX];           /* the pod's hostname, hosts, resolv.conf, shm/ */
	char hostname_path[PATH_MAX], hosts_path[PATH_MAX], resolv_path[PATH_MAX],
	     shm_path[PATH_MAX];
	struct oci_output out;
	struct crisp_error err;
	json_object *doc;               /* the last built spec, parsed */
};

/* A container running /bin/sh in a pod with its own network, IPC and UTS
 * (fake pin paths), on cgroup v1, against unit_tmpdir()/rootfs holding
 * etc/passwd (root 0:0, alice 1000:1000, bob 1001:1001, daemon 2:2) and
 * etc/group (root 0, wheel 10: root, audio 29: bob,alice, video 44: alice,
 * alice 1000: alice, bob 1001, staff 50: carol). */
void t_init(struct t_spec *t);
/* oci_spec_build; on success the spec is parsed into t->doc (and checked
 * to be JSON). Returns its result. */
int t_build(struct t_spec *t);
/* Release t->doc and t->out (t_build does it before building again). */
void t_done(struct t_spec *t);

/* The member at a path like "process.user.uid" or "mounts[2].options" of
 * t->doc; NULL when absent. */
json_object *t_get(struct t_spec *t, const char *path);
const char *t_str(struct t_spec *t, const char *path);         /* NULL: absent */
long long t_int(struct t_spec *t, const char *path);           /* -999999: absent */
bool t_has_str(json_object *array, const char *s);
/* The mounts[] entry with this destination; NULL: none. */
json_object *t_mount(struct t_spec *t, const char *dst);
/* The namespace entry of this type; NULL: none. */
json_object *t_ns(struct t_spec *t, const char *type);
const char *t_member(json_object *o, const char *key);         /* a string member */

/* Write text to rootfs-relative (or absolute) path, making its parent. */
void t_write(const char *dir, const char *rel, const char *text);

/* r failed with this status and the message holds words. */
#define EXPECT_ERR(t, r, st, words) do {                                         \
	int _r = (r);                                                           \
	if (_r >= 0 || (t)->err.code != (st) || !strstr((t)->err.msg, (words))) { \
		fprintf(stderr, "  %s:%d: r=%d code=%d msg=\"%s\" (wanted %d, \"%s\")\n", \
			__FILE__, __LINE__, _r, (t)->err.code, (t)->err.msg, (st), (words)); \
		exit(1);                                                        \
	} } while (0)

#define BUILD_OK(t) do {                                                        \
	if (t_build(t) < 0) {                                                   \
		fprintf(stderr, "  %s:%d: build failed: %d %s\n", __FILE__, __LINE__, \
			(t)->err.code, (t)->err.msg);                           \
		exit(1);                                                        \
	} } while (0)

#define STR_EQ(a, b) do {                                                       \
	const char *_a = (a), *_b = (b);                                        \
	if (!_a || strcmp(_a, _b) != 0) {                                       \
		fprintf(stderr, "  %s:%d: %s = \"%s\", wanted \"%s\"\n", __FILE__, __LINE__, \
			#a, _a ? _a : "(null)", _b);                            \
		exit(1);                                                        \
	} } while (0)
