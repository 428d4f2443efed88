/*
 * dirs: crisp-up's directories and locks. Takes the directories it is given
 * as they are: makes what is missing, fixes owner and mode where they are
 * wrong (common/proc.c), never refuses or empties one. The directories
 * above RUNROOT get a search bit where the crisp user could not pass. The locks (flock on
 * ROOT/crisp.lock and RUNROOT/crisp.lock, O_CLOEXEC so the daemons do not
 * hold them) let several suites run side by side and keep two from sharing
 * a directory. A stale lock file is harmless: flock ends with its holder.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/log.h"
#include "common/proc.h"
#include "crisp-up/crisp_up.h"

#define SUITE_LOCK "crisp.lock"

/* mkdir -p dir (0755 where missing) and take dir/crisp.lock. */
static int lock_dir(const char *what, const char *dir, int *ret_fd)
{
	char path[PATH_MAX];
	int r = fs_mkdir_p(dir, 0755);
	if (r < 0)
		return log_error_errno(r, "%s %s: %m", what, dir);
	r = fs_path_join(path, sizeof path, dir, SUITE_LOCK);
	if (r < 0)
		return log_error_errno(r, "%s %s: %m", what, dir);
	r = fs_lock_file(AT_FDCWD, path, ret_fd);
	if (r == -EBUSY) {
		pid_t pid = 0;
		if (fs_lock_holder(AT_FDCWD, path, &pid) == 0)
			return log_error_errno(r, "%s %s is in use by another crisp-up (pid %ld holds "
					       "%s): give this suite its own --root and --runroot",
					       what, dir, (long)pid, path);
		return log_error_errno(r, "%s %s is in use by another crisp-up (%s is locked)",
				       what, dir, path);
	}
	if (r < 0)
		return log_error_errno(r, "lock %s: %m", path);
	return 0;
}

int dirs_prepare(const struct crisp_config *c, uid_t uid, gid_t gid, struct suite_locks *ret)
{
	struct suite_locks l = { -1, -1 };
	char listen_dir[PATH_MAX];
	int r = lock_dir("root", c->root, &l.root_fd);
	if (r == 0)
		r = lock_dir("runroot", c->runroot, &l.runroot_fd);
	if (r < 0)
		goto fail;
	r = proc_prepare_root(c->root);
	if (r < 0) {
		log_error_errno(r, "root %s: %m", c->root);
		goto fail;
	}
	r = proc_prepare_runroot(c->runroot, uid, gid);
	if (r < 0) {
		log_error_errno(r, "runroot %s (and its internal/, admin/): %m", c->runroot);
		goto fail;
	}
	/* the crisp user's daemons reach RUNROOT/internal by path */
	unsigned changed = 0;
	r = fs_make_reachable(c->runroot, uid, gid, &changed);
	if (r < 0) {
		log_error_errno(r, "making runroot %s reachable for user %s: %m", c->runroot,
				c->user);
		goto fail;
	}
	if (changed)
		log_warn("added a search (x) bit to %u director%s above %s so that user %s "
			 "reaches it", changed, changed == 1 ? "y" : "ies", c->runroot, c->user);
	r = fs_dirname(c->listen, listen_dir, sizeof listen_dir);
	if (r == 0)
		r = fs_mkdir_p(listen_dir, 0755);
	if (r < 0) {
		log_error_errno(r, "directory of the CRI socket %s: %m", c->listen);
		goto fail;
	}
	*ret = l;
	return 0;
fail:
	dirs_unlock(&l);
	return r;
}

void dirs_unlock(struct suite_locks *l)
{
	if (l->root_fd >= 0)
		close(l->root_fd);
	if (l->runroot_fd >= 0)
		close(l->runroot_fd);
	l->root_fd = l->runroot_fd = -1;
}
