/*
 * imaged: images (the image service comes with its own table entries; for
 * now only the built-in Hello/Health/Cancel). Serves
 * RUNROOT/internal/imaged.sock (the crisp user's criserver) and
 * RUNROOT/admin/imaged.sock (root: sandboxd, crispctl). This file owns
 * imaged's dispatch table, the only place that says who may ask imaged
 * what, and its privilege profile.
 */
#include <limits.h>
#include <linux/capability.h>
#include "common/daemon.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/syscalls.h"
#include "crisp.pb-c.h"

/* Paths imaged may write after the drop (Landlock): ROOT for the content
 * store, RUNROOT for its sockets (unlinked at exit) and mounts. */
struct imaged {
	const char *rw[3];
};

static struct imaged imaged_state;

static int imaged_init(struct daemon_ctx *d)
{
	d->data = &imaged_state;
	char path[PATH_MAX];
	int r = proc_internal_socket(d->cfg.runroot, d->name, path, sizeof path);
	if (r == 0)
		r = server_listen(d->server, path, 0600, d->user_uid, d->user_gid, d->user_uid,
				  ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), 0);
	if (r < 0)
		return log_error_errno(r, "listen on %s: %m", path);
	r = proc_admin_socket(d->cfg.runroot, d->name, path, sizeof path);
	if (r == 0)
		r = server_listen(d->server, path, 0600, 0, 0, 0,
				  ROLE_BIT(CRISP__ROLE__ROLE_SANDBOXD) |
				  ROLE_BIT(CRISP__ROLE__ROLE_CRISPCTL), 0);
	if (r < 0)
		return log_error_errno(r, "listen on %s: %m", path);
	return 0;
}

static void imaged_privdrop(struct daemon_ctx *d, struct privdrop *ret)
{
	struct imaged *st = d->data;
	st->rw[0] = d->cfg.root;
	st->rw[1] = d->cfg.runroot;
	st->rw[2] = NULL;
	*ret = (struct privdrop){
		.user = NULL,   /* stays uid 0: image layers hold files of every owner */
		/* Kept for the confined unpack child that comes with the image
		 * service: it creates files of any owner, mode, device number
		 * and file capability inside a layer (CHOWN, DAC_OVERRIDE,
		 * FOWNER, FSETID, MKNOD, SETFCAP), in its own mount namespace
		 * and chroot (SYS_ADMIN, SYS_CHROOT). */
		.keep_caps = PRIVDROP_CAP(CAP_CHOWN) | PRIVDROP_CAP(CAP_DAC_OVERRIDE) |
			     PRIVDROP_CAP(CAP_FOWNER) | PRIVDROP_CAP(CAP_FSETID) |
			     PRIVDROP_CAP(CAP_MKNOD) | PRIVDROP_CAP(CAP_SETFCAP) |
			     PRIVDROP_CAP(CAP_SYS_ADMIN) | PRIVDROP_CAP(CAP_SYS_CHROOT),
		.no_new_privs = true,
		.landlock = true,
		.landlock_rw = st->rw,
		.seccomp = syscalls_imaged(),
	};
}

int main(int argc, char **argv)
{
	static const struct daemon_def def = {
		.name = "imaged",
		.role = CRISP__ROLE__ROLE_IMAGED,
		/* no entries until the image service: MSG_HELLO, MSG_HEALTH
		 * and MSG_CANCEL are the server's own */
		.table = NULL,
		.n_table = 0,
		.init = imaged_init,
		.privdrop = imaged_privdrop,
	};
	return daemon_main(argc, argv, &def);
}
