/*
 * test_oci_spec_user: sandboxd/oci's process.user: the image's User and
 * the security context's run_as_* resolved against the rootfs's own
 * etc/passwd and etc/group (also when they are symlinks, FIFOs, huge or
 * malformed), and the supplemental groups under Merge and Strict.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/status.h"
#include "tests/unit/test_oci_spec_lib.h"
#include "tests/unit/unit.h"

#define INVALID CRISP_STATUS_INVALID_ARGUMENT

/* The build's ids, and its groups as "a,b,c". */
static void expect_ids(struct t_spec *t, unsigned uid, unsigned gid, const char *groups)
{
	BUILD_OK(t);
	char got[256] = "";
	for (size_t i = 0; i < t->out.n_groups; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%u", i ? "," : "",
			 (unsigned)t->out.groups[i]);
	if (t->out.uid != uid || t->out.gid != gid || strcmp(got, groups) != 0) {
		fprintf(stderr, "  got %u:%u [%s], wanted %u:%u [%s]\n", (unsigned)t->out.uid,
			(unsigned)t->out.gid, got, uid, gid, groups);
		CHECK(0);
	}
	/* the spec says the same */
	CHECK(t_int(t, "process.user.uid") == uid && t_int(t, "process.user.gid") == gid);
	json_object *a = t_get(t, "process.user.additionalGids");
	CHECK(a && json_object_array_length(a) == t->out.n_groups);
	for (size_t i = 0; i < t->out.n_groups; i++)
		CHECK(json_object_get_int64(json_object_array_get_idx(a, i)) == t->out.groups[i]);
}

static void image_user(struct t_spec *t, const char *u, unsigned uid, unsigned gid,
		       const char *groups)
{
	t->image.user = (char *)u;
	expect_ids(t, uid, gid, groups);
}

TEST(oci_spec_user_image)
{
	struct t_spec t;
	t_init(&t);
	/* no user: root, with the groups that list root */
	expect_ids(&t, 0, 0, "0,10");
	image_user(&t, "alice", 1000, 1000, "29,44,1000");
	image_user(&t, "bob", 1001, 1001, "29,1001");
	image_user(&t, "1000", 1000, 1000, "29,44,1000");
	image_user(&t, "4242", 4242, 0, "0");           /* no entry: gid 0 */
	image_user(&t, "1000:5", 1000, 5, "5,29,44");   /* uid:gid looks up nothing but groups */
	image_user(&t, "alice:video", 1000, 44, "29,44");
	image_user(&t, "1001:audio", 1001, 29, "29");
	image_user(&t, "alice:77", 1000, 77, "29,44,77");
	image_user(&t, "daemon", 2, 2, "2");
	image_user(&t, ":44", 0, 44, "10,44");          /* empty part: 0, as containerd */
	t_done(&t);
}

TEST(oci_spec_user_image_errors)
{
	struct t_spec t;
	t_init(&t);
	t.image.user = "mallory";
	EXPECT_ERR(&t, t_build(&t), INVALID, "user \"mallory\" not found in the image's /etc/passwd");
	CHECK(strstr(t.err.msg, "image config User"));
	t.image.user = "alice:nogroup";
	EXPECT_ERR(&t, t_build(&t), INVALID, "group \"nogroup\" not found");
	t.image.user = "a:b:c";
	EXPECT_ERR(&t, t_build(&t), INVALID, "invalid user");
	t.image.user = "2147483648";
	EXPECT_ERR(&t, t_build(&t), INVALID, "out of range");
	t.image.user = "1000:99999999999";
	EXPECT_ERR(&t, t_build(&t), INVALID, "out of range");
	t.image.user = "2147483647";
	expect_ids(&t, 2147483647u, 0, "0");
	t_done(&t);
}

TEST(oci_spec_user_security_context)
{
	struct t_spec t;
	t_init(&t);
	t.image.user = "bob";           /* the request wins */
	t.sc.run_as_user = &t.run_as_user;
	t.run_as_user.value = 1000;
	expect_ids(&t, 1000, 1000, "29,44,1000");
	t.sc.run_as_group = &t.run_as_group;
	t.run_as_group.value = 7;
	expect_ids(&t, 1000, 7, "7,29,44");
	t.sc.run_as_username = "bob";   /* wins over run_as_user */
	expect_ids(&t, 1001, 7, "7,29");
	t.sc.run_as_group = NULL;
	expect_ids(&t, 1001, 1001, "29,1001");
	t.sc.run_as_username = "nobody-here";
	EXPECT_ERR(&t, t_build(&t), INVALID, "run_as_username: user \"nobody-here\" not found");
	t.sc.run_as_username = "";
	t.run_as_user.value = 5555;
	expect_ids(&t, 5555, 0, "0");
	t.run_as_user.value = -1;
	EXPECT_ERR(&t, t_build(&t), INVALID, "run_as_user: -1 out of range");
	t.run_as_user.value = 1LL << 31;
	EXPECT_ERR(&t, t_build(&t), INVALID, "run_as_user");
	/* a group without a user: refused (critest) */
	t.sc.run_as_user = NULL;
	t.sc.run_as_group = &t.run_as_group;
	EXPECT_ERR(&t, t_build(&t), INVALID, "run_as_group: set without run_as_user");
	t.sc.run_as_group = NULL;
	t.sc.run_as_user = &t.run_as_user;
	t.run_as_user.value = 0;
	expect_ids(&t, 0, 0, "0,10");
	t_done(&t);
}

TEST(oci_spec_user_supplemental_groups)
{
	struct t_spec t;
	t_init(&t);
	t.image.user = "alice";
	int64_t sup[] = { 5, 44, 3000 };
	t.sc.supplemental_groups = sup;
	t.sc.n_supplemental_groups = 3;
	/* Merge (the default): the image's groups and the requested ones */
	expect_ids(&t, 1000, 1000, "5,29,44,1000,3000");
	t.sc.supplemental_groups_policy = RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict;
	expect_ids(&t, 1000, 1000, "5,44,1000,3000");
	t.sc.n_supplemental_groups = 0;
	expect_ids(&t, 1000, 1000, "1000");
	t.sc.supplemental_groups_policy = 7;
	EXPECT_ERR(&t, t_build(&t), INVALID, "supplemental_groups_policy");
	t.sc.supplemental_groups_policy = RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Merge;
	int64_t bad[] = { 1, -5 };
	t.sc.supplemental_groups = bad;
	t.sc.n_supplemental_groups = 2;
	EXPECT_ERR(&t, t_build(&t), INVALID, "supplemental_groups[1]");
	t_done(&t);
}

TEST(oci_spec_user_no_passwd)
{
	struct t_spec t;
	t_init(&t);
	char p[PATH_MAX + 16];
	snprintf(p, sizeof p, "%s/etc/passwd", t.rootfs);
	CHECK(unlink(p) == 0);
	image_user(&t, "1000", 1000, 0, "0");   /* fine without the file */
	expect_ids(&t, 1000, 0, "0");
	t.image.user = "";
	expect_ids(&t, 0, 0, "0");              /* no file: no name for root's groups */
	t.image.user = "alice";
	EXPECT_ERR(&t, t_build(&t), INVALID, "the image has no /etc/passwd");
	/* nor /etc/group: a group name cannot be resolved */
	snprintf(p, sizeof p, "%s/etc/group", t.rootfs);
	CHECK(unlink(p) == 0);
	t.image.user = "1000:video";
	EXPECT_ERR(&t, t_build(&t), INVALID, "the image has no /etc/group");
	/* /etc itself a file */
	snprintf(p, sizeof p, "%s/etc", t.rootfs);
	CHECK(rmdir(p) == 0);
	t_write(t.rootfs, "etc", "x");
	image_user(&t, "1000", 1000, 0, "0");
	t_done(&t);
}

TEST(oci_spec_user_passwd_symlinks_stay_inside)
{
	struct t_spec t;
	t_init(&t);
	char p[PATH_MAX + 32];
	/* a relative symlink climbing far above the rootfs */
	snprintf(p, sizeof p, "%s/etc/passwd", t.rootfs);
	CHECK(unlink(p) == 0);
	CHECK(symlink("../../../../../../../../../../lib/pw", p) == 0);
	t_write(t.rootfs, "lib/pw", "carol:x:3000:3001::/:/bin/sh\n");
	image_user(&t, "carol", 3000, 3001, "50,3001");
	/* an absolute one */
	CHECK(unlink(p) == 0);
	CHECK(symlink("/lib/pw", p) == 0);
	image_user(&t, "carol", 3000, 3001, "50,3001");
	/* one to the host's own /etc/passwd (which has root, no alice): inside the
	 * rootfs that is etc/passwd itself again, a loop, never the host's file */
	CHECK(unlink(p) == 0);
	CHECK(symlink("/etc/passwd", p) == 0);
	t.image.user = "root";
	EXPECT_ERR(&t, t_build(&t), INVALID, "image /etc/passwd: cannot open it");
	/* a magic link: refused, not followed to the host */
	CHECK(unlink(p) == 0);
	CHECK(symlink("/proc/self/root/etc/passwd", p) == 0);
	EXPECT_ERR(&t, t_build(&t), INVALID, "the image has no /etc/passwd");
	t_write(t.rootfs, "proc/self/root/etc/passwd", "root:x:0:9\n");
	image_user(&t, "root", 0, 9, "9,10");  /* the rootfs's own proc/self/... */
	/* a target only the host has: missing */
	CHECK(unlink(p) == 0);
	CHECK(symlink("/etc/hostname", p) == 0);
	CHECK(access("/etc/hostname", F_OK) == 0);
	EXPECT_ERR(&t, t_build(&t), INVALID, "the image has no /etc/passwd");
	image_user(&t, "0", 0, 0, "0");
	t_done(&t);
}

TEST(oci_spec_user_passwd_hostile_files)
{
	struct t_spec t;
	t_init(&t);
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/etc/passwd", t.rootfs);
	/* 1 GiB (sparse): refused by its size, without reading it */
	int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CHECK(fd >= 0 && ftruncate(fd, 1LL << 30) == 0 && close(fd) == 0);
	t.image.user = "alice";
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	EXPECT_ERR(&t, t_build(&t), INVALID, "image /etc/passwd: too large");
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(b.tv_sec - a.tv_sec < 2);
	/* just over the cap */
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CHECK(fd >= 0 && ftruncate(fd, (4 << 20) + 1) == 0 && close(fd) == 0);
	EXPECT_ERR(&t, t_build(&t), INVALID, "too large");
	/* a FIFO: refused without blocking */
	CHECK(unlink(p) == 0 && mkfifo(p, 0644) == 0);
	EXPECT_ERR(&t, t_build(&t), INVALID, "image /etc/passwd: not a regular file");
	/* a directory */
	CHECK(unlink(p) == 0 && mkdir(p, 0755) == 0);
	EXPECT_ERR(&t, t_build(&t), INVALID, "not a regular file");
	CHECK(rmdir(p) == 0);
	/* a line over the cap */
	static char line[70 * 1024];
	memset(line, 'x', sizeof line - 2);
	line[sizeof line - 2] = '\n';
	t_write(t.rootfs, "etc/passwd", line);
	EXPECT_ERR(&t, t_build(&t), INVALID, "a line longer than");
	/* malformed ids are skipped, never read as 0 (root) */
	t_write(t.rootfs, "etc/passwd", "mallory:x:abc:0::/:/bin/sh\n"
		"eve:x::\n"
		"alice:x:1000:1000::/:/bin/sh\n"
		"eve:x:1005:1005\n");
	t.image.user = "mallory";
	EXPECT_ERR(&t, t_build(&t), INVALID, "user \"mallory\" not found");
	image_user(&t, "eve", 1005, 1005, "1005");      /* the first good line */
	image_user(&t, "alice", 1000, 1000, "29,44,1000");
	/* an entry with an id out of range */
	t_write(t.rootfs, "etc/passwd", "big:x:4294967294:0\n");
	t.image.user = "big";
	EXPECT_ERR(&t, t_build(&t), INVALID, "out of range");
	/* CRLF lines */
	t_write(t.rootfs, "etc/passwd", "dos:x:7:8::/:/bin/sh\r\n");
	image_user(&t, "dos", 7, 8, "8");
	t_done(&t);
}
