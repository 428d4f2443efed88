/*
 * k8s_log: writes the CRI log format (see k8s_log.h). The records of one
 * chunk share one timestamp, so there are only two prefixes ("... P " and
 * "... F "); up to LOG_BATCH records go out in one writev on an O_APPEND fd,
 * so a reader never sees a prefix without its text. No stdio: the prefixes
 * are built by hand (strftime for the date).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conmon/k8s_log.h"

#define LOG_BATCH 128                   /* records per writev (3 iovecs each) */
#define PREFIX_MAX (K8S_LOG_TIME_LEN + sizeof " stderr P ")

struct k8s_log {
	int fd;
	size_t max_line;
	char path[PATH_MAX];
};

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
	return fd < 0 ? -errno : fd;
}

int k8s_log_open(const char *path, size_t max_line, struct k8s_log **ret)
{
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (max_line == 0)
		return -EINVAL;
	struct k8s_log *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	memcpy(l->path, path, strlen(path) + 1);
	l->max_line = max_line;
	l->fd = open_log(path);
	if (l->fd < 0) {
		int r = l->fd;
		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

size_t k8s_log_time(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;
	if (len < K8S_LOG_TIME_LEN + 1 || !gmtime_r(&ts->tv_sec, &tm))
		return 0;
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n != 19)
		return 0;                       /* a year past 9999 */
	buf[n++] = '.';
	long ns = ts->tv_nsec;
	for (int i = 8; i >= 0; i--) {
		buf[n + (size_t)i] = (char)('0' + ns % 10);
		ns /= 10;
	}
	n += 9;
	buf[n++] = 'Z';
	buf[n] = 0;
	return n;
}

size_t k8s_log_next(const char *buf, size_t len, size_t max_line, size_t *ret_text,
		    bool *ret_full)
{
	size_t scan = len < max_line + 1 ? len : max_line + 1;
	const char *nl = memchr(buf, '\n', scan);
	if (nl) {
		*ret_text = (size_t)(nl - buf);
		*ret_full = true;
		return *ret_text + 1;
	}
	*ret_text = len < max_line ? len : max_line;
	*ret_full = false;
	return *ret_text;
}

/* "<time> <stream> <P|F> " into buf; returns its length */
static size_t prefix(char *buf, const char *time, size_t tlen, const char *stream, char pf)
{
	size_t slen = strlen(stream), n = 0;
	memcpy(buf, time, tlen);
	n += tlen;
	buf[n++] = ' ';
	memcpy(buf + n, stream, slen);
	n += slen;
	buf[n++] = ' ';
	buf[n++] = pf;
	buf[n++] = ' ';
	return n;
}

static int write_batch(int fd, const struct iovec *iov, int n)
{
	size_t want = 0;
	for (int i = 0; i < n; i++)
		want += iov[i].iov_len;
	ssize_t w;
	do
		w = writev(fd, iov, n);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	return (size_t)w == want ? 0 : -EIO;
}

int k8s_log_write(struct k8s_log *l, const char *stream, const char *buf, size_t len)
{
	if (strlen(stream) > 6)
		return -EINVAL;
	char tbuf[K8S_LOG_TIME_LEN + 1];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	size_t tlen = k8s_log_time(&ts, tbuf, sizeof tbuf);
	char pre_p[PREFIX_MAX], pre_f[PREFIX_MAX];
	size_t plen = prefix(pre_p, tbuf, tlen, stream, 'P');
	prefix(pre_f, tbuf, tlen, stream, 'F');

	struct iovec iov[3 * LOG_BATCH];
	int n = 0;
	while (len > 0) {
		size_t text;
		bool full;
		size_t used = k8s_log_next(buf, len, l->max_line, &text, &full);
		iov[n++] = (struct iovec){ full ? pre_f : pre_p, plen };
		iov[n++] = (struct iovec){ (void *)buf, text };
		iov[n++] = (struct iovec){ "\n", 1 };
		buf += used;
		len -= used;
		if (n == 3 * LOG_BATCH || len == 0) {
			int r = write_batch(l->fd, iov, n);
			if (r < 0)
				return r;
			n = 0;
		}
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
