/*
 * test_conmon_log: conmon/k8s_log.c, the CRI log format: the record
 * splitter (newlines, --log-max-line, partial chunks), the RFC3339Nano
 * time, and whole chunks written to a file and read back, reopen included.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "conmon/k8s_log.h"
#include "tests/unit/unit.h"

struct rec { size_t text; bool full; size_t used; };

/* All the records of buf with max_line. */
static size_t split(const char *buf, size_t max, struct rec *out, size_t n_out)
{
	size_t len = strlen(buf), n = 0;
	while (len > 0 && n < n_out) {
		struct rec r;
		r.used = k8s_log_next(buf, len, max, &r.text, &r.full);
		CHECK(r.used > 0 && r.used <= len);
		out[n++] = r;
		buf += r.used;
		len -= r.used;
	}
	return n;
}

TEST(conmon_log_split_lines)
{
	struct rec r[8];
	CHECK(split("ab\ncd\n", 100, r, 8) == 2);
	CHECK(r[0].text == 2 && r[0].full && r[0].used == 3);
	CHECK(r[1].text == 2 && r[1].full && r[1].used == 3);
	/* an empty line is an empty F record */
	CHECK(split("\n", 100, r, 8) == 1 && r[0].text == 0 && r[0].full && r[0].used == 1);
	/* a chunk without its newline: a P record */
	CHECK(split("ab\ncd", 100, r, 8) == 2);
	CHECK(r[1].text == 2 && !r[1].full && r[1].used == 2);
}

TEST(conmon_log_split_long_lines)
{
	struct rec r[8];
	/* exactly max: one F */
	CHECK(split("abcd\n", 4, r, 8) == 1 && r[0].text == 4 && r[0].full);
	/* max + 1: P of max, then F of 1 */
	CHECK(split("abcde\n", 4, r, 8) == 2);
	CHECK(r[0].text == 4 && !r[0].full && r[0].used == 4);
	CHECK(r[1].text == 1 && r[1].full && r[1].used == 2);
	/* 10 with max 4, no newline: P 4, P 4, P 2 */
	CHECK(split("0123456789", 4, r, 8) == 3);
	CHECK(r[0].text == 4 && !r[0].full && r[1].text == 4 && !r[1].full);
	CHECK(r[2].text == 2 && !r[2].full);
	/* max 1 */
	CHECK(split("ab\n", 1, r, 8) == 2 && r[0].text == 1 && !r[0].full && r[1].full);
}

TEST(conmon_log_time)
{
	char buf[K8S_LOG_TIME_LEN + 1];
	struct timespec ts = { 0, 5 };
	CHECK(k8s_log_time(&ts, buf, sizeof buf) == K8S_LOG_TIME_LEN);
	CHECK(!strcmp(buf, "1970-01-01T00:00:00.000000005Z"));
	ts = (struct timespec){ 1700000000, 123456789 };
	CHECK(k8s_log_time(&ts, buf, sizeof buf) == K8S_LOG_TIME_LEN);
	CHECK(!strcmp(buf, "2023-11-14T22:13:20.123456789Z"));
	CHECK(k8s_log_time(&ts, buf, K8S_LOG_TIME_LEN) == 0);     /* too small */
}

static char *slurp(const char *path)
{
	char *buf;
	CHECK_RC(fs_read_file(AT_FDCWD, path, 1 << 24, &buf, NULL));
	return buf;
}

/* Line i of text (0-based) after its timestamp, into out. */
static void line_after_time(const char *text, int i, char *out, size_t len)
{
	for (; i > 0; i--) {
		text = strchr(text, '\n');
		CHECK(text);
		text++;
	}
	CHECK(strlen(text) > K8S_LOG_TIME_LEN + 1 && text[K8S_LOG_TIME_LEN] == ' ');
	const char *nl = strchr(text, '\n');
	CHECK(nl);
	size_t n = (size_t)(nl - text) - K8S_LOG_TIME_LEN - 1;
	CHECK(n < len);
	memcpy(out, text + K8S_LOG_TIME_LEN + 1, n);
	out[n] = 0;
}

TEST(conmon_log_write_records)
{
	char path[512], line[256];
	snprintf(path, sizeof path, "%s/0.log", unit_tmpdir());
	struct k8s_log *l;
	CHECK_RC(k8s_log_open(path, 4, &l));
	CHECK_RC(k8s_log_write(l, "stdout", "hi\nabcdefg\n", 11));
	CHECK_RC(k8s_log_write(l, "stderr", "par", 3));
	CHECK_RC(k8s_log_write(l, "stderr", "t\n", 2));
	k8s_log_close(l);
	char *text = slurp(path);
	const char *want[] = { "stdout F hi", "stdout P abcd", "stdout F efg", "stderr P par",
			       "stderr F t" };
	for (int i = 0; i < 5; i++) {
		line_after_time(text, i, line, sizeof line);
		if (strcmp(line, want[i]))
			fprintf(stderr, "  line %d: '%s' want '%s'\n", i, line, want[i]);
		CHECK(!strcmp(line, want[i]));
	}
	/* one chunk shares one timestamp */
	CHECK(!strncmp(text, strchr(text, '\n') + 1, K8S_LOG_TIME_LEN));
	free(text);
}

TEST(conmon_log_write_many_records_in_one_chunk)
{
	/* more records than one writev takes (LOG_BATCH) */
	char path[512];
	snprintf(path, sizeof path, "%s/0.log", unit_tmpdir());
	struct k8s_log *l;
	CHECK_RC(k8s_log_open(path, 16384, &l));
	static char chunk[1000 * 3];
	for (int i = 0; i < 1000; i++)
		memcpy(chunk + 3 * i, "ab\n", 3);
	CHECK_RC(k8s_log_write(l, "stdout", chunk, sizeof chunk));
	k8s_log_close(l);
	char *text = slurp(path);
	size_t lines = 0;
	for (char *p = text; (p = strstr(p, " stdout F ab\n")); p++)
		lines++;
	CHECK(lines == 1000);
	CHECK(strlen(text) == 1000 * (K8S_LOG_TIME_LEN + strlen(" stdout F ab\n")));
	free(text);
}

TEST(conmon_log_reopen_after_rename)
{
	char path[512], old[600];
	snprintf(path, sizeof path, "%s/0.log", unit_tmpdir());
	snprintf(old, sizeof old, "%s.1", path);
	struct k8s_log *l;
	CHECK_RC(k8s_log_open(path, 100, &l));
	CHECK_RC(k8s_log_write(l, "stdout", "one\n", 4));
	CHECK(rename(path, old) == 0);
	CHECK_RC(k8s_log_write(l, "stdout", "two\n", 4));      /* still the old file */
	CHECK_RC(k8s_log_reopen(l));
	CHECK(access(path, F_OK) == 0);
	CHECK_RC(k8s_log_write(l, "stdout", "three\n", 6));
	k8s_log_close(l);
	char *a = slurp(old), *b = slurp(path);
	CHECK(strstr(a, "F one\n") && strstr(a, "F two\n") && !strstr(a, "three"));
	CHECK(strstr(b, "F three\n") && !strstr(b, "one"));
	free(a);
	free(b);
	/* a reopen that fails keeps the old file */
	CHECK_RC(k8s_log_open(path, 100, &l));
	CHECK(unlink(path) == 0 && unlink(old) == 0 && rmdir(unit_tmpdir()) == 0);
	CHECK(k8s_log_reopen(l) < 0);
	CHECK_RC(k8s_log_write(l, "stdout", "x\n", 2));
	k8s_log_close(l);
	CHECK(mkdir(unit_tmpdir(), 0700) == 0);
}
