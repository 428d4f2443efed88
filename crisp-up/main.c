/*
 * crisp-up: runs the whole crisp suite in the foreground. Checks what the
 * suite needs (root, the unprivileged user), makes and locks its
 * directories (dirs.c), starts and supervises the daemons (supervise.c),
 * and on SIGTERM/SIGINT stops them and exits 0. Every daemon is its own
 * binary, found next to crisp-up's, so the suite runs from a build tree
 * with nothing installed. Never runs daemon code itself; never leaves its
 * daemons behind (they have PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/config.h"
#include "common/log.h"
#include "crisp-up/crisp_up.h"

#define PW_BUF_SIZE 16384

static int user_ids(const char *user, uid_t *ret_uid, gid_t *ret_gid)
{
	char *buf = malloc(PW_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	struct passwd pw, *res = NULL;
	int e = getpwnam_r(user, &pw, buf, PW_BUF_SIZE, &res);
	if (e == 0 && res) {
		*ret_uid = pw.pw_uid;
		*ret_gid = pw.pw_gid;
	}
	free(buf);
	return e ? -e : res ? 0 : -ENOENT;
}

static int load_config(struct crisp_config *c, int argc, char **argv)
{
	char *err = NULL;
	int r = config_init(c);
	if (r < 0)
		return log_error_errno(r, "config: %m");
	r = config_load(c, argc, argv, &err);
	log_init("crisp-up", r == 0 ? c->log_level : LOG_INFO);
	if (r < 0) {
		log_error("config: %s", err ? err : strerror(-r));
		free(err);
		return r;
	}
	if (c->help) {
		printf("Usage: crisp-up [OPTIONS]\n"
		       "Runs the crisp suite (imaged, sandboxd, streamd, criserver) in the\n"
		       "foreground until SIGTERM or SIGINT. The daemons are taken from the\n"
		       "directory of this binary and get the same options.\n%s",
		       config_usage());
		return 1;
	}
	return 0;
}

static int run(const struct crisp_config *c)
{
	uid_t uid = 0;
	gid_t gid = 0;
	int r = user_ids(c->user, &uid, &gid);
	if (r == -ENOENT)
		return log_error_errno(r, "user \"%s\" does not exist: run `make setup` to create it",
				       c->user);
	if (r < 0)
		return log_error_errno(r, "looking up user %s: %m", c->user);
	struct suite_locks locks;
	r = dirs_prepare(c, uid, gid, &locks);
	if (r < 0)
		return r;
	struct loop *l = NULL;
	struct supervisor *s = NULL;
	r = loop_new(&l);
	if (r < 0) {
		log_error_errno(r, "event loop: %m");
		goto out;
	}
	log_info("starting the suite: root %s, runroot %s, listen %s", c->root, c->runroot,
		 c->listen);
	r = supervisor_start(l, c, &s);
	if (r == 0)
		r = loop_run(l);
	if (r == 0)
		log_info("stopped");
out:
	supervisor_free(s);
	loop_free(l);
	dirs_unlock(&locks);
	return r;
}

int main(int argc, char **argv)
{
	struct crisp_config c = { 0 };
	/* inherited dispositions: SIGCHLD must not be ignored (the children
	 * would be reaped behind our back); a closed stderr must not kill us */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	log_init("crisp-up", LOG_INFO);
	int r = load_config(&c, argc, argv);
	if (r == 0 && geteuid() != 0)
		r = log_error_errno(-EPERM, "must run as root (the daemons drop privilege "
				    "themselves)");
	if (r == 0)
		r = run(&c);
	config_free(&c);
	return r < 0 ? 1 : 0;
}
