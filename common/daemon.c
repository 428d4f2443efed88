/*
 * daemon: the shared life of imaged, sandboxd and streamd (common/daemon.h):
 * config and log, the suite's directories, RUNROOT/<name>.lock, the
 * privileged init, the privilege drop, the loop until SIGTERM/SIGINT, and a
 * clean stop. This is the daemons' boundary, so it logs; it must never run
 * a daemon's code after a failed privilege drop, and never keep running
 * when, supervised, crisp-up is already gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/daemon.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/proc.h"

int daemon_listen_internal(struct daemon_ctx *d, uint32_t roles, unsigned chan_flags)
{
	char path[PATH_MAX];
	int r = proc_internal_socket(d->cfg.runroot, d->name, path, sizeof path);
	if (r == 0)
		r = server_listen(d->server, path, 0600, d->user_uid, d->user_gid, d->user_uid,
				  roles, chan_flags);
	if (r < 0)
		return log_error_errno(r, "listen on %s: %m", path);
	return 0;
}

int daemon_listen_admin(struct daemon_ctx *d, uint32_t roles, unsigned chan_flags)
{
	char path[PATH_MAX];
	int r = proc_admin_socket(d->cfg.runroot, d->name, path, sizeof path);
	if (r == 0)
		r = server_listen(d->server, path, 0600, 0, 0, 0, roles, chan_flags);
	if (r < 0)
		return log_error_errno(r, "listen on %s: %m", path);
	return 0;
}

/* Config and log; 1 when the daemon should exit 0 at once (--help). */
static int setup_config(struct daemon_ctx *d, int argc, char **argv)
{
	char *err = NULL;
	int r = config_init(&d->cfg);
	if (r < 0)
		return log_error_errno(r, "config: %m");
	r = config_load(&d->cfg, argc, argv, &err);
	log_init(d->name, r == 0 ? d->cfg.log_level : LOG_INFO);
	if (r < 0) {
		log_error("config: %s", err ? err : strerror(-r));
		free(err);
		return r;
	}
	if (d->cfg.help) {
		printf("Usage: %s [OPTIONS]\n%s", d->name, config_usage());
		return 1;
	}
	if (geteuid() != 0)
		return log_error_errno(-EPERM, "must be started as root (it drops privilege itself)");
	r = privdrop_user_lookup(d->cfg.user, &d->user_uid, &d->user_gid);
	if (r == -ENOENT)
		return log_error_errno(r, "user \"%s\" does not exist: run `make setup` "
				       "(or set [crisp] user)", d->cfg.user);
	if (r < 0)
		return log_error_errno(r, "looking up user %s: %m", d->cfg.user);
	return 0;
}

/* The directories (made or fixed as crisp-up does, for a daemon started
 * alone, e.g. by systemd) and RUNROOT/<name>.lock, held until exit. */
static int setup_dirs_lock(struct daemon_ctx *d, int *ret_lock)
{
	const struct crisp_config *c = &d->cfg;
	int r = proc_prepare_root(c->root);
	if (r < 0)
		return log_error_errno(r, "root %s: %m", c->root);
	r = proc_prepare_runroot(c->runroot, d->user_uid, d->user_gid);
	if (r < 0)
		return log_error_errno(r, "runroot %s: %m", c->runroot);
	unsigned changed = 0;
	r = fs_make_reachable(c->runroot, d->user_uid, d->user_gid, &changed);
	if (r < 0)
		return log_error_errno(r, "making runroot %s reachable for user %s: %m",
				       c->runroot, c->user);
	if (changed)
		log_warn("added a search (x) bit to %u director%s above %s so that user %s "
			 "reaches it", changed, changed == 1 ? "y" : "ies", c->runroot, c->user);
	char lock[PATH_MAX], lock_name[64];
	snprintf(lock_name, sizeof lock_name, "%s.lock", d->name);
	r = fs_path_join(lock, sizeof lock, c->runroot, lock_name);
	if (r < 0)
		return log_error_errno(r, "runroot %s: %m", c->runroot);
	r = fs_lock_file(AT_FDCWD, lock, ret_lock);
	if (r == -EBUSY) {
		pid_t holder = 0;
		if (fs_lock_holder(AT_FDCWD, lock, &holder) == 0)
			return log_error_errno(r, "%s is locked by pid %ld: another %s runs "
					       "with runroot %s", lock, (long)holder, d->name,
					       c->runroot);
		return log_error_errno(r, "%s is locked: another %s runs with runroot %s",
				       lock, d->name, c->runroot);
	}
	if (r < 0)
		return log_error_errno(r, "lock %s: %m", lock);
	return 0;
}

static int on_stop_signal(struct loop *l, int signo, void *data)
{
	const char *abbrev = sigabbrev_np(signo);
	log_info("SIG%s: stopping", abbrev ? abbrev : "?");
	loop_quit(l, 0);
	return 0;
}

static int drop_privilege(struct daemon_ctx *d, const struct daemon_def *def, pid_t parent)
{
	struct privdrop pd = { 0 };
	def->privdrop(d, &pd);
	pd.pdeathsig = d->cfg.supervised ? SIGTERM : 0;
	const char *step = "?";
	int r = privdrop_apply(&pd, &step);
	if (r == -ESRCH && d->cfg.supervised)
		return log_error_errno(r, "crisp-up is gone: exiting");
	if (r < 0)
		return log_error_errno(r, "privilege drop failed at step %s: %m", step);
	/* a uid change clears the death signal: if crisp-up died before it was
	 * re-armed, nobody will tell us */
	if (d->cfg.supervised && getppid() != parent)
		return log_error_errno(-ESRCH, "crisp-up is gone: exiting");
	log_info("running as %s%s%s%s", pd.user ? pd.user : "root",
		 pd.keep_all_caps ? " with every capability" : "",
		 pd.landlock ? ", Landlock" : "", pd.seccomp ? ", seccomp" : "");
	return 0;
}

/* From the loop to the end: init, drop, start, run, stop. */
static int run(struct daemon_ctx *d, const struct daemon_def *def, pid_t parent)
{
	int r = loop_new(&d->loop);
	if (r < 0)
		return log_error_errno(r, "event loop: %m");
	if ((r = loop_add_signal(d->loop, SIGTERM, on_stop_signal, d)) < 0 ||
	    (r = loop_add_signal(d->loop, SIGINT, on_stop_signal, d)) < 0) {
		log_error_errno(r, "signals: %m");
		goto out;
	}
	r = server_new(d->loop, def->role, def->name, def->table, def->n_table, d, &d->server);
	if (r < 0) {
		log_error_errno(r, "server: %m");
		goto out;
	}
	r = def->init ? def->init(d) : 0;
	if (r < 0)
		goto out;               /* init logged why */
	r = drop_privilege(d, def, parent);
	if (r < 0)
		goto out;
	r = def->start ? def->start(d) : 0;
	if (r < 0)
		goto out;
	log_info("ready (runroot %s)", d->cfg.runroot);
	r = loop_run(d->loop);
	if (r < 0)
		log_error_errno(r, "event loop: %m");
	if (def->stop)
		def->stop(d);
out:
	server_free(d->server);         /* unlinks the sockets */
	d->server = NULL;
	loop_free(d->loop);
	d->loop = NULL;
	return r;
}

int daemon_main(int argc, char **argv, const struct daemon_def *def)
{
	struct daemon_ctx d = { .name = def->name, .role = def->role };
	/* supervised, crisp-up armed PR_SET_PDEATHSIG before exec and checked
	 * it was still our parent; the drop re-arms it and checks again */
	pid_t parent = getppid();
	int lock_fd = -1;
	log_init(def->name, LOG_INFO);
	int r = setup_config(&d, argc, argv);
	if (r != 0)
		goto out;
	r = setup_dirs_lock(&d, &lock_fd);
	if (r < 0)
		goto out;
	log_info("starting (pid %ld, root %s, runroot %s%s)", (long)getpid(), d.cfg.root,
		 d.cfg.runroot, d.cfg.supervised ? ", supervised" : "");
	r = run(&d, def, parent);
	if (r == 0)
		log_info("stopped");
out:
	if (lock_fd >= 0)
		close(lock_fd);
	config_free(&d.cfg);
	return r > 0 ? 0 : r < 0 ? 1 : 0;
}
