/*
 * sbx: sandboxd's shared helpers (see sbx.h): handler lookup, the paths of
 * pods' and containers' things, clocks, and process identity (a pid plus its
 * start time, so that a reused pid is never taken for ours). Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/fsutil.h"
#include "sandboxd/sbx.h"

const struct sbx_handler *sbx_handler(const struct sbx *s, const char *name)
{
	if (!name || !*name)
		name = s->cfg->default_runtime;
	for (size_t i = 0; i < s->n_handlers; i++)
		if (strcmp(s->handlers[i].cfg->name, name) == 0)
			return &s->handlers[i];
	return NULL;
}

static int join3(char *buf, size_t len, const char *a, const char *b, const char *c)
{
	int n = c ? snprintf(buf, len, "%s/%s/%s", a, b, c) : snprintf(buf, len, "%s/%s", a, b);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sbx_pod_dir(const struct sbx *s, const char *id, char *buf, size_t len)
{
	return join3(buf, len, s->dir_pods, id, NULL);
}

int sbx_pod_path(const struct sbx *s, const char *id, const char *what, char *buf, size_t len)
{
	return join3(buf, len, s->dir_pods, id, what);
}

int sbx_ctr_dir(const struct sbx *s, const char *id, char *buf, size_t len)
{
	return join3(buf, len, s->dir_ctrs, id, NULL);
}

int sbx_ctr_path(const struct sbx *s, const char *id, const char *what, char *buf, size_t len)
{
	return join3(buf, len, s->dir_ctrs, id, what);
}

int sbx_ctr_data(const struct sbx *s, const char *id, const char *what, char *buf, size_t len)
{
	return what ? join3(buf, len, s->dir_data, id, what) : join3(buf, len, s->dir_data, id, NULL);
}

int64_t sbx_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sbx_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t sbx_proc_start(pid_t pid)
{
	char path[64], *buf = NULL;
	uint64_t start = 0;
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (fs_read_file(AT_FDCWD, path, 4096, &buf, NULL) < 0)
		return 0;
	/* after "(comm)" the fields are 3..: the 22nd is starttime */
	char *p = strrchr(buf, ')');
	if (p && p[1] == ' ' && p[2] != 'Z') {
		p += 2;
		for (int field = 3; p && field < 22; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p)
			start = strtoull(p, NULL, 10);
	}
	free(buf);
	return start;
}

bool sbx_proc_is(pid_t pid, uint64_t start)
{
	return pid > 0 && start && sbx_proc_start(pid) == start;
}
