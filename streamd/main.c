/*
 * streamd: the streaming server (exec, attach, port-forward) for the
 * kubelet. For now it only serves RUNROOT/internal/streamd.sock to
 * criserver (the built-in Hello/Health/Cancel); the HTTP server and its
 * table entries come later. This file owns streamd's dispatch table, the
 * only place that says who may ask streamd what, and its privilege profile:
 * the crisp user, no capabilities, no_new_privs, Landlock and seccomp.
 */
#include "common/daemon.h"
#include "common/syscalls.h"
#include "crisp.pb-c.h"

static int streamd_init(struct daemon_ctx *d)
{
	return daemon_listen_internal(d, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), 0);
}

static void streamd_privdrop(struct daemon_ctx *d, struct privdrop *ret)
{
	*ret = (struct privdrop){
		.user = d->cfg.user,
		.keep_caps = 0,
		.no_new_privs = true,
		/* no filesystem access at all: its socket is bound before the
		 * drop; the file is left for crisp-up to remove at exit (the
		 * next streamd replaces it otherwise) */
		.landlock = true,
		/* the streaming port will be bound before the drop, too */
		.landlock_tcp_bind = false,
		.landlock_tcp_connect = false,
		.seccomp = syscalls_streamd(),
	};
}

int main(int argc, char **argv)
{
	static const struct daemon_def def = {
		.name = "streamd",
		.role = CRISP__ROLE__ROLE_STREAMD,
		.table = NULL,
		.n_table = 0,
		.init = streamd_init,
		.privdrop = streamd_privdrop,
	};
	return daemon_main(argc, argv, &def);
}
