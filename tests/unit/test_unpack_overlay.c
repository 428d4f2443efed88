/*
 * test_unpack_overlay: whiteouts and opaque directories, as a real overlay
 * mount reads them. A base layer and an upper layer with OCI whiteouts are
 * unpacked (the upper one through the confined child), then mounted as
 * lowerdirs in this test's own mount namespace: with "userxattr" (what
 * crisp's overlay mounts must pass, UNPACK_OVERLAY_OPTS) the whiteouts and
 * the opaque directory hide the base's entries, read-only and with an upper
 * dir; without it the opaque mark is not seen (why the option is required).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <archive.h>
#include "imaged/unpack.h"
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

static void base_layer(const char *tar)
{
	struct archive *a = tl_tar_open(tar);
	tl_add(a, &(struct tl_entry){ .name = "a", .data = "a", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "b", .data = "b", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "d/x", .data = "x", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "d/sub/y", .data = "y", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "e/z", .data = "z", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "e/keep", .data = "k", .size = 1 });
	tl_close(a);
}

static void upper_layer(const char *tar)
{
	struct archive *a = tl_tar_open(tar);
	tl_add(a, &(struct tl_entry){ .name = ".wh.a" });
	tl_add(a, &(struct tl_entry){ .name = "d/.wh..wh..opq" });
	tl_add(a, &(struct tl_entry){ .name = "d/new", .data = "n", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "e/.wh.z" });
	tl_add(a, &(struct tl_entry){ .name = "f/.wh.nothing-below" });
	tl_close(a);
}

static bool exists(const char *dir, const char *name)
{
	char p[4096];
	struct stat st;
	tl_path(p, sizeof p, dir, name);
	return lstat(p, &st) == 0;
}

static void unpack_into(const char *dir, const char *tar, bool child)
{
	CHECK(mkdir(dir, 0755) == 0);
	struct unpack_result res;
	struct unpack_error err;
	int r = tl_unpack(dir, tar, UNPACK_COMP_AUTO, NULL, child, &res, &err);
	if (r < 0)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK_RC(r);
}

static void mount_overlay(const char *m, const char *l1, const char *l2, const char *extra)
{
	char opts[8192];
	snprintf(opts, sizeof opts, "lowerdir=%s:%s%s", l2, l1, extra);
	if (mount("overlay", m, "overlay", 0, opts) < 0) {
		fprintf(stderr, "  mount -o %s: %s\n", opts, strerror(errno));
		CHECK(!"overlay mount failed");
	}
}

TEST(unpack_whiteouts_under_overlay)
{
	const char *tmp = unit_tmpdir();
	char t1[1024], t2[1024], l1[1024], l2[1024], m[1024], up[1024], wk[1024], p[1024];
	tl_path(t1, sizeof t1, tmp, "1.tar");
	tl_path(t2, sizeof t2, tmp, "2.tar");
	tl_path(l1, sizeof l1, tmp, "l1");
	tl_path(l2, sizeof l2, tmp, "l2");
	tl_path(m, sizeof m, tmp, "m");
	tl_path(up, sizeof up, tmp, "up");
	tl_path(wk, sizeof wk, tmp, "wk");
	base_layer(t1);
	upper_layer(t2);
	unpack_into(l1, t1, false);
	unpack_into(l2, t2, true);

	/* the unpacked form itself */
	struct stat st;
	tl_path(p, sizeof p, l2, "a");
	CHECK(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	tl_path(p, sizeof p, l2, "d");
	char v[8];
	CHECK(getxattr(p, UNPACK_OPAQUE_XATTR, v, sizeof v) == 1 && v[0] == 'y');
	CHECK(!exists(l2, ".wh.a") && !exists(l2, "d/.wh..wh..opq") && exists(l2, "d/new"));

	CHECK(unshare(CLONE_NEWNS) == 0);
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK(mkdir(m, 0755) == 0 && mkdir(up, 0755) == 0 && mkdir(wk, 0755) == 0);

	mount_overlay(m, l1, l2, "," UNPACK_OVERLAY_OPTS);
	CHECK(!exists(m, "a") && exists(m, "b"));
	CHECK(exists(m, "d") && !exists(m, "d/x") && !exists(m, "d/sub") && exists(m, "d/new"));
	CHECK(exists(m, "e/keep") && !exists(m, "e/z"));
	CHECK(exists(m, "f") && !exists(m, "f/nothing-below"));
	CHECK(umount2(m, 0) == 0);

	/* read-write, as a container's rootfs is mounted */
	char extra[8192];
	snprintf(extra, sizeof extra, ",upperdir=%s,workdir=%s," UNPACK_OVERLAY_OPTS, up, wk);
	mount_overlay(m, l1, l2, extra);
	CHECK(!exists(m, "a") && !exists(m, "d/x") && exists(m, "d/new") && !exists(m, "e/z"));
	tl_path(p, sizeof p, m, "d/fresh");
	tl_write_file(p, "f", 1);
	CHECK(exists(up, "d/fresh"));
	CHECK(umount2(m, 0) == 0);

	/* without userxattr the opaque mark is ignored: d/x shows through */
	mount_overlay(m, l1, l2, "");
	CHECK(!exists(m, "a"));
	CHECK(exists(m, "d/x"));
	CHECK(umount2(m, 0) == 0);
}
