/*
 * test_unpack_remove: unpack_remove_tree removes what a (failed) unpack
 * leaves, whatever it is: deeper than RLIMIT_NOFILE levels, 0000 modes,
 * setuid files, devices, fifos, symlinks pointing out (never followed: the
 * canary they point at survives), and without leaking fds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "imaged/unpack.h"
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

#define DEPTH 3000

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	CHECK(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void fill_level(int fd, const char *canary)
{
	CHECK(symlinkat(canary, fd, "out") == 0);
	int f = openat(fd, "suid", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 04755);
	CHECK(f >= 0);
	close(f);
	CHECK(mknodat(fd, "wh", S_IFCHR, makedev(0, 0)) == 0);
	CHECK(mknodat(fd, "fifo", S_IFIFO | 0600, 0) == 0);
}

TEST(unpack_remove_tree_deep_and_hostile)
{
	const char *tmp = unit_tmpdir();
	char canary[4096], p[4096];
	tl_path(canary, sizeof canary, tmp, "canary");
	CHECK(mkdir(canary, 0755) == 0);
	tl_path(p, sizeof p, canary, "file");
	tl_write_file(p, "keep", 4);

	int tmpfd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(tmpfd >= 0);
	CHECK(mkdirat(tmpfd, "tree", 0755) == 0);
	int cur = openat(tmpfd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(cur >= 0);
	for (int i = 0; i < DEPTH; i++) {
		if (i % 100 == 0)
			fill_level(cur, canary);
		CHECK(mkdirat(cur, "d", i % 7 ? 0755 : 0) == 0);
		int next = openat(cur, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(next >= 0);
		close(cur);
		cur = next;
	}
	fill_level(cur, canary);
	close(cur);
	/* a symlink to the canary dir at the top, named like a directory */
	CHECK(symlinkat(canary, tmpfd, "tree-link") == 0);

	int fds = count_fds();
	CHECK_RC(unpack_remove_tree(tmpfd, "tree-link"));
	CHECK_RC(unpack_remove_tree(tmpfd, "tree"));
	CHECK(count_fds() == fds);
	struct stat st;
	CHECK(fstatat(tmpfd, "tree", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
	CHECK(fstatat(tmpfd, "tree-link", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
	CHECK(stat(p, &st) == 0 && st.st_size == 4);   /* canary/file still there */
	CHECK_RC(unpack_remove_tree(tmpfd, "tree"));   /* ENOENT is success */
	close(tmpfd);
}

/* A failed unpack leaves a tree unpack_remove_tree can take away. */
TEST(unpack_failed_layer_is_removable)
{
	const char *tmp = unit_tmpdir();
	char root[4096], tar[4096];
	tl_path(root, sizeof root, tmp, "layer");
	tl_path(tar, sizeof tar, tmp, "l.tar");
	CHECK(mkdir(root, 0755) == 0);
	struct archive *a = tl_tar_open(tar);
	tl_add(a, &(struct tl_entry){ .name = "ro", .type = S_IFDIR, .mode = 0500, .uid = 9 });
	tl_add(a, &(struct tl_entry){ .name = "ro/f", .mode = 04000, .data = "x", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "none", .type = S_IFDIR, .mode = 0 });
	tl_add(a, &(struct tl_entry){ .name = "none/dev", .type = S_IFBLK, .major = 8 });
	tl_add(a, &(struct tl_entry){ .name = "../escape", .data = "x", .size = 1 });
	tl_close(a);
	struct unpack_result res;
	struct unpack_error err;
	CHECK(tl_unpack(root, tar, UNPACK_COMP_NONE, NULL, true, &res, &err) < 0);
	CHECK(err.code == UNPACK_ERR_INVALID && strstr(err.msg, "'..'"));
	int tmpfd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(tmpfd >= 0);
	CHECK_RC(unpack_remove_tree(tmpfd, "layer"));
	struct stat st;
	CHECK(stat(root, &st) < 0 && errno == ENOENT);
	close(tmpfd);
}
