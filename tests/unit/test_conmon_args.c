/*
 * test_conmon_args: conmon/args.c, the command line of conmon.h: both
 * modes, defaults, and what must be refused.
 */
#include <errno.h>

#include "conmon/args.h"
#include "tests/unit/unit.h"

#define N(a) ((int)(sizeof(a) / sizeof *(a)) - 1)

static int parse(char **argv, int argc, struct conmon_args *a, const char **bad)
{
	*bad = NULL;
	return conmon_args_parse(argc, argv, a, bad);
}

TEST(conmon_args_container)
{
	char *argv[] = { "conmon", "--runtime", "/usr/sbin/runc", "--runtime-root", "/run/r",
			 "--id", "abc.1_2-3", "--bundle", "/b", "--dir", "/d", "--log-path", "/l/0.log",
			 "--terminal", "--stdin", "--stdin-once", "--oom-file", "/sys/x",
			 "--systemd-cgroup", "--sync-fd", "5", NULL };
	struct conmon_args a;
	const char *bad;
	CHECK_RC(parse(argv, N(argv), &a, &bad));
	CHECK(a.mode == CONMON_MODE_CONTAINER && !strcmp(a.runtime, "/usr/sbin/runc"));
	CHECK(!strcmp(a.runtime_root, "/run/r") && !strcmp(a.id, "abc.1_2-3"));
	CHECK(!strcmp(a.bundle, "/b") && !strcmp(a.dir, "/d") && !strcmp(a.log_path, "/l/0.log"));
	CHECK(a.terminal && a.stdin_open && a.stdin_once && a.systemd_cgroup);
	CHECK(!strcmp(a.oom_file, "/sys/x") && a.sync_fd == 5 && !a.cmd);
	CHECK(a.log_max_line == CONMON_LOG_LINE_DEFAULT);
}

TEST(conmon_args_exec)
{
	char *argv[] = { "conmon", "--exec", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			 "--timeout-ms", "1500", "--exec-cgroup", "freezer:crisp-exec-1",
			 "--exec-procs", "/sys/fs/cgroup/freezer/c/crisp-exec-1/cgroup.procs",
			 "--result-fd", "7", "--", "sh", "-c", "--id x", NULL };
	struct conmon_args a;
	const char *bad;
	CHECK_RC(parse(argv, N(argv), &a, &bad));
	CHECK(a.mode == CONMON_MODE_EXEC && a.timeout_ms == 1500 && a.result_fd == 7);
	CHECK(!strcmp(a.exec_cgroup, "freezer:crisp-exec-1"));
	CHECK(!strcmp(a.cmd[0], "sh") && !strcmp(a.cmd[2], "--id x") && !a.cmd[3]);
}

/* argv with one element replaced or dropped must fail, naming bad */
static void refused(char **argv, int argc, const char *why)
{
	struct conmon_args a;
	const char *bad;
	int r = parse(argv, argc, &a, &bad);
	if (r != -EINVAL)
		fprintf(stderr, "  accepted: %s\n", why);
	CHECK(r == -EINVAL && bad);
}

TEST(conmon_args_refused)
{
	char *base[] = { "conmon", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			 "--bundle", "/b", "--dir", "/d", "--log-path", "/l", "--sync-fd", "3", NULL };
	struct conmon_args a;
	const char *bad;
	CHECK_RC(parse(base, N(base), &a, &bad));
	/* each required option left out */
	for (int skip = 1; skip < N(base); skip += 2) {
		char *v[32];
		int n = 0;
		for (int i = 0; i < N(base); i++)
			if (i != skip && i != skip + 1)
				v[n++] = base[i];
		v[n] = NULL;
		refused(v, n, base[skip]);
	}
	/* bad values */
	const char *ids[] = { "", "-x", ".", "..", "a/b", "a b", "a:b", NULL };
	for (int i = 0; ids[i]; i++) {
		char *v[32];
		memcpy(v, base, sizeof base);
		v[6] = (char *)ids[i];
		refused(v, N(base), ids[i]);
	}
	const char *fds[] = { "-1", "x", "3x", "99999999999", "", NULL };
	for (int i = 0; fds[i]; i++) {
		char *v[32];
		memcpy(v, base, sizeof base);
		v[14] = (char *)fds[i];
		refused(v, N(base), fds[i]);
	}
	char *twice[] = { "conmon", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			  "--bundle", "/b", "--dir", "/d", "--log-path", "/l", "--sync-fd", "3",
			  "--dir", "/e", NULL };
	refused(twice, N(twice), "--dir twice");
	char *unknown[] = { "conmon", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			    "--bundle", "/b", "--dir", "/d", "--log-path", "/l", "--sync-fd", "3",
			    "--frobnicate", NULL };
	refused(unknown, N(unknown), "unknown option");
	char *novalue[] = { "conmon", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			    "--bundle", "/b", "--dir", "/d", "--log-path", "/l", "--sync-fd", NULL };
	refused(novalue, N(novalue), "option without its value");
	char *maxline[] = { "conmon", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			    "--bundle", "/b", "--dir", "/d", "--log-path", "/l", "--sync-fd", "3",
			    "--log-max-line", "0", NULL };
	refused(maxline, N(maxline), "--log-max-line 0");
	maxline[16] = "1048577";
	refused(maxline, N(maxline), "--log-max-line over 1 MiB");
	maxline[16] = "1048576";
	CHECK_RC(parse(maxline, N(maxline), &a, &bad));
	CHECK(a.log_max_line == 1048576);
	char *once[] = { "conmon", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			 "--bundle", "/b", "--dir", "/d", "--log-path", "/l", "--sync-fd", "3",
			 "--stdin-once", NULL };
	refused(once, N(once), "--stdin-once without --stdin");
	char *other_mode[] = { "conmon", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			       "--bundle", "/b", "--dir", "/d", "--log-path", "/l", "--sync-fd", "3",
			       "--timeout-ms", "5", NULL };
	refused(other_mode, N(other_mode), "--timeout-ms in container mode");
	char *cmd[] = { "conmon", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			"--bundle", "/b", "--dir", "/d", "--log-path", "/l", "--sync-fd", "3",
			"--", "sh", NULL };
	refused(cmd, N(cmd), "a command in container mode");
}

TEST(conmon_args_exec_refused)
{
	char *nocmd[] = { "conmon", "--exec", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			  "--timeout-ms", "5", "--result-fd", "3", "--", NULL };
	refused(nocmd, N(nocmd), "exec without a command");
	char *half[] = { "conmon", "--exec", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			 "--timeout-ms", "5", "--result-fd", "3", "--exec-cgroup", "x", "--", "sh", NULL };
	refused(half, N(half), "--exec-cgroup without --exec-procs");
	char *cmode[] = { "conmon", "--exec", "--runtime", "/r", "--runtime-root", "/rr", "--id", "c",
			  "--timeout-ms", "5", "--result-fd", "3", "--dir", "/d", "--", "sh", NULL };
	refused(cmode, N(cmode), "--dir in exec mode");
	char *noresult[] = { "conmon", "--exec", "--runtime", "/r", "--runtime-root", "/rr", "--id",
			     "c", "--timeout-ms", "5", "--", "sh", NULL };
	refused(noresult, N(noresult), "no --result-fd");
	char *late[] = { "conmon", "--runtime", "/r", "--exec", "--runtime-root", "/rr", "--id", "c",
			 "--timeout-ms", "5", "--result-fd", "3", "--", "sh", NULL };
	refused(late, N(late), "--exec not first");
}
