/*
 * util: small helpers the verbs share (usage line, USER:PASS split, sizes).
 * Kept out of main.c so that every crispctl object but main.o can be
 * linked into the unit tests. Nothing here talks to a daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crispctl/crispctl.h"

int ctl_usage(const char *line)
{
	fprintf(stderr, "usage: crispctl %s\n", line);
	return CTL_EXIT_USAGE;
}

int ctl_split_user(char *s, char **ret_user, char **ret_pass)
{
	char *colon = strchr(s, ':');
	if (!colon || colon == s)
		return -EINVAL;
	*colon = '\0';
	*ret_user = s;
	*ret_pass = colon + 1;
	return 0;
}

void ctl_human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000.0 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1000.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.3g%s", v, units[u]);
}

int ctl_parse_duration(const char *s, int64_t *ret_ms)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 },
	};
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || v > 1000000000ULL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(end, units[i].unit)) {
			*ret_ms = (int64_t)v * units[i].ms;
			return 0;
		}
	return -EINVAL;
}

int ctl_split_kv(char *s, char **ret_key, char **ret_value)
{
	char *eq = strchr(s, '=');
	if (!eq || eq == s)
		return -EINVAL;
	*eq = '\0';
	*ret_key = s;
	*ret_value = eq + 1;
	return 0;
}
