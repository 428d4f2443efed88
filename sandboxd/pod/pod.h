/*
 * pod: pod sandboxes without a pause container. RunPodSandbox makes the
 * pod's network, IPC and UTS namespaces itself and pins them (ns.c), its
 * /dev/shm, its hostname/hosts/resolv.conf files (files.c), its cgroup
 * (sandboxd/cgroup/), a pod-init when its containers share one PID
 * namespace (podinit.c), and its network through CNI (sandboxd/cni/);
 * StopPodSandbox stops its containers and gives back its network and
 * namespaces; RemovePodSandbox removes everything. Each step that makes
 * something is saved in the pod's row first, so that recovery can undo or
 * finish it (pod_teardown). Status and List answer from memory.
 * The calls below return negative errno and fill err (a gRPC code and a
 * message naming the field or step); sandboxd's boundary logs.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/error.h"
#include "sandboxd/arena.h"
#include "sandboxd/sbx.h"
#include "cri.pb-c.h"

/* ns.c. want: {net, ipc, uts}. */
int pod_ns_create(const char *nsdir, const bool want[3], const char *hostname,
		  struct crisp_error *err);
int pod_ns_release(const char *nsdir);
bool pod_ns_pinned(const char *path);
int pod_shm_create(const char *dir, uint64_t size, struct crisp_error *err);
/* For a forked child that does not exec (at once): close every fd above 2
 * but the n in keep (at most 8), so that it holds no other thread's pipe.
 * Async-signal-safe. */
void pod_close_all_but(const int *keep, size_t n);
int pod_shm_release(const char *dir);

/* files.c */
int pod_hostname_check(const char *h, struct crisp_error *err);
int pod_files_write(const char *dir, const Runtime__V1__PodSandboxConfig *cfg, bool host_net,
		    const char *hostname, const char *ip, struct crisp_error *err);

/* podinit.c. ns_paths: {net, ipc, uts} to join, NULL: stay in ours. */
int pod_init_start(const char *exe, const char *const ns_paths[3], const char *cgroup,
		   const struct cgroup_host *cg, pid_t *ret_pid, uint64_t *ret_start,
		   struct crisp_error *err);
int pod_init_stop(pid_t pid, uint64_t start);

/* bandwidth.c: the bandwidth annotations, in bits/s (0: none). */
uint64_t pod_quantity(const char *s);
void pod_bandwidth(const Runtime__V1__PodSandboxConfig *cfg, uint64_t *ret_in, uint64_t *ret_out);

/* What the pod's config asks of its namespaces. */
struct pod_ns_mode {
	bool host_net, host_ipc, host_pid;
	bool pod_pid;                   /* pid = POD: one namespace, held by pod-init */
};
void pod_ns_mode(const Runtime__V1__PodSandboxConfig *cfg, struct pod_ns_mode *ret);
/* The pod's cgroup path ("" parent resolved as cgroup_pod_path does). */
const char *pod_cgroup(const struct pod *p);
/* pod-init's cgroup (a leaf below the pod's), and its removal. */
void pod_init_cgroup(const struct pod *p, char *buf, size_t len);
int pod_init_cgroup_remove(struct sbx *s, const struct pod *p);

/* run.c */
int pod_run(struct sbx *s, const Runtime__V1__RunPodSandboxRequest *rq,
	    char ret_id[SBX_ID_LEN + 1], struct crisp_error *err);
/* stop.c: StopPodSandbox and RemovePodSandbox. teardown undoes what the
 * pod's row says exists: with remove, everything (dirs, cgroup, the row
 * too), else what stop gives back (containers killed, network, namespaces,
 * pod-init). Holds nothing but what the caller holds (the pod's op mutex). */
int pod_stop(struct sbx *s, const char *id, struct crisp_error *err);
int pod_teardown(struct sbx *s, struct pod *p, bool remove, struct crisp_error *err);
int pod_remove(struct sbx *s, const char *id, struct crisp_error *err);
/* status.c: answers built in a (freed by the caller after sending). */
int pod_status(struct sbx *s, const Runtime__V1__PodSandboxStatusRequest *rq,
	       struct arena *a, Runtime__V1__PodSandboxStatusResponse **ret,
	       struct crisp_error *err);
int pod_list(struct sbx *s, const Runtime__V1__ListPodSandboxRequest *rq, struct arena *a,
	     Runtime__V1__ListPodSandboxResponse **ret, struct crisp_error *err);
/* CRI's state of a pod. */
Runtime__V1__PodSandboxState pod_cri_state(enum pod_state st);
