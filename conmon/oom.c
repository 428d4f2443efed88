/*
 * oom: see oom.h. cgroup files are generated on each read from offset 0,
 * so one fd serves for the whole life of the container.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "conmon/oom.h"

#define KEY "oom_kill "
#define KEY_LEN (sizeof KEY - 1)

static int parse_number(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (i == 0 || (i < len && s[i] != '\n'))
		return -EINVAL;
	*ret = v;
	return 0;
}

int conmon_oom_parse(const char *buf, size_t len, uint64_t *ret)
{
	size_t off = 0;
	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t llen = nl ? (size_t)(nl - line) : len - off;
		if (llen > KEY_LEN && !memcmp(line, KEY, KEY_LEN))
			return parse_number(line + KEY_LEN, llen - KEY_LEN, ret);
		off += llen + 1;
	}
	return -ENOENT;
}

int conmon_oom_open(const char *path, int *ret_fd)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int conmon_oom_read(int fd, uint64_t *ret)
{
	char buf[CONMON_OOM_FILE_MAX];
	size_t len = 0;
	for (;;) {
		ssize_t n = pread(fd, buf + len, sizeof buf - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf)
			return -EFBIG;
	}
	return conmon_oom_parse(buf, len, ret);
}
