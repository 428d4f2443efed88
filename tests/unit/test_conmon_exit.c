/*
 * test_conmon_exit: conmon/exit_file.c (the exit file's content and its
 * atomic write) and conmon/oom.c (the oom_kill counter of cgroup v1's
 * memory.oom_control and v2's memory.events).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "conmon/exit_file.h"
#include "conmon/oom.h"
#include "tests/unit/unit.h"

/* wait statuses as the kernel makes them */
#define EXITED(c) ((c) << 8)
#define SIGNALED(s) (s)

TEST(conmon_exit_code)
{
	CHECK(WIFEXITED(EXITED(3)) && WIFSIGNALED(SIGNALED(9)));
	CHECK(conmon_exit_code(EXITED(0)) == 0);
	CHECK(conmon_exit_code(EXITED(3)) == 3);
	CHECK(conmon_exit_code(EXITED(255)) == 255);
	CHECK(conmon_exit_code(SIGNALED(9)) == 137);
	CHECK(conmon_exit_code(SIGNALED(15)) == 143);
}

TEST(conmon_exit_format)
{
	char buf[128];
	int n = conmon_exit_format(EXITED(3), 1700000000123456789LL, false, buf, sizeof buf);
	CHECK(n > 0 && (size_t)n == strlen(buf));
	CHECK(!strcmp(buf, "code=3\nsignal=0\nfinished_ns=1700000000123456789\noom=0\n"));
	conmon_exit_format(SIGNALED(9), 5, true, buf, sizeof buf);
	CHECK(!strcmp(buf, "code=137\nsignal=9\nfinished_ns=5\noom=1\n"));
	CHECK(conmon_exit_format(EXITED(0), 5, false, buf, 10) == -ENOSPC);
}

TEST(conmon_exit_write_atomic)
{
	int dfd = open(unit_tmpdir(), O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	CHECK_RC(conmon_exit_write(dfd, "exit", SIGNALED(9), 42, true));
	char *buf;
	CHECK_RC(fs_read_file(dfd, "exit", 4096, &buf, NULL));
	CHECK(!strcmp(buf, "code=137\nsignal=9\nfinished_ns=42\noom=1\n"));
	free(buf);
	/* nothing else is left in the directory */
	DIR *d = fdopendir(dfd);
	CHECK(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			CHECK(!strcmp(e->d_name, "exit"));
			n++;
		}
	CHECK(n == 1);
	closedir(d);
}

TEST(conmon_exit_write_failure_leaves_nothing)
{
	int dfd = open(unit_tmpdir(), O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	char path[600];
	snprintf(path, sizeof path, "%s/exit", unit_tmpdir());
	CHECK(mkdir(path, 0700) == 0);                  /* rename over a directory fails */
	CHECK(conmon_exit_write(dfd, "exit", EXITED(0), 1, false) < 0);
	DIR *d = fdopendir(dfd);
	CHECK(d);
	struct dirent *e;
	while ((e = readdir(d)))
		CHECK(e->d_name[0] == '.' || !strcmp(e->d_name, "exit"));
	closedir(d);
}

TEST(conmon_oom_parse)
{
	uint64_t v = 99;
	const char *v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
	CHECK_RC(conmon_oom_parse(v1, strlen(v1), &v));
	CHECK(v == 3);
	const char *v1b = "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n";
	CHECK_RC(conmon_oom_parse(v1b, strlen(v1b), &v));
	CHECK(v == 0);
	const char *v2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
	CHECK_RC(conmon_oom_parse(v2, strlen(v2), &v));
	CHECK(v == 1);
	const char *none = "oom_kill_disable 0\nunder_oom 0\n";
	CHECK(conmon_oom_parse(none, strlen(none), &v) == -ENOENT);
	const char *bad = "oom_kill x\n";
	CHECK(conmon_oom_parse(bad, strlen(bad), &v) == -EINVAL);
	const char *big = "oom_kill 99999999999999999999999\n";
	CHECK(conmon_oom_parse(big, strlen(big), &v) == -EINVAL);
	const char *noeol = "oom_kill 7";
	CHECK_RC(conmon_oom_parse(noeol, strlen(noeol), &v));
	CHECK(v == 7);
	CHECK(conmon_oom_parse("", 0, &v) == -ENOENT);
}

TEST(conmon_oom_read_again_from_the_start)
{
	char path[600];
	snprintf(path, sizeof path, "%s/memory.events", unit_tmpdir());
	int w = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(w >= 0);
	CHECK(write(w, "oom 0\noom_kill 0\n", 17) == 17);
	int fd;
	uint64_t v;
	CHECK_RC(conmon_oom_open(path, &fd));
	CHECK_RC(conmon_oom_read(fd, &v));
	CHECK(v == 0);
	CHECK(pwrite(w, "oom 1\noom_kill 1\n", 17, 0) == 17);
	CHECK_RC(conmon_oom_read(fd, &v));
	CHECK(v == 1);
	close(w);
	close(fd);
	CHECK(conmon_oom_open("/nonexistent/memory.events", &fd) == -ENOENT);
}
