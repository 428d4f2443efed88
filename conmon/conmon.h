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
 * Every option takes its value as the next argument; an unknown option, one
 * given twice, a missing one or one of the other mode exits 2 with a usage
 * message (and no sync line). ID: [A-Za-z0-9_+.-], not starting with '-'.
 * --log-max-line: 1 .. 1 MiB, default 16 KiB. --stdin-once needs --stdin.
 * N must be an open fd above 2 (conmon sets O_CLOEXEC on it and on every
 * other fd it inherits, so neither runc nor the container gets them).
 *
 * --dir DIR is the container's directory in RUNROOT (sandboxd made it, 0700
 * root): conmon writes there
 *   DIR/exit      the exit status, atomically (temp + fsync + rename), once:
 *                 CONMON_EXIT_FORMAT lines (below), mode 0644
 *   DIR/pid       runc's --pid-file: the container's init pid
 *   DIR/attach    the attach socket (SOCK_SEQPACKET, 0600)
 *   DIR/ctl       the control socket (SOCK_SEQPACKET, 0600)
 *   DIR/conmon.pid  conmon's own pid, then its start time (/proc/PID/stat field 22):
 *                 "PID STARTTIME\n", written before it answers on the sync fd
 *   DIR/runtime.log  runc create's --log (JSON lines), where the text of an
 *                 "error" sync line comes from
 *   DIR/console   with --terminal, runc's --console-socket while runc create
 *                 runs (removed once the pty has come)
 * attach and ctl are removed when conmon exits. A socket path longer than
 * sun_path (108 bytes) is bound and reached as /proc/self/fd/DIRFD/NAME
 * through an fd of DIR (clients do the same with their own fd of DIR).
 * --oom-file names the cgroup file whose oom_kill counter tells an OOM kill:
 *   memory.oom_control (cgroup v1) or memory.events (v2) of the container's
 *   cgroup; conmon opens it right after `runc create`, reads the counter
 *   then and (through the same fd) when the container exits: oom=1 if it
 *   grew. A file that cannot be read is a warning on conmon's stderr, and
 *   oom=0.
 *
 * Life: conmon leaves sandboxd's process tree at once (it forks; the
 * parent exits 0 as soon as the child exists, so sandboxd reaps it at once
 * and the monitor lives on, reparented to init; it calls setsid(), so no
 * signal to sandboxd's process group or session reaches it; no
 * PDEATHSIG), becomes a child subreaper,
 * runs `RUNTIME --root DIR [--systemd-cgroup] --log DIR/runtime.log
 * --log-format json create --bundle B --pid-file DIR/pid [--console-socket
 * S] ID` with the container's stdio (pipes for stdout and stderr, and stdin
 * when --stdin, else /dev/null; with --terminal a pty through the console
 * socket: one fd by SCM_RIGHTS, MSG_CTRUNC refused, and it must be a tty),
 * waits for it, drops its privileges (no capability at all, not even in its
 * bounding set; no_new_privs; Landlock: read-write the log file's directory
 * and DIR, nothing else; seccomp: conmon/syscalls.c; see
 * docs/ARCHITECTURE.md), and then answers on the sync fd (a pipe sandboxd
 * made) with one line and closes it:
 *   "ok PID\n"            the container exists (created, not started), its
 *                         monitor is confined: PID is its init
 *   "error TEXT\n"        it failed: TEXT is runc's own error (from its
 *                         --log) when runc create failed, else "conmon:
 *                         STEP: REASON"; at most 4 KiB, newlines replaced
 *                         by spaces. The monitor has exited; runc may have
 *                         made the container: sandboxd runs `runc delete
 *                         --force ID`.
 * Then it copies the container's output into the log and to the attach
 * clients, serves the attach and control sockets, reaps whatever is
 * reparented to it, and when the container's init exits reads what the
 * pipes still hold (at most 8 MiB more: a process left in a shared PID
 * namespace may go on writing), writes DIR/exit and exits 0 (1 if it could
 * not write it). finished_ns is when init was reaped. SIGUSR1 reopens the
 * log, like CONMON_CTL_REOPEN_LOG. sandboxd starts the container (`runc
 * start`), stops it (`runc kill`), and removes it (`runc delete`) itself:
 * conmon never signals anything in container mode.
 *
 * The log (--log-path, created 0640, appended to): one CRI record a line,
 * "<RFC3339Nano UTC time, 9 digits> <stdout|stderr> <P|F> <text>\n". A line
 * of the container's output is one F record, or P records of at most
 * --log-max-line bytes and a last F; bytes read without their '\n' yet are
 * a P record. With --terminal everything is stdout.
 *
 * ---- exec mode (ExecSync) --------------------------------------------------
 *
 *   conmon --exec --runtime PATH --runtime-root DIR [--systemd-cgroup] --id ID
 *          --timeout-ms MS [--exec-cgroup SPEC --exec-procs FILE]
 *          --result-fd N -- CMD [ARG...]
 *
 * (--exec must come first.) conmon becomes a child subreaper and runs
 * `RUNTIME --root DIR [--systemd-cgroup] exec --detach --pid-file P
 * [--cgroup SPEC] ID CMD ARG...` (P in a private directory it makes in
 * $TMPDIR, else /tmp, and removes once runc has exited; stdin /dev/null, stdout and stderr
 * pipes). --detach: runc exits once the command runs, and the command,
 * orphaned, becomes conmon's own child, so that conmon sees its real wait
 * status and reads its output with no runc in between. conmon then drops
 * its privileges (CAP_KILL only, see docs/ARCHITECTURE.md), collects both
 * outputs up to CONMON_EXEC_OUTPUT_MAX bytes together, and writes to the
 * result fd one struct conmon_exec_result followed by stdout_len bytes of
 * stdout and stderr_len bytes of stderr, then exits 0 (1 if the result
 * could not be written). It answers when the command exits, with what the
 * pipes hold by then: a background child that keeps them open is not waited
 * for (nor killed). When --timeout-ms (counted from conmon's start; 0: no
 * limit) passes first, it kills the command and every process it started,
 * even if a child keeps the pipes open, and answers status -ETIMEDOUT. Past
 * the output cap it kills them the same way and answers -EFBIG with the
 * first CONMON_EXEC_OUTPUT_MAX bytes. The kill: SIGKILL to every pid in
 * --exec-procs, read afresh, until it lists none, and to the command's
 * pid; --exec-procs is the cgroup.procs of the sub-cgroup that SPEC puts it
 * in (runc 1.1.5: SPEC is "[CONTROLLER:]PATH", PATH relative to the
 * container's cgroup and made by sandboxd before; on cgroup v1 use the
 * freezer controller, e.g. SPEC "freezer:crisp-exec-1" and FILE
 * /sys/fs/cgroup/freezer/<container's cgroup>/crisp-exec-1/cgroup.procs,
 * as tests/integration/test_conmon.py does with runc 1.1.5 on a hybrid
 * host: the command, and what it starts, land in the freezer sub-cgroup
 * while every other controller, and the v2 tree, keep the container's
 * cgroup; a bare SPEC on such a host means every controller, and runc
 * fails unless the sub-cgroup exists in each ("error adding pid N to
 * cgroups: ... cpu/.../cgroup.procs: no such file or directory"); runc
 * delete --force removes the sub-cgroup with the container's. On a v2-only
 * host SPEC is the bare sub-path and FILE that directory's cgroup.procs,
 * not tried here). Without them only the command itself (and runc, if it still runs)
 * is killed. The exit code is 128 + signal for a killed command (137 when
 * conmon killed it). If runc exec itself fails the command never ran:
 * status -ENOEXEC, exit_code runc's, runc's message in stderr.
 * It stays in sandboxd's process tree (sandboxd waits for it).
 *
 * ---- the control socket (DIR/ctl) -----------------------------------------
 *
 * One struct conmon_ctl_req per datagram, answered by one struct
 * conmon_ctl_resp. Anything else (another size, an unknown type) ends that
 * client's connection. At most 4 clients at once.
 *   CONMON_CTL_REOPEN_LOG  reopen --log-path (after rotation); answered
 *                          after the new file is open
 *   CONMON_CTL_RESIZE      a: columns, b: rows, for the pty (-ENOTTY
 *                          without; -EINVAL for 0 or over 65535)
 *   CONMON_CTL_CLOSE_STDIN close the container's stdin once the input
 *                          already taken from attach clients is written
 *                          (answers 0 at once, also when there is none).
 *                          With a pty, whose master carries the output
 *                          too: send the terminal's EOF character (^D)
 *                          and take no more input.
 *
 * ---- the attach socket (DIR/attach) ----------------------------------------
 *
 * SOCK_SEQPACKET. conmon sends every chunk of output to every attached client
 * as a datagram whose first byte is the stream (CONMON_ATTACH_STDOUT,
 * CONMON_ATTACH_STDERR; always stdout with a pty) and the rest the bytes (at
 * most CONMON_ATTACH_CHUNK); a client that cannot take a datagram at once
 * (its socket buffer is full) is disconnected, never waited for. A client's
 * datagrams (at most CONMON_ATTACH_CHUNK bytes, else it is disconnected; an
 * empty one reads as its EOF) are stdin bytes for the container (dropped
 * without --stdin); while the container does not read them conmon reads no
 * more from any client. A client's EOF (shutdown(SHUT_WR) or close) ends
 * its input, and with --stdin-once closes the container's stdin; it still
 * gets output until it closes. When the container exits, conmon sends what
 * is left and closes every client. At most CONMON_ATTACH_CLIENTS (one more
 * is accepted and closed at once).
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
	int32_t status;                 /* 0: ran to its end; -ETIMEDOUT, -EFBIG,
					 * -ENOEXEC (runc exec failed), or another
					 * negative errno (could not run) */
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
