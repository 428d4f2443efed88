/*
 * test_unpack_child: the unit test binary doubles as imaged for the unpack
 * child: a constructor (glibc passes argc/argv to ELF constructors) runs
 * unpack_child_main when argv[1] is --unpack-child, exactly as imaged's main
 * must, so unpack_spawn("/proc/self/exe") works from any test. The tests
 * here look at the child from outside while it waits for its blob: its
 * namespaces, root, capabilities, no_new_privs and seccomp mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common/landlock.h"
#include "imaged/unpack.h"
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

__attribute__((constructor)) static void unpack_child_hook(int argc, char **argv)
{
	if (argc > 1 && argv && !strcmp(argv[1], UNPACK_CHILD_ARG))
		_exit(unpack_child_main(argc, argv));
}

/* "Key:\tvalue" from /proc/PID/status into val; false if absent. */
static bool proc_status(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], *buf;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (!(buf = tl_read_file(path, NULL)))
		return false;
	bool found = false;
	size_t klen = strlen(key);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			snprintf(val, len, "%s", line + klen + 2);
			found = true;
		}
	free(buf);
	return found;
}

/* Waits until the child has loaded its seccomp filter (it then blocks on
 * the empty blob pipe). */
static void wait_sandboxed(pid_t pid)
{
	char v[64];
	for (int i = 0; i < 500; i++) {
		if (proc_status(pid, "Seccomp", v, sizeof v) && !strcmp(v, "2"))
			return;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	CHECK(!"the child never reached seccomp mode 2");
}

static void same_inode(const char *a, const char *b, bool want_same)
{
	struct stat sa, sb;
	CHECK(stat(a, &sa) == 0 && stat(b, &sb) == 0);
	CHECK((sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino) == want_same);
}

/* Spawns a child on an empty pipe, inspects it, then feeds it a layer. */
static void inspect_child(bool expect_pivot)
{
	char dir[4096], tarp[4096], p[4096];
	tl_path(dir, sizeof dir, unit_tmpdir(), "root");
	tl_path(tarp, sizeof tarp, unit_tmpdir(), "l.tar");
	CHECK(mkdir(dir, 0755) == 0);
	struct archive *a = tl_tar_open(tarp);
	tl_add(a, &(struct tl_entry){ .name = "hello", .data = "hi", .size = 2 });
	tl_close(a);

	int pipefd[2];
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
	struct unpack_spawn s = { .layer_dir = dir, .blob_fd = pipefd[0],
				  .comp = UNPACK_COMP_NONE };
	struct unpack_child c;
	struct unpack_error err;
	CHECK_RC(unpack_spawn_start(&s, &c, &err));
	close(pipefd[0]);
	wait_sandboxed(c.pid);

	char v[64];
	CHECK(proc_status(c.pid, "NoNewPrivs", v, sizeof v) && !strcmp(v, "1"));
	/* CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4, MKNOD 27, SETFCAP 31 */
	CHECK(proc_status(c.pid, "CapEff", v, sizeof v) && !strcmp(v, "000000008800001b"));
	CHECK(proc_status(c.pid, "CapPrm", v, sizeof v) && !strcmp(v, "000000008800001b"));
	CHECK(proc_status(c.pid, "CapInh", v, sizeof v) && !strcmp(v, "0000000000000000"));
	CHECK(proc_status(c.pid, "CapAmb", v, sizeof v) && !strcmp(v, "0000000000000000"));
	snprintf(p, sizeof p, "/proc/%d/ns/net", (int)c.pid);
	same_inode(p, "/proc/self/ns/net", false);
	snprintf(p, sizeof p, "/proc/%d/ns/mnt", (int)c.pid);
	same_inode(p, "/proc/self/ns/mnt", false);
	snprintf(p, sizeof p, "/proc/%d/root", (int)c.pid);
	same_inode(p, dir, true);
	snprintf(p, sizeof p, "/proc/%d/mountinfo", (int)c.pid);
	char *mi = tl_read_file(p, NULL);
	CHECK(mi);
	/* pivoted: one mount left, the layer, nosuid,nodev,noexec */
	if (expect_pivot)
		CHECK(strchr(mi, '\n') == mi + strlen(mi) - 1 && strstr(mi, "nosuid,nodev,noexec"));
	free(mi);

	int fd = open(tarp, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		CHECK(write(pipefd[1], buf, (size_t)n) == n);
	close(fd);
	close(pipefd[1]);
	struct unpack_result res;
	int r = unpack_spawn_finish(&c, 60000, &res, &err);
	if (r < 0)
		fprintf(stderr, "  unpack: %s\n", err.msg);
	CHECK_RC(r);
	tl_path(p, sizeof p, dir, "hello");
	char *data = tl_read_file(p, NULL);
	CHECK(data && !strcmp(data, "hi"));
	free(data);
	char want[UNPACK_DIGEST_LEN];
	tl_sha256_file(tarp, want);
	CHECK(!strcmp(res.diff_id, want));
}

TEST(unpack_child_confined)
{
	inspect_child(true);
}

/* Under Landlock (as imaged runs) mount and pivot_root are refused: the
 * child must fall back to chroot and still be confined. */
TEST(unpack_child_confined_landlocked)
{
	if (landlock_abi() < 1) {
		fprintf(stderr, "  no Landlock: nothing to test\n");
		return;
	}
	const char *rw[] = { unit_tmpdir(), NULL };
	const char *rx[] = { "/", NULL };
	struct landlock_rules rules = { .rw = rw, .ro = rx, .exec = rx };
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK_RC(landlock_restrict(&rules));
	inspect_child(false);
}

/* A child that gets garbage, or dies, is reported, never a success. */
TEST(unpack_child_garbage_and_death)
{
	char dir[4096], blob[4096];
	tl_path(dir, sizeof dir, unit_tmpdir(), "root");
	tl_path(blob, sizeof blob, unit_tmpdir(), "blob");
	CHECK(mkdir(dir, 0755) == 0);
	tl_write_file(blob, "not a tar at all, not even close. ", 34);
	struct unpack_result res;
	struct unpack_error err;
	CHECK(tl_unpack(dir, blob, UNPACK_COMP_AUTO, NULL, true, &res, &err) < 0);
	CHECK(err.code == UNPACK_ERR_INVALID);

	int pipefd[2];
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
	struct unpack_spawn s = { .layer_dir = dir, .blob_fd = pipefd[0] };
	struct unpack_child c;
	CHECK_RC(unpack_spawn_start(&s, &c, &err));
	close(pipefd[0]);
	wait_sandboxed(c.pid);
	CHECK(kill(c.pid, SIGKILL) == 0);
	CHECK(unpack_spawn_finish(&c, 60000, &res, &err) < 0);
	CHECK(err.code == UNPACK_ERR_SYSTEM && strstr(err.msg, "signal 9"));
	close(pipefd[1]);

	/* a child that never answers is killed at the timeout */
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
	s.blob_fd = pipefd[0];
	CHECK_RC(unpack_spawn_start(&s, &c, &err));
	close(pipefd[0]);
	CHECK(unpack_spawn_finish(&c, 300, &res, &err) < 0);
	CHECK(err.code == UNPACK_ERR_SYSTEM && err.err == -ETIMEDOUT);
	close(pipefd[1]);
}
