/*
 * kill: see kill.h. The file is reopened for every round: cgroup v1 keeps
 * a pidlist per open file for a while, so a second read of one fd can show
 * pids that are gone (or miss new ones).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "conmon/kill.h"

#define PIDS_PER_ROUND 4096

int conmon_kill_parse_pids(const char *buf, size_t len, pid_t *pids, size_t max)
{
	size_t n = 0;
	for (size_t off = 0; off < len;) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t llen = nl ? (size_t)(nl - line) : len - off;
		off += llen + 1;
		if (llen == 0)
			continue;
		long v = 0;
		for (size_t i = 0; i < llen; i++) {
			if (line[i] < '0' || line[i] > '9' || v > (1L << 30))
				return -EINVAL;
			v = v * 10 + (line[i] - '0');
		}
		if (v <= 0 || v > (1L << 30))
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		pids[n++] = (pid_t)v;
	}
	return (int)n;
}

void conmon_kill_pid(pid_t pid)
{
	if (pid > 0)
		kill(pid, SIGKILL);
}

/* One round: read the file, kill what it lists. Returns how many. */
static int kill_round(const char *procs, pid_t *pids)
{
	char *buf;
	size_t len;
	int r = fs_read_file(AT_FDCWD, procs, CONMON_PROCS_MAX, &buf, &len);
	if (r < 0)
		return r;
	int n = conmon_kill_parse_pids(buf, len, pids, PIDS_PER_ROUND);
	free(buf);
	if (n == -E2BIG)
		n = PIDS_PER_ROUND;     /* the first ones now, the rest next round */
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	return n;
}

int conmon_kill_cgroup(const char *procs)
{
	pid_t *pids = calloc(PIDS_PER_ROUND, sizeof *pids);
	if (!pids)
		return -ENOMEM;
	int total = 0, r = 0;
	for (int round = 0; round < CONMON_KILL_ROUNDS; round++) {
		r = kill_round(procs, pids);
		if (r <= 0)
			break;
		total += r;
		struct timespec pause = { 0, CONMON_KILL_PAUSE_NS };
		nanosleep(&pause, NULL);
	}
	free(pids);
	return r < 0 ? r : total;
}
