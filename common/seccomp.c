/*
 * seccomp: builds and loads the allowlist filter (see seccomp.h) with
 * libseccomp. Must never fall back to a weaker filter: any failure to add a
 * rule or to load fails the whole step.
 */
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/seccomp.h"

#define SECCOMP_NAME_MAX 64

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

int seccomp_entry_name(const char *entry, char *buf, size_t len)
{
	const char *colon = strchr(entry, ':');
	size_t n = colon ? (size_t)(colon - entry) : strlen(entry);
	if (n == 0 || n >= len)
		return -EINVAL;
	memcpy(buf, entry, n);
	buf[n] = '\0';
	return 0;
}

/* ":N=VALUE" -> the comparison "argument N == VALUE" */
static int arg_parse(const char *s, struct scmp_arg_cmp *ret)
{
	char *end;
	if (s[0] != ':' || s[1] < '0' || s[1] > '5' || s[2] != '=')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s + 3, &end, 0);
	if (errno || end == s + 3 || *end)
		return -EINVAL;
	*ret = SCMP_CMP((unsigned)(s[1] - '0'), SCMP_CMP_EQ, (scmp_datum_t)v);
	return 0;
}

static int rule_add(scmp_filter_ctx ctx, const char *entry)
{
	char name[SECCOMP_NAME_MAX];
	int r = seccomp_entry_name(entry, name, sizeof name);
	if (r < 0)
		return r;
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return -EINVAL;
	const char *arg = entry + strlen(name);
	if (!*arg)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	struct scmp_arg_cmp cmp;
	r = arg_parse(arg, &cmp);
	if (r < 0)
		return r;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

int seccomp_allowlist_load(const char *const *names, const char **ret_bad)
{
	scmp_filter_ctx ctx;
	int r = filter_new(&ctx);
	if (r < 0)
		return r;
	for (size_t i = 0; names[i]; i++) {
		r = rule_add(ctx, names[i]);
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
