/*
 * confine: see confine.h. Builds the two struct privdrop; the order of the
 * steps is common/privdrop.c's.
 */
#include <limits.h>
#include <linux/capability.h>

#include "common/fsutil.h"
#include "common/privdrop.h"
#include "conmon/confine.h"
#include "conmon/syscalls.h"

int conmon_confine_container(const char *log_path, const char *dir, const char **ret_step)
{
	char log_dir[PATH_MAX];
	*ret_step = "profile";
	int r = fs_dirname(log_path, log_dir, sizeof log_dir);
	if (r < 0)
		return r;
	const char *const rw[] = { log_dir, dir, NULL };
	struct privdrop pd = {
		.keep_caps = 0,
		.no_new_privs = true,
		.landlock = true,
		.landlock_rw = rw,
		.seccomp = conmon_syscalls_container(),
	};
	return privdrop_apply(&pd, ret_step);
}

int conmon_confine_exec(const char *procs, const char **ret_step)
{
	char procs_dir[PATH_MAX];
	const char *ro[] = { NULL, NULL };
	*ret_step = "profile";
	if (procs) {
		int r = fs_dirname(procs, procs_dir, sizeof procs_dir);
		if (r < 0)
			return r;
		ro[0] = procs_dir;
	}
	struct privdrop pd = {
		.keep_caps = PRIVDROP_CAP(CAP_KILL),
		.no_new_privs = true,
		.landlock = true,
		.landlock_ro = ro,
		.landlock_no_scope = true,
		.seccomp = conmon_syscalls_exec(),
	};
	return privdrop_apply(&pd, ret_step);
}
