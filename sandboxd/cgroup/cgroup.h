/*
 * cgroup: the cgroups of pods and containers, with the cgroupfs driver
 * (directories under /sys/fs/cgroup, v1, v2 or the hybrid of both) or the
 * systemd driver (slices and scopes that runc asks systemd for). Owns: what
 * the machine has (cgroup_host_detect), the path of a pod's cgroup (the
 * CgroupParent kubelet gives, or crisp's own when it gives none) and of a
 * container's (a child of it: runc makes it), making and removing the pod
 * cgroups sandboxd owns, putting a process in one, the files conmon watches
 * for OOM kills, and the sub-cgroups ExecSync kills through.
 *
 * Hugepage limits need a hugetlb controller runc can use: on a hybrid tree
 * whose hugetlb sits on the v2 root (as on the project's machine) there is
 * none, and limits are left out (containerd's disable_hugetlb_controller).
 * Never logs; negative errno.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CGROUP_ROOT "/sys/fs/cgroup"

enum cgroup_mode {
	CGROUP_V1 = 1,          /* controllers under /sys/fs/cgroup/<name> */
	CGROUP_HYBRID = 2,      /* v1, with a v2 tree at /sys/fs/cgroup/unified */
	CGROUP_V2 = 3,          /* the unified hierarchy at /sys/fs/cgroup */
};

struct cgroup_host {
	enum cgroup_mode mode;
	bool systemd;                   /* the systemd driver */
	bool hugetlb;                   /* a hugetlb controller runc can use */
	bool swap;                      /* the memory controller limits swap too */
	char hugetlb_why[160];          /* when not: why, for the log */
};

int cgroup_host_detect(bool systemd, struct cgroup_host *ret);
const char *cgroup_mode_name(enum cgroup_mode m);

/* A pod's cgroup: the CgroupParent kubelet gave (checked: a cgroupfs path
 * "/a/b" without "..", or a systemd slice "a-b.slice"), or, when it gave
 * none, crisp's own ("/crisp/pods/<id>" or "crisp-pods-<id>.slice"), which
 * *ret_owned says sandboxd must make and remove. -EINVAL for a bad parent. */
int cgroup_pod_path(const struct cgroup_host *h, const char *parent, const char *pod_id,
		    char *buf, size_t len, bool *ret_owned);
/* A container's linux.cgroupsPath below its pod's cgroup. */
int cgroup_ctr_path(const struct cgroup_host *h, const char *pod_cgroup, const char *ctr_id,
		    char *buf, size_t len);
/* The directory of a cgroup path in one hierarchy ("memory", "freezer",
 * ... on v1; "" for the unified tree), e.g. for a container's
 * cgroupsPath: systemd's "slice:prefix:name" is expanded as runc does. */
int cgroup_dir(const struct cgroup_host *h, const char *controller, const char *path,
	       char *buf, size_t len);

/* Make the pod cgroup path in every hierarchy (cpuset.cpus/mems copied from
 * the parent on v1); cgroupfs only (systemd makes slices itself). */
int cgroup_make(const struct cgroup_host *h, const char *path);
/* Remove it where it exists (every hierarchy; empty sub-cgroups first).
 * -EBUSY when a process is still in it. */
int cgroup_remove(const struct cgroup_host *h, const char *path);
/* Put pid into the cgroup path in every hierarchy. */
int cgroup_enter(const struct cgroup_host *h, const char *path, pid_t pid);

/* The file whose oom_kill counter tells an OOM kill in a container's cgroup:
 * memory.oom_control (v1) or memory.events (v2). */
int cgroup_oom_file(const struct cgroup_host *h, const char *ctr_path, char *buf, size_t len);

/* ExecSync's sub-cgroup of a container: made in the freezer hierarchy (v1)
 * or the unified tree (v2), named crisp-exec-<n>. *ret_spec is runc exec's
 * --cgroup argument, *ret_procs the cgroup.procs file to kill through. */
int cgroup_exec_make(const struct cgroup_host *h, const char *ctr_path, unsigned n,
		     char *ret_spec, size_t spec_len, char *ret_procs, size_t procs_len);
/* Remove it (killing what is left in it). */
int cgroup_exec_remove(const struct cgroup_host *h, const char *ctr_path, unsigned n);
