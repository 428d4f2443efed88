/*
 * test_fsutil: common/fsutil.c: path joins, directories made and fixed in
 * place, lock files, capped reads, atomic writes, executable checks; and
 * the suite's directories from common/proc.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/proc.h"
#include "tests/unit/unit.h"

static void path_in_tmp(char *buf, size_t len, const char *name)
{
	CHECK_RC(fs_path_join(buf, len, unit_tmpdir(), name));
}

static mode_t mode_of(const char *p)
{
	struct stat st;
	CHECK(lstat(p, &st) == 0);
	return st.st_mode & 07777;
}

TEST(fsutil_paths)
{
	char b[16];
	CHECK_RC(fs_path_join(b, sizeof b, "/a/", "/b"));
	CHECK(strcmp(b, "/a/b") == 0);
	CHECK_RC(fs_path_join(b, sizeof b, "/", "x"));
	CHECK(strcmp(b, "/x") == 0);
	CHECK(fs_path_join(b, sizeof b, "/a-long-directory", "file") == -ENAMETOOLONG);
	CHECK_RC(fs_dirname("/run/crisp/crisp.sock", b, sizeof b));
	CHECK(strcmp(b, "/run/crisp") == 0);
	CHECK_RC(fs_dirname("/x", b, sizeof b));
	CHECK(strcmp(b, "/") == 0);
	CHECK_RC(fs_dirname("x", b, sizeof b));
	CHECK(strcmp(b, ".") == 0);
	CHECK_RC(fs_dirname("a/b//", b, sizeof b));
	CHECK(strcmp(b, "a") == 0);
	char self[PATH_MAX];
	CHECK_RC(fs_self_dir(self, sizeof self));
	CHECK(self[0] == '/');
}

TEST(fsutil_dirs_made_and_fixed_in_place)
{
	char p[PATH_MAX], f[PATH_MAX];
	path_in_tmp(p, sizeof p, "a/b/c");
	CHECK_RC(fs_mkdir_p(p, 0755));
	CHECK_RC(fs_mkdir_p(p, 0755));                  /* again: fine */
	CHECK_RC(fs_path_join(f, sizeof f, p, "keep"));
	CHECK(close(open(f, O_CREAT | O_WRONLY, 0600)) == 0);
	CHECK(chmod(p, 0777) == 0);

	int fd;
	CHECK_RC(fs_open_dir(AT_FDCWD, p, FS_DIR_CREATE, 0700, &fd));
	CHECK_RC(fs_fix_owner_mode(fd, 1234, 1234, 0710));
	close(fd);
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_uid == 1234 && st.st_gid == 1234);
	CHECK(mode_of(p) == 0710);
	CHECK(access(f, F_OK) == 0);                    /* contents kept */

	/* a symlink is refused with NOFOLLOW, a file is not a dir */
	char l[PATH_MAX];
	path_in_tmp(l, sizeof l, "link");
	CHECK(symlink(p, l) == 0);
	CHECK(fs_open_dir(AT_FDCWD, l, FS_DIR_NOFOLLOW, 0, &fd) == -ELOOP);
	CHECK_RC(fs_open_dir(AT_FDCWD, l, 0, 0, &fd));
	close(fd);
	CHECK(fs_open_dir(AT_FDCWD, f, FS_DIR_CREATE, 0700, &fd) == -ENOTDIR);
	CHECK(fs_mkdir_p(f, 0755) == -ENOTDIR);
}

TEST(fsutil_lock_file)
{
	char p[PATH_MAX];
	path_in_tmp(p, sizeof p, "x.lock");
	int a, b;
	CHECK_RC(fs_lock_file(AT_FDCWD, p, &a));
	CHECK(fcntl(a, F_GETFD) & FD_CLOEXEC);
	/* a second open file cannot take it, even in the same process */
	CHECK(fs_lock_file(AT_FDCWD, p, &b) == -EBUSY);
	pid_t holder = 0;
	CHECK_RC(fs_lock_holder(AT_FDCWD, p, &holder));
	CHECK(holder == getpid());
	close(a);
	CHECK_RC(fs_lock_file(AT_FDCWD, p, &b));        /* released with the fd */
	close(b);
}

TEST(fsutil_read_capped)
{
	char p[PATH_MAX];
	path_in_tmp(p, sizeof p, "data");
	CHECK_RC(fs_write_file_atomic(AT_FDCWD, p, "0123456789", 10, 0640));
	CHECK(mode_of(p) == 0640);
	char *buf = NULL;
	size_t len = 0;
	CHECK_RC(fs_read_file(AT_FDCWD, p, 10, &buf, &len));
	CHECK(len == 10 && strcmp(buf, "0123456789") == 0);
	free(buf);
	buf = NULL;
	CHECK(fs_read_file(AT_FDCWD, p, 9, &buf, &len) == -EFBIG);
	CHECK(buf == NULL);
	CHECK(fs_read_file(AT_FDCWD, "/nonexistent/x", 9, &buf, &len) == -ENOENT);

	/* a pipe: no size known in advance, still capped */
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	char big[10000];
	memset(big, 'z', sizeof big);
	CHECK(write(pfd[1], big, sizeof big) == (ssize_t)sizeof big);
	close(pfd[1]);
	CHECK(fs_read_fd(pfd[0], 9999, &buf, &len) == -EFBIG);
	close(pfd[0]);

	/* atomic write replaces, leaves no temporary behind */
	CHECK_RC(fs_write_file_atomic(AT_FDCWD, p, "new", 3, 0600));
	CHECK_RC(fs_read_file(AT_FDCWD, p, 100, &buf, &len));
	CHECK(len == 3 && strcmp(buf, "new") == 0);
	free(buf);
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", unit_tmpdir());
	CHECK(system(cmd) == 0);
}

TEST(fsutil_check_executable)
{
	char p[PATH_MAX];
	path_in_tmp(p, sizeof p, "tool");
	CHECK_RC(fs_write_file_atomic(AT_FDCWD, p, "#!/bin/sh\n", 10, 0644));
	CHECK(fs_check_executable(AT_FDCWD, p) == -EACCES);
	CHECK(chmod(p, 0755) == 0);
	CHECK_RC(fs_check_executable(AT_FDCWD, p));
	CHECK(fs_check_executable(AT_FDCWD, unit_tmpdir()) == -EISDIR);
	CHECK(fs_check_executable(AT_FDCWD, "/dev/null") == -EINVAL);
	path_in_tmp(p, sizeof p, "none");
	CHECK(fs_check_executable(AT_FDCWD, p) == -ENOENT);
}

TEST(proc_dirs_fixed_not_wiped)
{
	char root[PATH_MAX], run[PATH_MAX], p[PATH_MAX];
	path_in_tmp(root, sizeof root, "root");
	path_in_tmp(run, sizeof run, "deep/run");
	CHECK_RC(proc_prepare_root(root));
	CHECK(mode_of(root) == 0711);
	CHECK(chmod(root, 0700) == 0);
	CHECK_RC(proc_prepare_root(root));
	CHECK(mode_of(root) == 0700);                   /* 0700 is kept */
	CHECK(chmod(root, 0777) == 0);
	CHECK_RC(fs_path_join(p, sizeof p, root, "state"));
	CHECK(mkdir(p, 0700) == 0);
	CHECK_RC(proc_prepare_root(root));
	CHECK(mode_of(root) == 0711 && access(p, F_OK) == 0);

	CHECK_RC(proc_prepare_runroot(run, 4321, 4321));
	CHECK(mode_of(run) == 0755);
	CHECK_RC(fs_path_join(p, sizeof p, run, "internal"));
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_uid == 4321 && (st.st_mode & 07777) == 0700);
	CHECK(chmod(p, 0777) == 0 && chown(p, 0, 0) == 0);
	CHECK_RC(fs_path_join(p, sizeof p, run, "admin"));
	CHECK(stat(p, &st) == 0 && st.st_uid == 0 && (st.st_mode & 07777) == 0700);
	CHECK_RC(proc_prepare_runroot(run, 4321, 4321));
	CHECK_RC(fs_path_join(p, sizeof p, run, "internal"));
	CHECK(stat(p, &st) == 0 && st.st_uid == 4321 && (st.st_mode & 07777) == 0700);

	char sock[PATH_MAX];
	CHECK_RC(proc_internal_socket("/run/crisp", "imaged", sock, sizeof sock));
	CHECK(strcmp(sock, "/run/crisp/internal/imaged.sock") == 0);
	CHECK_RC(proc_admin_socket("/run/crisp", "sandboxd", sock, sizeof sock));
	CHECK(strcmp(sock, "/run/crisp/admin/sandboxd.sock") == 0);

	size_t n;
	const struct proc_desc *t = proc_table(&n);
	CHECK(n == 4 && strcmp(t[0].name, "imaged") == 0 && strcmp(t[3].name, "criserver") == 0);
	CHECK(proc_by_name("streamd") == &t[2] && proc_by_role(t[1].role) == &t[1]);
	CHECK(strcmp(proc_role_name(t[3].role), "criserver") == 0);
}

TEST(fsutil_make_reachable)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	path_in_tmp(a, sizeof a, "a");
	path_in_tmp(b, sizeof b, "a/b");
	path_in_tmp(c, sizeof c, "a/b/c");
	CHECK_RC(fs_mkdir_p(c, 0755));
	CHECK(chmod(a, 0700) == 0);                     /* other may not pass */
	CHECK(chown(b, 4321, 4321) == 0 && chmod(b, 0644) == 0);  /* its owner may not */
	CHECK(chmod(c, 0750) == 0);
	unsigned n = 99;
	CHECK_RC(fs_make_reachable(unit_tmpdir(), 4321, 4321, NULL));  /* the dirs above */
	CHECK_RC(fs_make_reachable(c, 4321, 4321, &n));
	CHECK(n == 3);
	CHECK(mode_of(a) == 0701);                      /* o+x only, no listing */
	CHECK(mode_of(b) == 0744);                      /* the owner's own bit */
	CHECK(mode_of(c) == 0751);
	CHECK_RC(fs_make_reachable(c, 4321, 4321, &n));
	CHECK(n == 0);                                  /* nothing left to do */
	CHECK(fs_make_reachable("relative", 1, 1, &n) == -EINVAL);
}

TEST(fsutil_write_file)
{
	char p[4096], *buf = NULL;
	snprintf(p, sizeof p, "%s/f", unit_tmpdir());
	CHECK_RC(fs_write_file(AT_FDCWD, p, "long text\n", 10, 0640));
	CHECK_RC(fs_write_file(AT_FDCWD, p, "short\n", 6, 0644));      /* truncated */
	CHECK_RC(fs_read_file(AT_FDCWD, p, 100, &buf, NULL));
	CHECK(!strcmp(buf, "short\n"));
	free(buf);
	struct stat st;
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644);
	/* never through a symlink */
	char l[4096];
	snprintf(l, sizeof l, "%s/l", unit_tmpdir());
	CHECK(symlink(p, l) == 0);
	CHECK(fs_write_file(AT_FDCWD, l, "x", 1, 0644) == -ELOOP);
}
