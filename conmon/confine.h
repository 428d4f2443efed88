/*
 * confine: conmon's privilege drop (common/privdrop), made once the
 * runtime has been forked (runc create, or runc exec for an ExecSync), so
 * that neither runc nor the container inherits any of it. uid stays 0:
 * conmon writes the log file in kubelet's root-owned directories and the
 * exit file in its root-owned --dir, as their owner, with no capability.
 *   container mode  CapEff = CapPrm = CapBnd = 0: conmon signals nobody
 *                   (sandboxd stops containers with `runc kill`); it only
 *                   reads and writes fds it holds, its --dir and the log.
 *                   Landlock: the log file's directory and --dir read-write,
 *                   nothing else (the OOM file is an fd opened before);
 *                   signals and abstract sockets scoped (it needs neither).
 *   exec mode       CAP_KILL only: on a timeout or past the output cap it
 *                   SIGKILLs the exec'd processes, which may run as another
 *                   uid or in a user namespace. Landlock: --exec-procs'
 *                   directory read-only (cgroup.procs is opened afresh for
 *                   each round: cgroup v1 caches a pidlist per open file);
 *                   signals unscoped (its targets are outside its domain).
 * Both: no_new_privs, no supplementary groups, the seccomp allowlist of
 * conmon/syscalls.c. Never logs; returns negative errno and the step.
 */
#pragma once

int conmon_confine_container(const char *log_path, const char *dir, const char **ret_step);
/* procs: --exec-procs, or NULL */
int conmon_confine_exec(const char *procs, const char **ret_step);
