/*
 * imaged: images. Serves RUNROOT/internal/imaged.sock (the crisp user's
 * criserver: the CRI image service) and RUNROOT/admin/imaged.sock (root:
 * sandboxd's leases; crispctl's image service, leases and admin requests).
 * This file owns imaged's dispatch table, the only place that says who may
 * ask imaged what, its life (the image service is opened while privileged,
 * its threads start after the drop) and its privilege profile. The same
 * binary is also the unpack spawner (`imaged --unpack-server`, forked while
 * imaged is still privileged: imaged/unpack_server.h) and the confined
 * unpack child it starts (`imaged --unpack-child`: imaged/unpack.h), so that
 * imaged itself, which parses what registries send, never needs to exec,
 * mount or make namespaces.
 */
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/daemon.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/syscalls.h"
#include "imaged/admin.h"
#include "imaged/svc.h"
#include "imaged/unpack.h"
#include "imaged/unpack_server.h"
#include "crisp.pb-c.h"

#define RO_MAX (16 + CONFIG_MAX_REGISTRIES)
#define RO_DIRS (1 + CONFIG_MAX_REGISTRIES)

/* Paths imaged may reach after the drop (Landlock). */
struct imaged {
	struct svc *svc;
	const char *rw[3];              /* ROOT (the store), RUNROOT (sockets) */
	const char *ro[RO_MAX];         /* CAs, resolver config, credentials */
	/* the directories of the docker config and the CA files: a file that
	 * is replaced (rename over it) is a new inode that a rule on the old
	 * one would not cover */
	char dirs[RO_DIRS][PATH_MAX];
};

static struct imaged imaged_state;

#define ROLES_IMG (ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER) | ROLE_BIT(CRISP__ROLE__ROLE_CRISPCTL))
#define ROLES_LEASE (ROLE_BIT(CRISP__ROLE__ROLE_SANDBOXD) | ROLE_BIT(CRISP__ROLE__ROLE_CRISPCTL))
#define ROLES_ADM ROLE_BIT(CRISP__ROLE__ROLE_CRISPCTL)
#define T(x) CRISP__MSG_TYPE__MSG_##x

/* Who may ask imaged what. The sockets narrow it further: criserver only
 * reaches the internal socket, sandboxd and crispctl only the admin one. */
static const struct dispatch_entry imaged_table[] = {
	{ T(IMG_PULL), ROLES_IMG, &runtime__v1__pull_image_request__descriptor, false,
	  svc_handle_pull },
	{ T(IMG_LIST), ROLES_IMG, &runtime__v1__list_images_request__descriptor, false,
	  svc_handle_list },
	{ T(IMG_STATUS), ROLES_IMG, &runtime__v1__image_status_request__descriptor, false,
	  svc_handle_status },
	{ T(IMG_REMOVE), ROLES_IMG, &runtime__v1__remove_image_request__descriptor, false,
	  svc_handle_remove },
	{ T(IMG_FSINFO), ROLES_IMG, &runtime__v1__image_fs_info_request__descriptor, false,
	  svc_handle_fsinfo },
	{ T(IMG_STREAM), ROLES_IMG, &runtime__v1__stream_images_request__descriptor, false,
	  svc_handle_stream },
	/* crispctl's import, export and push (imaged/admin.h); the archives
	 * come as the request's fd */
	{ T(ADM_IMPORT), ROLES_ADM, &crisp__image_import__descriptor, true, admin_import },
	{ T(ADM_EXPORT), ROLES_ADM, &crisp__image_export__descriptor, true, admin_export },
	{ T(ADM_PUSH), ROLES_ADM, &crisp__image_push__descriptor, false, admin_push },
	{ T(LEASE_CREATE), ROLES_LEASE, &crisp__lease_create__descriptor, false,
	  svc_handle_lease },
	{ T(LEASE_ADD), ROLES_LEASE, &crisp__lease_add__descriptor, false, svc_handle_lease },
	{ T(LEASE_RELEASE), ROLES_LEASE, &crisp__lease_release__descriptor, false,
	  svc_handle_lease },
	{ T(LEASE_IMAGE), ROLE_BIT(CRISP__ROLE__ROLE_SANDBOXD), &crisp__lease_image__descriptor,
	  false, svc_handle_lease_image },
	{ T(LEASE_LIST), ROLES_LEASE, &crisp__lease_list_request__descriptor, false,
	  svc_handle_lease },
};

static int imaged_listen(struct daemon_ctx *d)
{
	int r = daemon_listen_internal(d, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), 0);
	/* fds pass on the admin socket only: crispctl's import/export archives */
	if (r == 0)
		r = daemon_listen_admin(d, ROLE_BIT(CRISP__ROLE__ROLE_SANDBOXD) |
					ROLE_BIT(CRISP__ROLE__ROLE_CRISPCTL), CHAN_FDS);
	return r;
}

static int imaged_init(struct daemon_ctx *d)
{
	struct imaged *st = &imaged_state;
	d->data = NULL;                 /* the handlers' svc, once it is started */
	int r = imaged_listen(d);
	if (r < 0)
		return r;
	struct svc_error err = { 0 };
	r = svc_open(&d->cfg, &st->svc, &err);
	if (r < 0)
		return log_error_errno(r, "image service: %s", err.msg);
	return 0;
}

static void imaged_privdrop(struct daemon_ctx *d, struct privdrop *ret)
{
	struct imaged *st = &imaged_state;
	static const char *const system_ro[] = {
		"/etc",                         /* resolver, hosts, CA bundle, ld.so.cache */
		"/usr/share/ca-certificates", "/usr/local/share/ca-certificates",
		"/usr/lib/ssl",                 /* OpenSSL's config */
	};
	size_t n = 0;
	for (size_t i = 0; i < sizeof system_ro / sizeof system_ro[0]; i++)
		st->ro[n++] = system_ro[i];
	size_t k = 0;
	if (d->cfg.docker_config && fs_dirname(d->cfg.docker_config, st->dirs[k], PATH_MAX) == 0)
		st->ro[n++] = st->dirs[k++];
	for (size_t i = 0; i < d->cfg.n_registries && k < RO_DIRS && n + 1 < RO_MAX; i++)
		if (d->cfg.registries[i].ca_file &&
		    fs_dirname(d->cfg.registries[i].ca_file, st->dirs[k], PATH_MAX) == 0)
			st->ro[n++] = st->dirs[k++];
	st->ro[n] = NULL;
	st->rw[0] = d->cfg.root;
	st->rw[1] = d->cfg.runroot;
	st->rw[2] = NULL;
	*ret = (struct privdrop){
		.user = NULL,   /* stays uid 0: image layers hold files of every owner */
		/* The unpacked layers hold files and directories of every owner
		 * and mode (0000 directories too): imaged walks them for
		 * ImageFsInfo and removes them at GC (DAC_OVERRIDE; FOWNER for
		 * sticky directories of other owners). Creating them is the
		 * unpack spawner's children's business, not imaged's. */
		.keep_caps = PRIVDROP_CAP(CAP_DAC_OVERRIDE) | PRIVDROP_CAP(CAP_FOWNER),
		.no_new_privs = true,
		.landlock = true,
		.landlock_rw = st->rw,
		.landlock_ro = st->ro,
		.landlock_tcp_connect = true,   /* registries */
		.seccomp = syscalls_imaged(),
	};
}

/* imaged cannot start another spawner once it has dropped privilege: when
 * its spawner dies, imaged stops, and crisp-up (or systemd) starts it again,
 * with a new one. */
static int on_spawner_gone(struct loop *l, int fd, uint32_t events, void *data)
{
	log_error("the unpack spawner is gone: stopping, to be started again with a new one");
	loop_quit(l, -EPIPE);
	return -1;
}

static int imaged_start(struct daemon_ctx *d)
{
	struct imaged *st = &imaged_state;
	struct svc_error err = { 0 };
	int r = svc_start(st->svc, &err);
	if (r < 0)
		return log_error_errno(r, "image service: %s", err.msg);
	r = loop_add_fd(d->loop, unpack_client_fd(st->svc->unpacker), EPOLLRDHUP,
			on_spawner_gone, NULL, NULL);
	if (r < 0)
		return log_error_errno(r, "watching the unpack spawner: %m");
	d->data = st->svc;
	return 0;
}

static void imaged_stop(struct daemon_ctx *d)
{
	struct imaged *st = &imaged_state;
	d->data = NULL;
	svc_close(st->svc);             /* running requests cancelled and answered */
	st->svc = NULL;
}

int main(int argc, char **argv)
{
	/* the unpack child: before anything else (no config, no threads); it
	 * ends with _exit, as its seccomp filter allows no atexit work */
	if (argc > 1 && strcmp(argv[1], UNPACK_CHILD_ARG) == 0)
		_exit(unpack_child_main(argc, argv));
	/* the unpack spawner, forked by imaged before it drops privilege */
	if (argc > 1 && strcmp(argv[1], UNPACK_SERVER_ARG) == 0)
		return unpack_server_main(argc, argv);
	static const struct daemon_def def = {
		.name = "imaged",
		.role = CRISP__ROLE__ROLE_IMAGED,
		.table = imaged_table,
		.n_table = sizeof imaged_table / sizeof imaged_table[0],
		.init = imaged_init,
		.privdrop = imaged_privdrop,
		.start = imaged_start,
		.stop = imaged_stop,
	};
	return daemon_main(argc, argv, &def);
}
