/*
 * state: sandboxd's pods and containers, in memory and in sqlite
 * (ROOT/sandboxd/state.db, WAL). Memory is what List and Status read; the
 * database is what a restarted sandboxd reads back (state_open), so every
 * change that a restart must know is saved before the step that depends on
 * it: a row exists (state CREATING) before anything is made for the object,
 * and what was made (the pod-init pid, the CNI config, the conmon pid) is
 * saved as soon as it exists. Recovery (sandboxd/recover.c) finishes or
 * undoes whatever a row says was in progress.
 *
 * Locking: one mutex (state_lock/state_unlock) guards the maps and every
 * field below that is marked "locked"; it is held only for short work (no
 * process is run under it). A lifecycle step on an object holds the
 * object's op mutex (pod->op, ctr->op) for its whole length, so two steps on
 * one object never interleave. Order: op mutex, then the state lock. Objects
 * are reference counted: a lookup takes a reference (state_*_put drops it);
 * an object removed from the maps lives until its last reference.
 *
 * Ids: 64 lowercase hex characters; lookups accept a unique prefix, as
 * containerd does (crictl shows 13 characters). Never logs.
 */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/error.h"
#include "cri.pb-c.h"

#define SBX_ID_LEN 64

enum pod_state {
	POD_CREATING = 0,       /* RunPodSandbox is making it */
	POD_READY = 1,
	POD_STOPPING = 2,       /* StopPodSandbox is taking it down */
	POD_NOTREADY = 3,
	POD_REMOVING = 4,
};

enum ctr_state {
	CTR_CREATING = 0,       /* CreateContainer is making it */
	CTR_CREATED = 1,
	CTR_STARTING = 2,       /* runc start in flight (CRI: CREATED) */
	CTR_RUNNING = 3,
	CTR_EXITED = 4,
	CTR_REMOVING = 5,
};

struct pod {
	char id[SBX_ID_LEN + 1];
	Runtime__V1__PodSandboxConfig *config;  /* owned; never changes */
	int64_t created_ns;
	char handler[64];                       /* the runtime handler */
	/* locked */
	enum pod_state state;
	pid_t init_pid;                         /* pod-init (pid = POD), 0: none */
	uint64_t init_start;                    /* its start time (/proc stat field 22) */
	char *cgroup_parent;                    /* cgroupfs path or systemd slice */
	bool cgroup_owned;                      /* sandboxd made it: remove it too */
	bool netns;                             /* namespaces pinned (paths from the id) */
	bool ipcns, utsns, shm;
	bool cni_started;                       /* ADD may have begun: DEL on teardown */
	char *cni_net;                          /* the config ADD ran with (JSON) */
	char *cni_result;                       /* ADD's result (JSON) */
	char **ips;                             /* the pod's IPs, primary first */
	size_t n_ips;
	/* not saved */
	pthread_mutex_t op;
	unsigned refs;
	bool gone;                              /* removed from the maps */
};

struct ctr {
	char id[SBX_ID_LEN + 1];
	char pod_id[SBX_ID_LEN + 1];
	Runtime__V1__ContainerConfig *config;   /* owned; never changes */
	int64_t created_ns;
	char *image_id;                         /* sha256:<hex> */
	char *image_ref;                        /* repo digest, else the id */
	char *image_name;                       /* what ImageSpec to report */
	char *log_path;                         /* absolute; "" without a log */
	/* locked */
	enum ctr_state state;
	int64_t started_ns, finished_ns;
	int exit_code;
	char *reason;                           /* "Completed", "Error", "OOMKilled", ... */
	char *message;
	pid_t pid;                              /* the container's init */
	pid_t conmon_pid;
	uint64_t conmon_start;
	uint32_t uid, gid;                      /* the process's ids */
	int stop_signal;
	bool lease;                             /* an image lease may exist */
	unsigned mounts;                        /* image mounts made (count) */
	/* not saved */
	pthread_mutex_t op;
	unsigned refs;
	bool gone;
	int exit_watch;                         /* pidfd on conmon, -1: none */
	void *exit_source;                      /* its loop source */
};

struct state;

/* Open ROOT/sandboxd/state.db and load every row into memory. */
int state_open(const char *root, struct state **ret, struct crisp_error *err);
void state_close(struct state *st);

void state_lock(struct state *st);
void state_unlock(struct state *st);
/* Wake every state_wait (state lock held by the caller). */
void state_broadcast(struct state *st);
/* Wait for a broadcast (state lock held), at most until deadline_ms
 * (CLOCK_MONOTONIC; 0: no limit). -ETIMEDOUT when it passed. */
int state_wait(struct state *st, int64_t deadline_ms);

/* A fresh random id. */
void state_new_id(char ret[SBX_ID_LEN + 1]);

/* Lookups by id or unique prefix, with a reference (state lock NOT held by
 * the caller). -ENOENT (also for what is not lowercase hex: it names
 * nothing of ours), -ENOTUNIQ (an ambiguous prefix). */
int state_pod_get(struct state *st, const char *id, struct pod **ret);
int state_ctr_get(struct state *st, const char *id, struct ctr **ret);
void state_pod_put(struct state *st, struct pod *p);
void state_ctr_put(struct state *st, struct ctr *c);

/* New objects (calloc'ed, op mutex initialised, one reference for the
 * caller); state_*_add puts one in the maps and saves its row. */
struct pod *state_pod_new(void);
struct ctr *state_ctr_new(void);
int state_pod_add(struct state *st, struct pod *p);
/* Free an object that was never added (and its fields). */
void state_pod_free(struct pod *p);
void state_ctr_free(struct ctr *c);
int state_ctr_add(struct state *st, struct ctr *c);
/* Write the object's row as it is now (call with the state lock held). */
int state_pod_save(struct state *st, struct pod *p);
int state_ctr_save(struct state *st, struct ctr *c);
/* Remove the row and take it out of the maps (state lock NOT held). */
int state_pod_del(struct state *st, struct pod *p);
int state_ctr_del(struct state *st, struct ctr *c);

/* Counts (state lock held). */
size_t state_n_pods(struct state *st);
size_t state_n_ctrs(struct state *st);
size_t state_pod_n_ctrs(struct state *st, const char *pod_id);

/* Every object, with a reference each (state lock NOT held); free the array
 * with state_*_put_all. */
int state_pods_all(struct state *st, struct pod ***ret_v, size_t *ret_n);
int state_ctrs_all(struct state *st, struct ctr ***ret_v, size_t *ret_n);
void state_pods_put_all(struct state *st, struct pod **v, size_t n);
void state_ctrs_put_all(struct state *st, struct ctr **v, size_t n);
/* The containers of a pod, with a reference each. */
int state_pod_ctrs(struct state *st, const char *pod_id, struct ctr ***ret_v, size_t *ret_n);

/* Helpers for the text fields: replace *field with a copy of v (NULL ok). */
int state_set_str(char **field, const char *v);
