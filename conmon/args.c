/*
 * args: see args.h. Every option takes its value as the next argument;
 * an option given twice, an unknown option, a value out of range or a mode's
 * option in the other mode is -EINVAL, so that a caller's mistake shows at
 * once instead of as a half-configured monitor.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conmon/args.h"

struct opt {
	const char *name;
	int kind;                       /* OPT_STR, OPT_FLAG, ... */
	int modes;                      /* MODE_C | MODE_E */
	size_t off;                     /* offsetof(struct conmon_args, field) */
};

enum { OPT_STR, OPT_FLAG, OPT_FD, OPT_SIZE, OPT_MS };
#define MODE_C 1
#define MODE_E 2
#define OFF(f) offsetof(struct conmon_args, f)

static const struct opt opts[] = {
	{ "--runtime", OPT_STR, MODE_C | MODE_E, OFF(runtime) },
	{ "--runtime-root", OPT_STR, MODE_C | MODE_E, OFF(runtime_root) },
	{ "--systemd-cgroup", OPT_FLAG, MODE_C | MODE_E, OFF(systemd_cgroup) },
	{ "--id", OPT_STR, MODE_C | MODE_E, OFF(id) },
	{ "--bundle", OPT_STR, MODE_C, OFF(bundle) },
	{ "--dir", OPT_STR, MODE_C, OFF(dir) },
	{ "--log-path", OPT_STR, MODE_C, OFF(log_path) },
	{ "--log-max-line", OPT_SIZE, MODE_C, OFF(log_max_line) },
	{ "--terminal", OPT_FLAG, MODE_C, OFF(terminal) },
	{ "--stdin", OPT_FLAG, MODE_C, OFF(stdin_open) },
	{ "--stdin-once", OPT_FLAG, MODE_C, OFF(stdin_once) },
	{ "--oom-file", OPT_STR, MODE_C, OFF(oom_file) },
	{ "--sync-fd", OPT_FD, MODE_C, OFF(sync_fd) },
	{ "--timeout-ms", OPT_MS, MODE_E, OFF(timeout_ms) },
	{ "--exec-cgroup", OPT_STR, MODE_E, OFF(exec_cgroup) },
	{ "--exec-procs", OPT_STR, MODE_E, OFF(exec_procs) },
	{ "--result-fd", OPT_FD, MODE_E, OFF(result_fd) },
};
#define N_OPTS (sizeof opts / sizeof *opts)

bool conmon_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > CONMON_ID_MAX || id[0] == '-' || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int set_value(const struct opt *o, const char *val, struct conmon_args *a)
{
	char *field = (char *)a + o->off;
	uint64_t v;
	switch (o->kind) {
	case OPT_STR:
		if (!val[0] || strlen(val) >= PATH_MAX)
			return -EINVAL;
		*(const char **)(void *)field = val;
		return 0;
	case OPT_FD:
		if (parse_u64(val, INT_MAX, &v) < 0)
			return -EINVAL;
		*(int *)(void *)field = (int)v;
		return 0;
	case OPT_SIZE:
		if (parse_u64(val, CONMON_LOG_LINE_MAX, &v) < 0 || v == 0)
			return -EINVAL;
		*(size_t *)(void *)field = (size_t)v;
		return 0;
	case OPT_MS:
		if (parse_u64(val, CONMON_TIMEOUT_MS_MAX, &v) < 0)
			return -EINVAL;
		*(uint64_t *)(void *)field = v;
		return 0;
	}
	return -EINVAL;
}

/* Options and the mode's rules, after the whole line is read. */
static const char *check(const struct conmon_args *a)
{
	if (!a->runtime)
		return "--runtime";
	if (!a->runtime_root)
		return "--runtime-root";
	if (!a->id || !conmon_id_valid(a->id))
		return "--id";
	if (a->mode == CONMON_MODE_EXEC) {
		if (a->result_fd < 0)
			return "--result-fd";
		if (!a->cmd || !a->cmd[0])
			return "-- CMD";
		if (!a->exec_cgroup != !a->exec_procs)
			return "--exec-cgroup and --exec-procs go together";
		return NULL;
	}
	if (a->cmd)
		return "-- CMD (exec mode only)";
	if (!a->bundle)
		return "--bundle";
	if (!a->dir)
		return "--dir";
	if (!a->log_path)
		return "--log-path";
	if (a->sync_fd < 0)
		return "--sync-fd";
	if (a->stdin_once && !a->stdin_open)
		return "--stdin-once needs --stdin";
	return NULL;
}

int conmon_args_parse(int argc, char **argv, struct conmon_args *ret, const char **ret_bad)
{
	struct conmon_args a = {
		.mode = CONMON_MODE_CONTAINER, .log_max_line = CONMON_LOG_LINE_DEFAULT,
		.sync_fd = -1, .result_fd = -1,
	};
	unsigned seen = 0;              /* bit i: opts[i] given */
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--exec")) {
		a.mode = CONMON_MODE_EXEC;
		i++;
	}
	int mode = a.mode == CONMON_MODE_EXEC ? MODE_E : MODE_C;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			if (argc - i - 1 > CONMON_EXEC_ARGS_MAX) {
				*ret_bad = "-- CMD: too many arguments";
				return -EINVAL;
			}
			a.cmd = &argv[i + 1];
			break;
		}
		size_t k = 0;
		while (k < N_OPTS && strcmp(argv[i], opts[k].name))
			k++;
		*ret_bad = argv[i];
		if (k == N_OPTS || !(opts[k].modes & mode) || (seen & (1u << k)))
			return -EINVAL;
		seen |= 1u << k;
		if (opts[k].kind == OPT_FLAG) {
			*(bool *)(void *)((char *)&a + opts[k].off) = true;
			continue;
		}
		if (i + 1 >= argc || set_value(&opts[k], argv[i + 1], &a) < 0)
			return -EINVAL;
		i++;
	}
	const char *bad = check(&a);
	if (bad) {
		*ret_bad = bad;
		return -EINVAL;
	}
	*ret = a;
	return 0;
}
