/*
 * seccomp: builds and loads the allowlist filter (see seccomp.h) with
 * libseccomp. Must never fall back to a weaker filter: any failure to add a
 * rule or to load fails the whole step.
 */
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>

#include "common/seccomp.h"

static int filter_new(scmp_filter_ctx *ret)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* no_new_privs is privdrop's step, not a side effect of loading */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* report the kernel's errno rather than -ECANCELED */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

int seccomp_allowlist_load(const char *const *names, const char **ret_bad)
{
	scmp_filter_ctx ctx;
	int r = filter_new(&ctx);
	if (r < 0)
		return r;
	for (size_t i = 0; names[i]; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR) {
			if (ret_bad)
				*ret_bad = names[i];
			r = -EINVAL;
			goto out;
		}
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0) {
			if (ret_bad)
				*ret_bad = names[i];
			goto out;
		}
	}
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}
