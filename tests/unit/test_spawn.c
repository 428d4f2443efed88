/*
 * test_spawn: common/spawn.c with /bin/sh: output captured and capped,
 * input fed, exit codes, the time limit killing a child whose grandchild
 * holds the pipes, the cancel flag, kept fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include "common/spawn.h"
#include "tests/unit/unit.h"

static int sh(const char *script, struct spawn_opts *o, struct spawn_result *res)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	o->argv = argv;
	return spawn_run(o, res);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(spawn_output_and_status)
{
	struct spawn_opts o = { .out_max = 64, .err_max = 64 };
	struct spawn_result res;
	CHECK_RC(sh("echo out; echo err >&2; exit 3", &o, &res));
	CHECK(!strcmp(res.out, "out\n") && !strcmp(res.err, "err\n"));
	CHECK(spawn_exit_code(res.wait_status) == 3);
	spawn_result_clear(&res);
	CHECK_RC(sh("kill -9 $$", &o, &res));
	CHECK(spawn_exit_code(res.wait_status) == 137);
	spawn_result_clear(&res);
}

TEST(spawn_caps_output_and_feeds_input)
{
	struct spawn_opts o = { .out_max = 10, .input = "hello world\n", .input_len = 12 };
	struct spawn_result res;
	CHECK_RC(sh("cat; head -c 100000 /dev/zero", &o, &res));
	CHECK(res.out_len == 10 && res.out_truncated && !memcmp(res.out, "hello worl", 10));
	CHECK(res.err == NULL);
	spawn_result_clear(&res);
}

TEST(spawn_timeout_kills_the_group)
{
	struct spawn_opts o = { .out_max = 64, .timeout_ms = 300 };
	struct spawn_result res;
	double t = now();
	int r = sh("sleep 30 & echo started; wait", &o, &res);
	CHECK(r == -ETIMEDOUT);
	CHECK(now() - t < 2.0);
	CHECK(!strcmp(res.out, "started\n"));
	CHECK(spawn_exit_code(res.wait_status) == 137);
	spawn_result_clear(&res);
}

TEST(spawn_grandchild_holding_pipes_is_killed)
{
	/* the child exits at once; its background child keeps stdout open */
	struct spawn_opts o = { .out_max = 64, .timeout_ms = 500 };
	struct spawn_result res;
	double t = now();
	int r = sh("sleep 30 & exit 0", &o, &res);
	CHECK(r == -ETIMEDOUT);
	CHECK(now() - t < 2.0);
	spawn_result_clear(&res);
}

TEST(spawn_cancel)
{
	atomic_bool cancel = true;
	struct spawn_opts o = { .cancel = &cancel };
	struct spawn_result res;
	double t = now();
	CHECK(sh("sleep 30", &o, &res) == -ECANCELED);
	CHECK(now() - t < 1.0);
	spawn_result_clear(&res);
}

TEST(spawn_keeps_fds)
{
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	char script[64];
	snprintf(script, sizeof script, "echo via >&%d", p[1]);
	struct spawn_opts o = { .keep_fds = &p[1], .n_keep = 1 };
	struct spawn_result res;
	CHECK_RC(sh(script, &o, &res));
	close(p[1]);
	char buf[16] = { 0 };
	CHECK(read(p[0], buf, sizeof buf - 1) == 4 && !strcmp(buf, "via\n"));
	close(p[0]);
	spawn_result_clear(&res);
	const char *argv[] = { "/nonexistent", NULL };
	o = (struct spawn_opts){ .argv = argv };
	CHECK_RC(spawn_run(&o, &res));
	CHECK(spawn_exit_code(res.wait_status) == 127);
	spawn_result_clear(&res);
}
