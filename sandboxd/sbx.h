/*
 * sbx: sandboxd's own state, shared by its parts (pod/, container/,
 * recover.c, handle.c), and the paths it keeps things at:
 *
 *   RUNROOT/pods/<id>/           a pod: ns/{net,ipc,uts} (nsfs pins),
 *                                shm/ (its /dev/shm, a tmpfs), hostname,
 *                                hosts, resolv.conf
 *   RUNROOT/containers/<id>/     a container: bundle/config.json, rootfs/
 *                                (the overlay), image-<n>/ (image mounts),
 *                                and conmon's files (conmon/conmon.h)
 *   ROOT/containers/<id>/        its writable layer: upper/, work/
 *   ROOT/sandboxd/state.db       the state (state/)
 *
 * One struct sbx lives for the life of the process (main.c makes it).
 */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/config.h"
#include "common/error.h"
#include "common/loop.h"
#include "common/pool.h"
#include "sandboxd/cgroup/cgroup.h"
#include "sandboxd/cni/cni.h"
#include "sandboxd/imaged.h"
#include "sandboxd/state/state.h"

#define SBX_LIFE_WORKERS 16     /* lifecycle steps at once (each may wait on runc or CNI) */
#define SBX_EXEC_WORKERS 32     /* ExecSyncs at once */
#define SBX_QUEUE_MAX 4096
#define SBX_CONMON_TIMEOUT_MS 120000    /* runc create, through conmon */
#define SBX_RUNC_TIMEOUT_MS 60000       /* runc start, kill, delete, state */

struct sbx_handler {
	const struct runtime_handler *cfg;      /* [runtime.NAME] */
	char root[PATH_MAX];                    /* its --root */
	bool rro;                               /* supports "rro" mounts */
};

struct sbx {
	const struct crisp_config *cfg;
	struct loop *loop;
	struct state *st;
	struct pool *life;
	struct pool *exec;
	struct cgroup_host cg;
	struct cni_settings cni;
	struct sbx_handler handlers[CONFIG_MAX_HANDLERS];
	size_t n_handlers;
	int oom_score_adj_min;                  /* our own: what conmon, runc inherit */
	uint64_t caps;                          /* our effective capabilities: "every
						 * capability" of a privileged container */
	char dir_pods[PATH_MAX];                /* RUNROOT/pods */
	char dir_ctrs[PATH_MAX];                /* RUNROOT/containers */
	char dir_data[PATH_MAX];                /* ROOT/containers */
	char ipam_dir[PATH_MAX];
	char conmon[PATH_MAX];                  /* build/conmon beside sandboxd */
	char pod_init[PATH_MAX];
	char imaged_sock[PATH_MAX];             /* RUNROOT/admin/imaged.sock */
	struct imaged_conn imaged;              /* the connection to it */
	unsigned exec_seq;                      /* ExecSync sub-cgroup names (atomic) */
	bool stopping;
};

/* The handler a pod names ("" : the default one); NULL when unknown. */
const struct sbx_handler *sbx_handler(const struct sbx *s, const char *name);
/* Paths of a pod's or container's things. */
int sbx_pod_dir(const struct sbx *s, const char *id, char *buf, size_t len);
int sbx_pod_path(const struct sbx *s, const char *id, const char *what, char *buf, size_t len);
int sbx_ctr_dir(const struct sbx *s, const char *id, char *buf, size_t len);
int sbx_ctr_path(const struct sbx *s, const char *id, const char *what, char *buf, size_t len);
int sbx_ctr_data(const struct sbx *s, const char *id, const char *what, char *buf, size_t len);
int64_t sbx_now_ns(void);               /* CLOCK_REALTIME */
int64_t sbx_mono_ms(void);              /* CLOCK_MONOTONIC */
/* The start time of a process (/proc/PID/stat field 22), 0 if it is gone. */
uint64_t sbx_proc_start(pid_t pid);
/* Is pid alive and still the process that started at start? */
bool sbx_proc_is(pid_t pid, uint64_t start);
