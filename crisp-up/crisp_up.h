/*
 * crisp-up's internal interfaces: its directories and locks (dirs.c) and
 * the supervision of the daemons (supervise.c). crisp-up is a program, not
 * library code: these functions log what goes wrong themselves.
 */
#pragma once
#include <sys/types.h>
#include "common/config.h"
#include "common/loop.h"

struct suite_locks {
	int root_fd;            /* ROOT/crisp.lock */
	int runroot_fd;         /* RUNROOT/crisp.lock */
};

/* Make or fix ROOT, RUNROOT (with internal/ and admin/) and the listen
 * socket's directory, taking ROOT/crisp.lock and RUNROOT/crisp.lock first:
 * a second crisp-up on the same directories stops here. */
int dirs_prepare(const struct crisp_config *c, uid_t uid, gid_t gid, struct suite_locks *ret);
void dirs_unlock(struct suite_locks *l);

struct supervisor;

/* Start every daemon of proc_table(), in order, from the directory of
 * crisp-up's own binary; restart those that die; stop them all, in reverse
 * order, on SIGTERM or SIGINT, and then quit the loop with 0. */
int supervisor_start(struct loop *l, const struct crisp_config *c, struct supervisor **ret);
void supervisor_free(struct supervisor *s);

/* fork+exec path with argv (argv[0] is the process name), stdin from
 * devnull, stdout/stderr inherited, in crisp-up's session. The child gets
 * PR_SET_PDEATHSIG(SIGTERM), checks crisp-up is still its parent, and
 * resets its signal mask and handlers before exec. 0 once exec succeeded;
 * -errno when fork or exec failed. *ret_pid is set whenever fork succeeded
 * (a child whose exec failed has exited, and is still to be reaped). */
int spawn_daemon(const char *path, char *const argv[], int devnull, pid_t *ret_pid);
