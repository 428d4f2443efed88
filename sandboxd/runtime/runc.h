/*
 * runc: the OCI runtime's subcommands that sandboxd runs itself (conmon
 * runs create and exec): start, kill, delete, state, and features. Each
 * runs to its end under a time limit (common/spawn.c); a failure's text is
 * the runtime's own error message. Works with any runtime that speaks runc's
 * command line (crun too). Never logs.
 */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "common/error.h"

struct runc {
	const char *path;               /* the binary */
	const char *root;               /* its --root */
	bool systemd_cgroup;            /* --systemd-cgroup */
};

enum runc_status { RUNC_GONE = 0, RUNC_CREATED, RUNC_RUNNING, RUNC_STOPPED, RUNC_PAUSED };

int runc_start(const struct runc *rt, const char *id, struct crisp_error *err);
/* all: every process of the container (--all), not only its init. A
 * container that is already stopped or gone is not an error. */
int runc_kill(const struct runc *rt, const char *id, int sig, bool all, struct crisp_error *err);
/* force: kill it first if it runs. A container that is gone is not an error. */
int runc_delete(const struct runc *rt, const char *id, bool force, struct crisp_error *err);
/* RUNC_GONE when the runtime does not know the id. */
int runc_state(const struct runc *rt, const char *id, enum runc_status *ret, pid_t *ret_pid,
	       struct crisp_error *err);
/* Does `PATH features` list the "rro" mount option? false when it cannot
 * tell (an older runtime without `features`). */
bool runc_has_rro(const char *path);
