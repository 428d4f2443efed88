/*
 * k8s_log: writes the CRI log format (see k8s_log.h). Each record is one
 * writev so concurrent readers (kubectl logs) never see half a prefix.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "conmon/k8s_log.h"

struct k8s_log {
	int fd;
	char path[PATH_MAX];
};

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	return fd < 0 ? -errno : fd;
}

int k8s_log_open(const char *path, struct k8s_log **ret)
{
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	struct k8s_log *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	snprintf(l->path, sizeof l->path, "%s", path);
	l->fd = open_log(path);
	if (l->fd < 0) {
		int r = l->fd;
		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

/* RFC3339Nano in UTC, as the kubelet's parser expects. */
static size_t format_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
	return n;
}

static int write_record(int fd, const char *prefix, size_t plen, const char *text,
			size_t tlen)
{
	struct iovec iov[3] = {
		{ .iov_base = (void *)prefix, .iov_len = plen },
		{ .iov_base = (void *)text, .iov_len = tlen },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	ssize_t want = (ssize_t)(plen + tlen + 1);
	ssize_t n = writev(fd, iov, 3);
	if (n < 0)
		return -errno;
	return n == want ? 0 : -EIO;
}

int k8s_log_write(struct k8s_log *l, const char *stream, const char *buf, size_t len)
{
	char ts[64];
	char prefix[96];
	size_t tlen = format_time(ts, sizeof ts);
	while (len > 0) {
		const char *nl = memchr(buf, '\n', len);
		size_t line = nl ? (size_t)(nl - buf) : len;
		int plen = snprintf(prefix, sizeof prefix, "%.*s %s %c ", (int)tlen, ts, stream,
				    nl ? 'F' : 'P');
		int r = write_record(l->fd, prefix, (size_t)plen, buf, line);
		if (r < 0)
			return r;
		size_t used = nl ? line + 1 : line;
		buf += used;
		len -= used;
	}
	return 0;
}

int k8s_log_reopen(struct k8s_log *l)
{
	int fd = open_log(l->path);
	if (fd < 0)
		return fd;
	close(l->fd);
	l->fd = fd;
	return 0;
}

void k8s_log_close(struct k8s_log *l)
{
	if (!l)
		return;
	close(l->fd);
	free(l);
}
