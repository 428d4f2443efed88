/*
 * args: conmon's command line (the grammar is in conmon.h) into one struct
 * conmon_args. Pure: it checks syntax, ranges and which options go
 * together; it opens nothing and never logs. The strings point into argv.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONMON_LOG_LINE_DEFAULT (16u * 1024u)
#define CONMON_LOG_LINE_MAX (1024u * 1024u)
#define CONMON_ID_MAX 1024
#define CONMON_EXEC_ARGS_MAX 4096
#define CONMON_TIMEOUT_MS_MAX (UINT64_C(1) << 40)

enum conmon_mode { CONMON_MODE_CONTAINER, CONMON_MODE_EXEC };

struct conmon_args {
	enum conmon_mode mode;
	const char *runtime;            /* the OCI runtime binary (runc) */
	const char *runtime_root;       /* its --root */
	bool systemd_cgroup;
	const char *id;
	/* container mode */
	const char *bundle;
	const char *dir;
	const char *log_path;
	size_t log_max_line;
	bool terminal, stdin_open, stdin_once;
	const char *oom_file;           /* NULL: no OOM detection */
	int sync_fd;
	/* exec mode */
	uint64_t timeout_ms;            /* 0: no limit */
	const char *exec_cgroup;        /* runc exec --cgroup SPEC, or NULL */
	const char *exec_procs;         /* that sub-cgroup's cgroup.procs */
	int result_fd;
	char **cmd;                     /* CMD ARG..., NULL-terminated (points into argv) */
};

/* Parse argv. On error returns -EINVAL and *ret_bad names the option or the
 * missing piece (for the usage message). */
int conmon_args_parse(int argc, char **argv, struct conmon_args *ret, const char **ret_bad);

/* A container id runc accepts and that cannot pass for an option:
 * [A-Za-z0-9_+.-], not starting with '-', at most CONMON_ID_MAX bytes. */
bool conmon_id_valid(const char *id);
