/*
 * oci/spec: the OCI runtime spec (config.json, runtime-spec 1.0.2, as runc
 * 1.1 reads it) of one container, built from what kubelet asked (the CRI
 * ContainerConfig and PodSandboxConfig), what the image says (its runtime
 * config, parsed and checked by imaged) and what sandboxd made for the pod
 * (namespace pins, pod files, cgroup parent). A pure function of its input
 * but for reading the rootfs's /etc/passwd and /etc/group (and making image
 * volume directories) through rootfs_fd with openat2(RESOLVE_IN_ROOT), with
 * size caps: the rootfs is the image's, so it is hostile input.
 *
 * Semantics follow what kubelet expects of containerd 1.6/1.7 and CRI-O
 * (the spec's comments are the contract): command/args vs entrypoint/cmd,
 * env merge, working dir, user and groups, mounts with propagation,
 * devices, the pod's hostname/hosts/resolv.conf/shm, read-only rootfs,
 * resources, the default capability set, masked and read-only paths, the
 * pod's sysctls, the namespaces to join.
 *
 * Errors (crisp_error): INVALID_ARGUMENT naming the field for a request
 * that cannot be honoured (no command, a bad mount, a relative path, a user
 * missing from /etc/passwd, ...); NOT_FOUND for a host path or device that
 * does not exist. Never logs.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/error.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"

/* What sandboxd learned about the machine and the runtime handler. */
struct oci_host {
	bool cgroup_v2;                 /* the unified hierarchy only */
	bool systemd_cgroup;            /* cgroups_path is "slice:prefix:name" */
	bool hugetlb;                   /* a hugetlb controller runc can use */
	bool rro;                       /* the handler supports the "rro" mount option */
	bool swap;                      /* the memory controller limits swap
					 * (memory.memsw.* on v1, memory.swap.max
					 * on v2): only then is linux.resources.
					 * memory.swap set (containerd's
					 * SwapControllerAvailable) */
	uint64_t all_caps;              /* what "every capability" is, for a privileged
					 * container and add_capabilities "ALL": the
					 * effective set of sandboxd itself (bit n:
					 * capability n; containerd's cap.Current()),
					 * since runc cannot grant one it lacks;
					 * 0: every capability runc 1.1 knows */
	int oom_score_adj_min;          /* sandboxd's own: a lower ask is raised to it
					 * (no CAP_SYS_RESOURCE: containerd's
					 * restrict_oom_score_adj) */
};

/* The pod, as sandboxd made it. */
struct oci_pod {
	const char *id;
	const Runtime__V1__PodSandboxConfig *config;
	const char *net_ns;             /* nsfs pin to join; NULL: the host's network */
	const char *ipc_ns;             /* NULL: the host's IPC */
	const char *uts_ns;             /* NULL: the host's UTS (host network) */
	pid_t pid_ns_init;              /* > 0: the pod shares one PID namespace
					 * (pid = POD), held by this pod-init */
	const char *hostname_path;      /* files to bind at /etc/hostname, */
	const char *hosts_path;         /* /etc/hosts, */
	const char *resolv_path;        /* /etc/resolv.conf (NULL: none) */
	const char *shm_path;           /* the pod's /dev/shm dir (NULL: host IPC:
					 * the host's /dev/shm) */
};

struct oci_input {
	const char *id;                 /* the container's id */
	const Runtime__V1__ContainerConfig *config;
	const Crisp__ImageRuntimeConfig *image;
	const char *rootfs;             /* the mounted rootfs (root.path) */
	int rootfs_fd;                  /* O_PATH|O_DIRECTORY on it */
	const char *cgroups_path;       /* linux.cgroupsPath, made by sandboxd */
	/* config->mounts[i] that name an image: the dir sandboxd mounted it
	 * on (read-only), else NULL; n_mounts entries (NULL array: none) */
	const char *const *image_mount_dirs;
	const struct oci_pod *pod;
	const struct oci_host *host;
};

struct oci_output {
	char *json;                     /* config.json */
	uid_t uid;                      /* the process's ids, as resolved */
	gid_t gid;
	gid_t *groups;                  /* additional gids */
	size_t n_groups;
	int stop_signal;                /* config stop_signal, else the image's, else SIGTERM */
	bool tty, stdin, stdin_once;
};

int oci_spec_build(const struct oci_input *in, struct oci_output *ret, struct crisp_error *err);
void oci_output_clear(struct oci_output *o);    /* frees the fields; ok twice */
