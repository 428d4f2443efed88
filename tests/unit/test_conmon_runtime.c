/*
 * test_conmon_runtime: the pure parts of conmon's runtime and kill files:
 * runc's error out of its JSON --log (the sync line's TEXT), and the pids of
 * a cgroup.procs file.
 */
#include <errno.h>
#include <sys/types.h>

#include "conmon/kill.h"
#include "conmon/runtime.h"
#include "tests/unit/unit.h"

static const char *err_of(const char *log, char *buf, size_t len)
{
	conmon_runtime_log_error(log, strlen(log), buf, len);
	return buf;
}

TEST(conmon_runtime_log_error)
{
	char buf[CONMON_RUNTIME_ERROR_MAX];
	const char *log =
		"{\"level\":\"warning\",\"msg\":\"something\",\"time\":\"2026-01-01T00:00:00Z\"}\n"
		"{\"level\":\"error\",\"msg\":\"runc create failed: chdir /x: no such file or directory\","
		"\"time\":\"2026-01-01T00:00:00Z\"}\n";
	CHECK(!strcmp(err_of(log, buf, sizeof buf),
		      "runc create failed: chdir /x: no such file or directory"));
	/* escapes; newlines and tabs become spaces; \u to UTF-8 */
	log = "{\"level\":\"error\",\"msg\":\"a \\\"q\\\"\\nb\\tc \\\\ \\u00e9\\u0001 \\/\"}";
	CHECK(!strcmp(err_of(log, buf, sizeof buf), "a \"q\" b c \\ \xc3\xa9  /"));
	/* the last error wins */
	log = "{\"level\":\"error\",\"msg\":\"first\"}\n{\"level\":\"error\",\"msg\":\"second\"}\n";
	CHECK(!strcmp(err_of(log, buf, sizeof buf), "second"));
	/* no JSON: the last line as it is, control characters as spaces */
	log = "plain text\nlast\tline\n\n";
	CHECK(!strcmp(err_of(log, buf, sizeof buf), "last line"));
	CHECK(conmon_runtime_log_error("", 0, buf, sizeof buf) == 0 && buf[0] == 0);
	/* truncated to the buffer, NUL-terminated */
	log = "{\"level\":\"error\",\"msg\":\"0123456789\"}";
	CHECK(conmon_runtime_log_error(log, strlen(log), buf, 5) == 4 && !strcmp(buf, "0123"));
	/* an unterminated string or a bad escape stops, never overruns */
	log = "{\"level\":\"error\",\"msg\":\"abc\\u12";
	err_of(log, buf, sizeof buf);
	CHECK(!strcmp(buf, "abc"));
	log = "{\"level\":\"error\",\"msg\":\"abc\\";
	CHECK(!strcmp(err_of(log, buf, sizeof buf), "abc"));
}

TEST(conmon_kill_parse_pids)
{
	pid_t p[4];
	const char *s = "12\n345\n";
	CHECK(conmon_kill_parse_pids(s, strlen(s), p, 4) == 2 && p[0] == 12 && p[1] == 345);
	CHECK(conmon_kill_parse_pids("", 0, p, 4) == 0);
	s = "7";
	CHECK(conmon_kill_parse_pids(s, 1, p, 4) == 1 && p[0] == 7);
	s = "1\n2\n3\n4\n5\n";
	CHECK(conmon_kill_parse_pids(s, strlen(s), p, 4) == -E2BIG);
	const char *bad[] = { "0\n", "-1\n", "1 2\n", "x\n", "99999999999\n", NULL };
	for (int i = 0; bad[i]; i++)
		CHECK(conmon_kill_parse_pids(bad[i], strlen(bad[i]), p, 4) == -EINVAL);
}
