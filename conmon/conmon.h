/*
 * conmon: the contract between sandboxd and its per-container monitor (one
 * conmon per container, and one per ExecSync). sandboxd includes this header
 * for the wire formats; conmon implements them. C only, no glib, no threads.
 *
 * ---- container mode -------------------------------------------------------
 *
 *   conmon --runtime PATH --runtime-root DIR [--systemd-cgroup]
 *          --id ID --bundle DIR --dir DIR
 *          --log-path FILE [--log-max-line BYTES]
 *          [--terminal] [--stdin] [--stdin-once]
 *          [--oom-file FILE]
 *          --sync-fd N
 *
 * --dir DIR is the container's directory in RUNROOT (sandboxd made it, 0700
 * root): conmon writes there
 *   DIR/exit      the exit status, atomically (temp + fsync + rename), once:
 *                 CONMON_EXIT_FORMAT lines (below)
 *   DIR/pid       runc's --pid-file: the container's init pid
 *   DIR/attach    the attach socket (SOCK_SEQPACKET, 0600)
 *   DIR/ctl       the control socket (SOCK_SEQPACKET, 0600)
 *   DIR/conmon.pid  conmon's own pid, then its start time (/proc/PID/stat field 22):
 *                 "PID STARTTIME\n", written before it answers on the sync fd
 * --oom-file names the cgroup file whose oom_kill counter tells an OOM kill:
 *   memory.oom_control (cgroup v1) or memory.events (v2) of the container's
 *   cgroup; conmon opens it right after `runc create` and reads it when the
 *   container exits.
 *
 * Life: conmon leaves sandboxd's process tree at once (it forks; the
 * parent exits 0 as soon as the child exists, so sandboxd reaps it at once
 * and the monitor lives on, reparented to init), becomes a child subreaper,
 * runs `RUNTIME --root DIR [--systemd-cgroup] create --bundle B --pid-file
 * DIR/pid [--console-socket S] ID` with the container's stdio (pipes for
 * stdout and stderr, and stdin when --stdin; a pty through the console
 * socket with --terminal), and answers on the sync fd (a pipe sandboxd
 * made) with one line and closes it:
 *   "ok PID\n"            the container exists (created, not started): PID
 *                         is its init
 *   "error TEXT\n"        runc create failed: TEXT is runc's own error
 *                         (its --log), at most 4 KiB, newlines replaced
 * Then it drops its privileges (no capability but CAP_KILL? see
 * docs/ARCHITECTURE.md; no_new_privs, Landlock: the log file's dir and
 * DIR; seccomp), copies the container's output into the log, serves the
 * attach and control sockets, and when the container's init exits writes
 * DIR/exit and exits. sandboxd starts the container (`runc start`), stops it
 * (`runc kill`), and removes it (`runc delete`) itself.
 *
 * ---- exec mode (ExecSync) --------------------------------------------------
 *
 *   conmon --exec --runtime PATH --runtime-root DIR --id ID
 *          --timeout-ms MS [--exec-cgroup SPEC --exec-procs FILE]
 *          --result-fd N -- CMD [ARG...]
 *
 * Runs `RUNTIME --root DIR exec [--cgroup SPEC] ID CMD ARG...` (stdin
 * /dev/null, stdout and stderr pipes), collects both outputs up to
 * CONMON_EXEC_OUTPUT_MAX bytes together, and writes to the result fd one
 * struct conmon_exec_result followed by stdout_len bytes of stdout and
 * stderr_len bytes of stderr, then exits. When --timeout-ms passes first
 * (0: no limit), it kills the exec'd command and every process it started
 * (all pids in --exec-procs, the cgroup.procs of the sub-cgroup that SPEC
 * puts it in, killed until empty), even if a child keeps the pipes open, and
 * answers status -ETIMEDOUT. Past the output cap it kills them the same way
 * and answers -EFBIG. The exit code is 128 + signal for a killed command.
 * It stays in sandboxd's process tree (sandboxd waits for it).
 *
 * ---- the control socket (DIR/ctl) -----------------------------------------
 *
 * One struct conmon_ctl_req per datagram, answered by one struct
 * conmon_ctl_resp. Anything else (another size, an unknown type) ends that
 * client's connection.
 *   CONMON_CTL_REOPEN_LOG  reopen --log-path (after rotation); answered
 *                          after the new file is open
 *   CONMON_CTL_RESIZE      a: columns, b: rows, for the pty (-ENOTTY without)
 *   CONMON_CTL_CLOSE_STDIN close the container's stdin
 *
 * ---- the attach socket (DIR/attach) ----------------------------------------
 *
 * SOCK_SEQPACKET. conmon sends every chunk of output to every attached client
 * as a datagram whose first byte is the stream (CONMON_ATTACH_STDOUT,
 * CONMON_ATTACH_STDERR) and the rest the bytes (at most
 * CONMON_ATTACH_CHUNK); a client's datagrams are stdin bytes for the
 * container (ignored without --stdin); a client's EOF with --stdin-once
 * closes the container's stdin. When the container exits, conmon sends
 * what is left and closes every client. At most CONMON_ATTACH_CLIENTS.
 */
#pragma once
#include <stdint.h>

#define CONMON_EXIT_FORMAT "code=%d\nsignal=%d\nfinished_ns=%lld\noom=%d\n"
#define CONMON_EXEC_OUTPUT_MAX (16u * 1024u * 1024u)
#define CONMON_ATTACH_STDOUT 1
#define CONMON_ATTACH_STDERR 2
#define CONMON_ATTACH_CHUNK 8192
#define CONMON_ATTACH_CLIENTS 16

struct conmon_exec_result {
	int32_t status;                 /* 0: ran to its end; -ETIMEDOUT, -EFBIG, or
					 * another negative errno (could not run) */
	int32_t exit_code;              /* the command's, 128 + signal if killed */
	uint32_t stdout_len;
	uint32_t stderr_len;
};

enum conmon_ctl_type {
	CONMON_CTL_REOPEN_LOG = 1,
	CONMON_CTL_RESIZE = 2,
	CONMON_CTL_CLOSE_STDIN = 3,
};

struct conmon_ctl_req {
	uint32_t type;                  /* enum conmon_ctl_type */
	uint32_t a, b;
};

struct conmon_ctl_resp {
	int32_t result;                 /* 0 or a negative errno */
};
