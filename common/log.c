/*
 * log: the daemons' log lines on stderr (common/log.h). Owns the process's
 * log name and level. One line is formatted into a buffer and written with
 * a single write(2), so lines from several threads never interleave.
 * Never allocates, never blocks on anything but stderr, never logs secrets
 * (the callers choose what to say).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"

#define LOG_LINE_MAX 4096
#define LOG_NAME_MAX 32

static char log_name[LOG_NAME_MAX] = "crisp";
static atomic_int log_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_ERR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_init(const char *name, int level)
{
	if (name)
		snprintf(log_name, sizeof log_name, "%s", name);
	log_set_level(level);
}

static int level_clamp(int level)
{
	return level < LOG_ERR ? LOG_ERR : level > LOG_DEBUG ? LOG_DEBUG : level;
}

void log_set_level(int level)
{
	atomic_store(&log_level, level_clamp(level));
}

int log_get_level(void)
{
	return atomic_load(&log_level);
}

int log_level_parse(const char *s)
{
	if (!s)
		return -EINVAL;
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "warning") == 0)
		return LOG_WARN;
	return -EINVAL;
}

/* "2024-05-01T12:00:00.123Z": RFC 3339 in UTC (no /etc/localtime needed,
 * which matters once Landlock hides /etc). */
static size_t log_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm))
		return 0;
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	int m = snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return m > 0 && (size_t)m < len - n ? n + (size_t)m : n;
}

static void log_write(int level, int err, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = log_time(line, sizeof line);
	int m = snprintf(line + n, sizeof line - n, " %s[%ld] %s: ", log_name,
			 (long)getpid(), level_names[level]);
	if (m > 0)
		n += (size_t)m;
	if (n < sizeof line) {
		errno = err;    /* for %m */
		m = vsnprintf(line + n, sizeof line - n, fmt, ap);
		if (m > 0)
			n += (size_t)m;
	}
	if (n >= sizeof line - 1) {     /* truncated: mark it, keep the newline */
		n = sizeof line - 1;
		memcpy(line + n - 3, "...", 3);
	}
	line[n++] = '\n';
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(STDERR_FILENO, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

void log_msg(int level, const char *fmt, ...)
{
	int saved = errno;
	level = level_clamp(level);
	if (level > atomic_load(&log_level))
		return;
	va_list ap;
	va_start(ap, fmt);
	log_write(level, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

int log_msg_errno(int level, int err, const char *fmt, ...)
{
	int saved = errno;
	int e = err < 0 ? -err : err;
	level = level_clamp(level);
	if (level <= atomic_load(&log_level)) {
		va_list ap;
		va_start(ap, fmt);
		log_write(level, e, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -e;
}
