/*
 * kill: how exec mode kills "the command and every process it started"
 * when its timeout passes or its output outgrows the cap. With a
 * sub-cgroup (--exec-procs: its cgroup.procs), rounds of: read the file
 * afresh, SIGKILL every pid in it; until a read finds it empty (bounded by
 * CONMON_KILL_ROUNDS, with a short pause between rounds so that the
 * killed leave the list). Without one, the pids it is given: the command
 * (from runc's --pid-file) and runc exec itself if it still runs. Only
 * ever sends SIGKILL; never reads anything but cgroup.procs. Returns how
 * many pids it signalled, or negative errno (the file could not be read).
 */
#pragma once
#include <stddef.h>
#include <sys/types.h>

#define CONMON_KILL_ROUNDS 200
#define CONMON_KILL_PAUSE_NS 2000000L   /* 2 ms */
#define CONMON_PROCS_MAX (1024u * 1024u)

/* SIGKILL every process listed in procs until it lists none. */
int conmon_kill_cgroup(const char *procs);
/* SIGKILL pid if > 0. */
void conmon_kill_pid(pid_t pid);
/* The pids of a cgroup.procs buffer (one decimal pid a line) into pids
 * (max entries); returns how many, -EINVAL on a line that is not a pid,
 * -E2BIG past max. Pure. */
int conmon_kill_parse_pids(const char *buf, size_t len, pid_t *pids, size_t max);
