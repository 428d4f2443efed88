/*
 * unit_main: runs the registered unit tests, each in a forked child with its
 * own temporary directory, and prints "N passed, N failed".
 */
#include <limits.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/unit/unit.h"

#define UNIT_MAX 512

struct unit_test { const char *name; unit_fn fn; };

static struct unit_test tests[UNIT_MAX];
static size_t n_tests;
static char tmpdir[PATH_MAX];

void unit_register(const char *name, unit_fn fn)
{
	if (n_tests < UNIT_MAX)
		tests[n_tests++] = (struct unit_test){ name, fn };
}

const char *unit_tmpdir(void)
{
	return tmpdir;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (strstr(name, argv[i]))
			return true;
	return false;
}

static int run_one(const struct unit_test *t)
{
	char tmpl[] = "/tmp/crisp-unit-XXXXXX";
	if (!mkdtemp(tmpl))
		return -1;
	snprintf(tmpdir, sizeof tmpdir, "%s", tmpl);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		alarm(60);
		t->fn();
		fflush(NULL);
		_exit(0);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", tmpl);
	if (WIFSIGNALED(st))
		fprintf(stderr, "  killed by signal %d\n", WTERMSIG(st));
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	for (size_t i = 0; i < n_tests; i++) {
		if (!selected(tests[i].name, argc, argv))
			continue;
		int r = run_one(&tests[i]);
		printf("%s %s\n", r == 0 ? "ok  " : "FAIL", tests[i].name);
		fflush(stdout);
		if (r == 0)
			passed++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
