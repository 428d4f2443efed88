/*
 * test_unpack_basic: what a layer holds survives unpacking, in process and
 * through the confined child (whose six capabilities must be enough):
 * owners, modes with setuid/setgid, times, xattrs (security.capability
 * included), hardlinks, symlinks, devices, fifos, directories updated and
 * replaced; the diff_id of plain, gzip, multi-member gzip and zstd layers;
 * declared-vs-actual compression, truncation and trailing garbage refused;
 * a GNU tar round trip (pax and gnu formats, sparse files, long names).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <archive.h>
#include "imaged/unpack.h"
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

/* security.capability v2: effective, permitted = CAP_NET_RAW (13) */
static const unsigned char cap_net_raw[20] = {
	0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void write_rich_tar(const char *path)
{
	struct archive *a = tl_tar_open(path);
	tl_add(a, &(struct tl_entry){ .name = "./", .type = S_IFDIR, .mode = 0755 });
	tl_add(a, &(struct tl_entry){ .name = "etc", .type = S_IFDIR, .mode = 0755,
				      .mtime = 1500000000 });
	tl_add(a, &(struct tl_entry){ .name = "etc/passwd", .data = "root:x:0:0", .size = 10,
				      .mtime = 1600000000, .mtime_ns = 123456789,
				      .atime = 1400000000 });
	tl_add(a, &(struct tl_entry){ .name = "bin/su", .mode = 04755, .data = "su", .size = 2 });
	tl_add(a, &(struct tl_entry){ .name = "usr/bin/sg", .mode = 02755, .uid = 1000,
				      .gid = 1000, .data = "sg", .size = 2 });
	tl_add(a, &(struct tl_entry){ .name = "usr/bin/ping", .mode = 0755, .data = "ping",
				      .size = 4, .xattrs = { { "security.capability",
							       cap_net_raw, 20 } } });
	tl_add(a, &(struct tl_entry){ .name = "usr/bin/ping2", .hardlink = "usr/bin/ping" });
	tl_add(a, &(struct tl_entry){ .name = "home/user", .type = S_IFDIR, .mode = 0700,
				      .uid = 1000, .gid = 1000, .mtime = 1300000000 });
	tl_add(a, &(struct tl_entry){ .name = "home/user/f", .mode = 0600, .uid = 1000,
				      .gid = 1000, .data = "mine", .size = 4,
				      .xattrs = { { "user.test", "hello", 5 },
						  { "trusted.no", "x", 1 } } });
	tl_add(a, &(struct tl_entry){ .name = "ro", .type = S_IFDIR, .mode = 0555,
				      .uid = 7, .gid = 7 });
	tl_add(a, &(struct tl_entry){ .name = "ro/f", .data = "in ro", .size = 5, .uid = 8 });
	tl_add(a, &(struct tl_entry){ .name = "lib", .type = S_IFLNK, .link = "usr/lib",
				      .uid = 5, .gid = 6, .mtime = 1234 });
	tl_add(a, &(struct tl_entry){ .name = "dev/null", .type = S_IFCHR, .mode = 0666,
				      .major = 1, .minor = 3 });
	tl_add(a, &(struct tl_entry){ .name = "dev/sda", .type = S_IFBLK, .mode = 0660,
				      .gid = 6, .major = 8, .minor = 0 });
	tl_add(a, &(struct tl_entry){ .name = "run/fifo", .type = S_IFIFO, .mode = 0620 });
	tl_add(a, &(struct tl_entry){ .name = "dir2", .type = S_IFDIR, .mode = 0755 });
	tl_add(a, &(struct tl_entry){ .name = "dir2/keep", .data = "k", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "dir2", .type = S_IFDIR, .mode = 0711, .uid = 3,
				      .mtime = 1100000000 });
	tl_add(a, &(struct tl_entry){ .name = "replace", .data = "file", .size = 4 });
	tl_add(a, &(struct tl_entry){ .name = "replace", .type = S_IFDIR, .mode = 0750 });
	tl_add(a, &(struct tl_entry){ .name = "d3", .type = S_IFDIR });
	tl_add(a, &(struct tl_entry){ .name = "d3/x", .data = "x", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "d3", .data = "now a file", .size = 10 });
	tl_close(a);
}

static struct stat must_lstat(const char *root, const char *name)
{
	char p[4096];
	struct stat st;
	tl_path(p, sizeof p, root, name);
	if (lstat(p, &st) < 0) {
		fprintf(stderr, "  lstat %s: %s\n", name, strerror(errno));
		CHECK(!"missing entry");
	}
	return st;
}

static void check_rich(const char *root)
{
	char p[4096], v[64];
	struct stat st = must_lstat(root, "etc/passwd");
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644 && st.st_size == 10);
	CHECK(st.st_mtim.tv_sec == 1600000000 && st.st_mtim.tv_nsec == 123456789);
	CHECK(st.st_atim.tv_sec == 1400000000);
	st = must_lstat(root, "etc");
	CHECK(S_ISDIR(st.st_mode) && st.st_mtim.tv_sec == 1500000000);
	st = must_lstat(root, "bin/su");
	CHECK((st.st_mode & 07777) == 04755 && st.st_uid == 0);
	st = must_lstat(root, "usr/bin/sg");
	CHECK((st.st_mode & 07777) == 02755 && st.st_uid == 1000 && st.st_gid == 1000);
	tl_path(p, sizeof p, root, "usr/bin/ping");
	CHECK(getxattr(p, "security.capability", v, sizeof v) == 20);
	CHECK(!memcmp(v, cap_net_raw, 20));
	struct stat ping = must_lstat(root, "usr/bin/ping");
	st = must_lstat(root, "usr/bin/ping2");
	CHECK(st.st_ino == ping.st_ino && ping.st_nlink == 2);
	st = must_lstat(root, "home/user");
	CHECK((st.st_mode & 07777) == 0700 && st.st_uid == 1000);
	CHECK(st.st_mtim.tv_sec == 1300000000); /* set after home/user/f was written */
	tl_path(p, sizeof p, root, "home/user/f");
	CHECK(getxattr(p, "user.test", v, sizeof v) == 5 && !memcmp(v, "hello", 5));
	CHECK(getxattr(p, "trusted.no", v, sizeof v) < 0 && errno == ENODATA);
	st = must_lstat(root, "ro");
	CHECK((st.st_mode & 07777) == 0555 && st.st_uid == 7);
	st = must_lstat(root, "ro/f");
	CHECK(st.st_uid == 8);
	st = must_lstat(root, "lib");
	CHECK(S_ISLNK(st.st_mode) && st.st_uid == 5 && st.st_gid == 6);
	CHECK(st.st_mtim.tv_sec == 1234);
	st = must_lstat(root, "dev/null");
	CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) && (st.st_mode & 0777) == 0666);
	st = must_lstat(root, "dev/sda");
	CHECK(S_ISBLK(st.st_mode) && st.st_rdev == makedev(8, 0) && st.st_gid == 6);
	st = must_lstat(root, "run/fifo");
	CHECK(S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0620);
	st = must_lstat(root, "dir2");
	CHECK((st.st_mode & 07777) == 0711 && st.st_uid == 3 && st.st_mtim.tv_sec == 1100000000);
	must_lstat(root, "dir2/keep");
	st = must_lstat(root, "replace");
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750);
	st = must_lstat(root, "d3");
	CHECK(S_ISREG(st.st_mode) && st.st_size == 10);
}

static void rich(bool child)
{
	char root[4096], tar[4096], want[UNPACK_DIGEST_LEN];
	tl_path(root, sizeof root, unit_tmpdir(), "root");
	tl_path(tar, sizeof tar, unit_tmpdir(), "l.tar");
	CHECK(mkdir(root, 0755) == 0);
	write_rich_tar(tar);
	struct unpack_result res;
	struct unpack_error err;
	int r = tl_unpack(root, tar, UNPACK_COMP_NONE, NULL, child, &res, &err);
	if (r < 0)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK_RC(r);
	check_rich(root);
	tl_sha256_file(tar, want);
	CHECK(!strcmp(res.diff_id, want));
	CHECK(res.entries == 23 && res.xattrs_skipped == 1);
	struct stat st;
	CHECK(stat(tar, &st) == 0 && res.tar_size == (uint64_t)st.st_size);
	CHECK(res.compressed_size == res.tar_size);
}

TEST(unpack_keeps_metadata_in_process)
{
	rich(false);
}

TEST(unpack_keeps_metadata_child)
{
	rich(true);
}

/* The same layer plain, gzip, zstd, auto-detected, and as two gzip
 * members: one diff_id, the sha256 of the plain tar. */
TEST(unpack_compressions_diff_id)
{
	const char *tmp = unit_tmpdir();
	char tar[4096], gz[4096], zs[4096], gz2[4096], want[UNPACK_DIGEST_LEN];
	tl_path(tar, sizeof tar, tmp, "l.tar");
	tl_path(gz, sizeof gz, tmp, "l.tar.gz");
	tl_path(zs, sizeof zs, tmp, "l.tar.zst");
	tl_path(gz2, sizeof gz2, tmp, "l2.tar.gz");
	write_rich_tar(tar);
	tl_gzip_file(tar, gz);
	tl_zstd_file(tar, zs);
	tl_sha256_file(tar, want);
	/* two members: the first 1000 bytes, then the rest */
	size_t total, len1, len2;
	char *data = tl_read_file(tar, &total), half[4096];
	tl_path(half, sizeof half, tmp, "half");
	tl_write_file(half, data, 1000);
	tl_gzip_file(half, gz2);
	char *m1 = tl_read_file(gz2, &len1);
	tl_write_file(half, data + 1000, total - 1000);
	tl_gzip_file(half, gz2);
	char *m2 = tl_read_file(gz2, &len2);
	char *both = malloc(len1 + len2);
	CHECK(both && m1 && m2);
	memcpy(both, m1, len1);
	memcpy(both + len1, m2, len2);
	tl_write_file(gz2, both, len1 + len2);
	free(both);
	free(m1);
	free(m2);
	free(data);

	const struct { const char *blob; enum unpack_compression comp; bool child; } v[] = {
		{ tar, UNPACK_COMP_NONE, false }, { gz, UNPACK_COMP_GZIP, false },
		{ zs, UNPACK_COMP_ZSTD, false }, { zs, UNPACK_COMP_AUTO, false },
		{ gz, UNPACK_COMP_AUTO, false }, { gz2, UNPACK_COMP_GZIP, false },
		{ gz, UNPACK_COMP_GZIP, true }, { zs, UNPACK_COMP_ZSTD, true },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char root[4096];
		snprintf(root, sizeof root, "%s/root%zu", tmp, i);
		CHECK(mkdir(root, 0755) == 0);
		struct unpack_result res;
		struct unpack_error err;
		int r = tl_unpack(root, v[i].blob, v[i].comp, NULL, v[i].child, &res, &err);
		if (r < 0)
			fprintf(stderr, "  case %zu: %s\n", i, err.msg);
		CHECK_RC(r);
		CHECK(!strcmp(res.diff_id, want));
		check_rich(root);
		struct stat st;
		CHECK(stat(v[i].blob, &st) == 0 && res.compressed_size == (uint64_t)st.st_size);
	}
}

static void expect_invalid(const char *blob, enum unpack_compression comp, const char *what)
{
	char root[4096];
	static int n;
	snprintf(root, sizeof root, "%s/bad%d", unit_tmpdir(), n++);
	CHECK(mkdir(root, 0755) == 0);
	struct unpack_result res;
	struct unpack_error err;
	int r = tl_unpack(root, blob, comp, NULL, false, &res, &err);
	if (r == 0 || err.code != UNPACK_ERR_INVALID || !strstr(err.msg, what)) {
		fprintf(stderr, "  wanted INVALID '%s', got %d: %s\n", what, r, err.msg);
		CHECK(!"wrong outcome");
	}
}

TEST(unpack_refuses_bad_streams)
{
	const char *tmp = unit_tmpdir();
	char tar[4096], gz[4096], zs[4096], cut[4096];
	tl_path(tar, sizeof tar, tmp, "l.tar");
	tl_path(gz, sizeof gz, tmp, "l.tar.gz");
	tl_path(zs, sizeof zs, tmp, "l.tar.zst");
	tl_path(cut, sizeof cut, tmp, "cut");
	write_rich_tar(tar);
	tl_gzip_file(tar, gz);
	tl_zstd_file(tar, zs);
	expect_invalid(gz, UNPACK_COMP_ZSTD, "declared as zstd but its content is gzip");
	expect_invalid(tar, UNPACK_COMP_GZIP, "declared as gzip but its content is tar");
	expect_invalid(zs, UNPACK_COMP_NONE, "declared as tar but its content is zstd");
	size_t len;
	char *d = tl_read_file(gz, &len);
	tl_write_file(cut, d, len - 20);
	expect_invalid(cut, UNPACK_COMP_GZIP, "truncated");
	char *g = malloc(len + 5);
	memcpy(g, d, len);
	memcpy(g + len, "junk!", 5);
	tl_write_file(cut, g, len + 5);
	expect_invalid(cut, UNPACK_COMP_GZIP, "gzip");
	free(g), free(d);
	d = tl_read_file(zs, &len);
	tl_write_file(cut, d, len - 10);
	expect_invalid(cut, UNPACK_COMP_ZSTD, "truncated");
	free(d);
	d = tl_read_file(tar, &len);
	tl_write_file(cut, d, 1500);            /* inside etc/passwd's header/data */
	expect_invalid(cut, UNPACK_COMP_NONE, "");
	d[148] ^= 0x55;                        /* the first header's checksum */
	tl_write_file(cut, d, len);
	expect_invalid(cut, UNPACK_COMP_NONE, "");
	free(d);
}

TEST(unpack_media_types)
{
	enum unpack_compression c;
	CHECK(unpack_compression_from_media_type("application/vnd.oci.image.layer.v1.tar+gzip", &c) == 0 && c == UNPACK_COMP_GZIP);
	CHECK(unpack_compression_from_media_type("application/vnd.oci.image.layer.v1.tar+zstd", &c) == 0 && c == UNPACK_COMP_ZSTD);
	CHECK(unpack_compression_from_media_type("application/vnd.oci.image.layer.v1.tar", &c) == 0 && c == UNPACK_COMP_NONE);
	CHECK(unpack_compression_from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip", &c) == 0 && c == UNPACK_COMP_GZIP);
	CHECK(unpack_compression_from_media_type("application/vnd.oci.image.layer.v1.tar+bzip2", &c) == -EPROTONOSUPPORT);
	CHECK(unpack_compression_parse("zstd", &c) == 0 && c == UNPACK_COMP_ZSTD);
	CHECK(unpack_compression_parse("lz4", &c) == -EINVAL);
}

/* GNU tar writes what real layers are made of; the tree must come back the
 * same (snapshots: modes, owners, sizes, times, contents, xattrs, links). */
static void gnu_roundtrip(const char *format)
{
	const char *tmp = unit_tmpdir();
	char src[1024], dst[1024], tar[1024], cmd[8192];
	tl_path(src, sizeof src, tmp, "src");
	tl_path(dst, sizeof dst, tmp, format);
	tl_path(tar, sizeof tar, tmp, "gnu.tar");
	CHECK(mkdir(dst, 0755) == 0);
	const char *xattrs = strcmp(format, "posix") ? "" : "--xattrs"; /* pax only */
	snprintf(cmd, sizeof cmd,
		 "set -e; rm -rf '%1$s'; mkdir -p '%1$s/a/b/c' '%1$s/empty';"
		 "cd '%1$s'; printf data > a/f; ln a/f a/hard; ln -s ../a/f a/b/sym;"
		 "truncate -s 50M sparse; printf end >> sparse; printf x | dd of=sparse bs=1 seek=1048576 conv=notrunc 2>/dev/null;"
		 "mkdir -p %2$s; echo long > %2$s/%3$s;"
		 "chown 1234:5678 a/f; chmod 4750 a/f; chmod 2711 a/b; mkfifo fifo;"
		 "printf 'caf\\303\\251' > \"$(printf 'na\\303\\257ve')\";"
		 "find . -exec touch -h -d @1600000000 {} +;"
		 "tar --numeric-owner %6$s --sparse --format=%4$s -C '%1$s' -cf '%5$s' .",
		 src, "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
		 "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm",
		 format, tar, xattrs);
	CHECK(system(cmd) == 0);
	char s[4096];
	tl_path(s, sizeof s, src, "a/f");
	if (*xattrs)
		CHECK(setxattr(s, "user.origin", "gnu", 3, 0) == 0);
	snprintf(cmd, sizeof cmd, "touch -h -d @1600000000 '%s/a' && tar --numeric-owner "
		 "%s --sparse --format=%s -C '%s' -cf '%s' .", src, xattrs, format, src, tar);
	CHECK(system(cmd) == 0);
	struct unpack_result res;
	struct unpack_error err;
	int r = tl_unpack(dst, tar, UNPACK_COMP_NONE, NULL, true, &res, &err);
	if (r < 0)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK_RC(r);
	char *a = tl_snapshot(src, NULL), *b = tl_snapshot(dst, NULL);
	if (strcmp(a, b))
		fprintf(stderr, "--- source\n%s--- unpacked\n%s", a, b);
	CHECK(!strcmp(a, b));
	struct stat st;
	tl_path(s, sizeof s, dst, "sparse");
	CHECK(stat(s, &st) == 0 && st.st_size == 50 * 1048576 + 3);
	CHECK(st.st_blocks * 512 < 4 * 1048576);        /* the holes stayed holes */
	free(a), free(b);
}

TEST(unpack_gnu_tar_roundtrip_posix)
{
	gnu_roundtrip("posix");
}

TEST(unpack_gnu_tar_roundtrip_gnu)
{
	gnu_roundtrip("gnu");
}

/* Docker's and BuildKit's empty layer: 1024 zero bytes, gzipped. Its
 * diff_id is well known. */
TEST(unpack_empty_layer)
{
	char tar[4096], gz[4096], root[4096];
	tl_path(tar, sizeof tar, unit_tmpdir(), "empty.tar");
	tl_path(gz, sizeof gz, unit_tmpdir(), "empty.tar.gz");
	tl_path(root, sizeof root, unit_tmpdir(), "root");
	static const char zeros[1024];
	tl_write_file(tar, zeros, sizeof zeros);
	tl_gzip_file(tar, gz);
	CHECK(mkdir(root, 0755) == 0);
	struct unpack_result res;
	struct unpack_error err;
	CHECK_RC(tl_unpack(root, gz, UNPACK_COMP_GZIP, NULL, true, &res, &err));
	CHECK(res.entries == 0 && res.tar_size == 1024);
	CHECK(!strcmp(res.diff_id, "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"));
}
