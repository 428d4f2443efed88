/*
 * container: a pod's containers, each run by runc under its own conmon
 * (conmon/conmon.h). CreateContainer leases the image from imaged, mounts
 * the rootfs (an overlay of the image's layers with an upper dir of its
 * own), builds the OCI spec (sandboxd/oci/) and has conmon run `runc
 * create`; StartContainer runs `runc start`; StopContainer signals and
 * waits; RemoveContainer deletes and unmounts everything and releases the
 * lease. Exits are seen through a pidfd on each conmon (exits.c), which
 * writes the exit file first. Every step is saved in the container's row
 * before it is taken (state/), so that recovery finishes or undoes it.
 * Negative errno with err filled; sandboxd's boundary logs.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/error.h"
#include "sandboxd/arena.h"
#include "sandboxd/runtime/runc.h"
#include "sandboxd/sbx.h"
#include "cri.pb-c.h"

/* The CRI calls. deadline_ms: CLOCK_MONOTONIC, 0: none. */
int ctr_create(struct sbx *s, const Runtime__V1__CreateContainerRequest *rq,
	       char ret_id[SBX_ID_LEN + 1], struct crisp_error *err);
int ctr_start(struct sbx *s, const char *id, struct crisp_error *err);
int ctr_stop(struct sbx *s, const char *id, int64_t timeout_s, int64_t deadline_ms,
	     struct crisp_error *err);
int ctr_remove(struct sbx *s, const char *id, int64_t deadline_ms, struct crisp_error *err);
int ctr_status(struct sbx *s, const Runtime__V1__ContainerStatusRequest *rq, struct arena *a,
	       Runtime__V1__ContainerStatusResponse **ret, struct crisp_error *err);
int ctr_list(struct sbx *s, const Runtime__V1__ListContainersRequest *rq, struct arena *a,
	     Runtime__V1__ListContainersResponse **ret, struct crisp_error *err);
/* The CRI view of one container (state lock held), built in a. */
Runtime__V1__ContainerStatus *ctr_cri_status(const struct ctr *c, struct arena *a);
int ctr_reopen_log(struct sbx *s, const char *id, struct crisp_error *err);
/* ret's stdout/stderr are malloc'ed (free them). */
int ctr_exec_sync(struct sbx *s, const Runtime__V1__ExecSyncRequest *rq, int64_t deadline_ms,
		  const atomic_bool *cancel, Runtime__V1__ExecSyncResponse *ret,
		  struct crisp_error *err);

/* For pods and recovery; the caller holds c->op. */
/* The runtime a container runs with (its pod's handler). */
int ctr_runc(struct sbx *s, const struct ctr *c, struct runc *ret);
/* SIGKILL every process of it and wait for conmon to see the exit. */
int ctr_kill_wait(struct sbx *s, struct ctr *c, int64_t deadline_ms, struct crisp_error *err);
/* Remove everything the row says exists, then the row. */
int ctr_teardown(struct sbx *s, struct ctr *c, struct crisp_error *err);

/* exits.c: the thread that watches conmons (a pidfd each). */
int exits_start(struct sbx *s);
void exits_stop(struct sbx *s);
/* Watch c's conmon (c->conmon_pid, c->conmon_start): when it exits, its
 * exit file is read and c becomes EXITED. Any thread; takes a reference. */
int exits_watch(struct sbx *s, struct ctr *c);
/* Read c's exit file now, if it is there: 1 when c is EXITED after it
 * (state lock NOT held). */
int exits_collect(struct sbx *s, struct ctr *c);

/* rootfs.c */
int rootfs_mount(char *const *lower, size_t n_lower, const char *upper, const char *work,
		 const char *target, bool readonly, struct crisp_error *err);
/* Unmount target (and anything below it); fine when nothing is there. */
int rootfs_unmount(const char *target);
/* rm -rf path, staying on its file system, never following a symlink. */
int rootfs_remove_tree(const char *path);
