/*
 * proc: the process table of the suite, the one place that lists crisp's
 * daemons, what role each plays, whom it runs as, and where its sockets are.
 *
 *   name       role            runs as      listens on (in RUNROOT)
 *   criserver  ROLE_CRISERVER  cfg user     the CRI socket (--listen)
 *   imaged     ROLE_IMAGED     root         internal/imaged.sock, admin/imaged.sock
 *   sandboxd   ROLE_SANDBOXD   root         internal/sandboxd.sock, admin/sandboxd.sock
 *   streamd    ROLE_STREAMD    cfg user     internal/streamd.sock, the streaming port
 *
 * RUNROOT/internal is 0700 and owned by the unprivileged user: only its
 * daemons (and root) reach the sockets there. RUNROOT/admin is 0700 root.
 * crisp-up starts the daemons in table order and stops them in reverse.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct proc_desc {
	const char *name;       /* binary name and process name */
	int role;               /* crisp.Role */
	bool unprivileged;      /* runs as the configured user */
	bool serves;            /* has RUNROOT/internal/<name>.sock */
};

const struct proc_desc *proc_table(size_t *ret_n);
const struct proc_desc *proc_by_name(const char *name);
const struct proc_desc *proc_by_role(int role);
const char *proc_role_name(int role);

/* Paths in the runroot, written to buf (PATH_MAX). */
int proc_internal_socket(const char *runroot, const char *name, char *buf, size_t len);
int proc_admin_socket(const char *runroot, const char *name, char *buf, size_t len);

/* The suite's directories, made where missing (with parents) and otherwise
 * taken as they are, only their owner and mode fixed (never emptied):
 * ROOT root-owned 0711 (0700 is kept); RUNROOT root-owned 0755 with
 * RUNROOT/internal 0700 owned by uid:gid and RUNROOT/admin 0700 root. */
int proc_prepare_root(const char *root);
int proc_prepare_runroot(const char *runroot, uid_t uid, gid_t gid);
