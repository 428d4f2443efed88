/*
 * daemon: the life of imaged, sandboxd and streamd, shared: parse flags and
 * config, log, take RUNROOT/<name>.lock, let the daemon open what it needs
 * while privileged (init: its sockets through server_listen, its state),
 * drop privilege (the daemon's struct privdrop), then run the loop until
 * SIGTERM/SIGINT (or, supervised, the death of crisp-up), and stop cleanly:
 * sockets unlinked, peers told by EOF.
 */
#pragma once
#include "common/config.h"
#include "common/loop.h"
#include "common/privdrop.h"
#include "common/server.h"

struct daemon_ctx {
	const char *name;
	int role;
	struct crisp_config cfg;
	struct loop *loop;
	struct server *server;
	uid_t user_uid;         /* the unprivileged user's ids */
	gid_t user_gid;
	void *data;             /* the daemon's own state */
};

struct daemon_def {
	const char *name;
	int role;
	const struct dispatch_entry *table;
	size_t n_table;
	/* Privileged set-up: open state, listen (server exists). < 0 aborts. */
	int (*init)(struct daemon_ctx *d);
	/* The profile for privdrop_apply. */
	void (*privdrop)(struct daemon_ctx *d, struct privdrop *ret);
	/* After the drop, before the loop runs. May be NULL. */
	int (*start)(struct daemon_ctx *d);
	/* On the way out. May be NULL. */
	void (*stop)(struct daemon_ctx *d);
};

int daemon_main(int argc, char **argv, const struct daemon_def *def);

/* For init: listen on RUNROOT/internal/<name>.sock (the crisp user's,
 * mode 0600, peers with its uid only) and on RUNROOT/admin/<name>.sock
 * (root's, 0600, peers with uid 0 only), for peers with a role in roles.
 * chan_flags: 0 or CHAN_FDS. Logs a failure. */
int daemon_listen_internal(struct daemon_ctx *d, uint32_t roles, unsigned chan_flags);
int daemon_listen_admin(struct daemon_ctx *d, uint32_t roles, unsigned chan_flags);
