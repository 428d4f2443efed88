/*
 * run_opts: the flags of `crispctl run` (ctr's run, crictl's names where
 * they exist), parsed into struct run_opts without side effects so that
 * they can be tested: KEY=VALUE pairs split in place in argv, the user
 * spec, the name (a DNS label: it is the pod's hostname too) and the
 * default name made from the image. Refuses -i and -t/--tty with the
 * reason (they need the streaming server, not built yet) and --rm with -d.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crispctl/crispctl.h"

static int fail(char *err, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return r;
}

bool ctl_dns_label(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int parse_id(const char *s, int64_t *ret)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > 0xfffffffeLL)
		return -EINVAL;
	*ret = v;
	return 0;
}

int ctl_parse_user_spec(char *s, struct ctl_user *ret)
{
	memset(ret, 0, sizeof *ret);
	char *colon = strchr(s, ':');
	if (colon) {
		*colon = '\0';
		if (parse_id(colon + 1, &ret->gid) < 0)
			return -EINVAL;
		ret->have_gid = true;
	}
	if (!*s)
		return -EINVAL;
	if (parse_id(s, &ret->uid) == 0) {
		ret->have_uid = true;
	} else {
		/* a name starts with a letter or '_' ("12x", "-1" are not names) */
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
			return -EINVAL;
		ret->name = s;
	}
	return 0;
}

void ctl_run_default_name(const char *image, const char *suffix, char *buf, size_t len)
{
	char base[40];
	size_t n = 0;
	const char *p = strrchr(image, '/');
	p = p ? p + 1 : image;
	for (; *p && *p != ':' && *p != '@' && n < 30; p++) {
		char ch = *p;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			ch = '-';
		if (ch == '-' && (n == 0 || base[n - 1] == '-'))
			continue;
		base[n++] = ch;
	}
	while (n && base[n - 1] == '-')
		n--;
	base[n] = '\0';
	snprintf(buf, len, "%s%s%s", n ? base : "run", "-", suffix);
}

/* -e KEY=VALUE, or KEY alone: crispctl's own value, if it has one. */
static int env_add(struct run_opts *o, char *arg, char *err, size_t len)
{
	struct ctl_kv *kv = &o->env[o->n_env];
	if (o->n_env == RUN_ENV_MAX)
		return fail(err, len, -EINVAL, "more than %d --env", RUN_ENV_MAX);
	if (strchr(arg, '=')) {
		if (ctl_split_kv(arg, &kv->key, &kv->value) < 0)
			return fail(err, len, -EINVAL, "--env wants KEY=VALUE or KEY");
	} else {
		kv->key = arg;
		kv->value = getenv(arg);
		if (!kv->value)
			return 0;
	}
	o->n_env++;
	return 0;
}

static int label_add(struct run_opts *o, char *arg, char *err, size_t len)
{
	struct ctl_kv *kv = &o->labels[o->n_labels];
	if (o->n_labels == RUN_LABELS_MAX)
		return fail(err, len, -EINVAL, "more than %d --label", RUN_LABELS_MAX);
	if (ctl_split_kv(arg, &kv->key, &kv->value) < 0)
		return fail(err, len, -EINVAL, "--label wants KEY=VALUE");
	o->n_labels++;
	return 0;
}

int ctl_run_opts_parse(int argc, char **argv, struct run_opts *o, char *err, size_t len)
{
	enum { OPT_RM = 1000, OPT_NAME, OPT_NET };
	static const struct option opts[] = {
		{ "rm", no_argument, NULL, OPT_RM },
		{ "detach", no_argument, NULL, 'd' },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "env", required_argument, NULL, 'e' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "cwd", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "label", required_argument, NULL, 'l' },
		{ "net", required_argument, NULL, OPT_NET },
		{ "net-host", no_argument, NULL, 'H' },
		{ "tty", no_argument, NULL, 't' },
		{ "interactive", no_argument, NULL, 'i' },
		{ 0 },
	};
	int c, r;
	memset(o, 0, sizeof *o);
	err[0] = '\0';
	optind = 0;
	while ((c = getopt_long(argc, argv, "+de:w:u:l:ti", opts, NULL)) != -1) {
		switch (c) {
		case OPT_RM: o->rm = true; break;
		case 'd': o->detach = true; break;
		case 't': o->tty = true; break;
		case 'i': o->interactive = true; break;
		case 'H': o->host_net = true; break;
		case 'w': o->workdir = optarg; break;
		case OPT_NAME:
			if (!ctl_dns_label(optarg))
				return fail(err, len, -EINVAL, "--name %s: a name is lower case letters, "
					    "digits and '-', at most 63 (it is the pod's hostname too)",
					    optarg);
			o->name = optarg;
			break;
		case OPT_NET:
			if (strcmp(optarg, "host") && strcmp(optarg, "pod"))
				return fail(err, len, -EINVAL, "--net %s: host or pod", optarg);
			o->host_net = !strcmp(optarg, "host");
			break;
		case 'u':
			if (ctl_parse_user_spec(optarg, &o->user) < 0)
				return fail(err, len, -EINVAL, "--user: NAME, UID, NAME:GID or UID:GID");
			o->have_user = true;
			break;
		case 'e':
			if ((r = env_add(o, optarg, err, len)) < 0)
				return r;
			break;
		case 'l':
			if ((r = label_add(o, optarg, err, len)) < 0)
				return r;
			break;
		default:
			return -EINVAL;
		}
	}
	if (o->interactive || o->tty)
		return fail(err, len, -ENOTSUP, "run %s: an interactive or terminal container needs "
			    "the streaming server (not built yet); run it without -i/-t",
			    o->interactive ? "-i" : "-t/--tty");
	if (o->rm && o->detach)
		return fail(err, len, -EINVAL, "--rm and -d/--detach cannot be used together");
	if (optind >= argc)
		return fail(err, len, -EINVAL, "run wants an IMAGE");
	o->image = argv[optind];
	if (!*o->image)
		return fail(err, len, -EINVAL, "an empty IMAGE");
	o->cmd = argv + optind + 1;
	o->n_cmd = (size_t)(argc - optind - 1);
	return 0;
}
