/*
 * test_store_usage: ImageFsInfo's numbers: bytes (st_blocks*512) and inodes
 * under ROOT/images, checked against du(1) (which also counts a hard-linked
 * inode once), growing with content, through a deep tree under a low fd
 * limit; and the short cache.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/unit/test_store_util.h"
#include "tests/unit/unit.h"

static uint64_t du(const char *opt)
{
	char cmd[PATH_MAX + 64];
	unsigned long long v = 0;

	snprintf(cmd, sizeof cmd, "du -s %s '%s/images'", opt, unit_tmpdir());
	FILE *p = popen(cmd, "r");
	CHECK(p);
	CHECK(fscanf(p, "%llu", &v) == 1);
	CHECK(pclose(p) == 0);
	return v;
}

static void check_matches_du(struct store *s)
{
	struct store_usage u;

	CHECK_RC(store_usage(s, &u));
	uint64_t bytes = du("--block-size=1"), inodes = du("--inodes");
	if (u.bytes != bytes || u.inodes != inodes)
		fprintf(stderr, "  usage %llu bytes %llu inodes, du %llu %llu\n",
			(unsigned long long)u.bytes, (unsigned long long)u.inodes,
			(unsigned long long)bytes, (unsigned long long)inodes);
	CHECK(u.bytes == bytes && u.inodes == inodes);
}

TEST(store_usage_counts_bytes_and_inodes)
{
	struct store *s = ts_open();
	struct store_usage before, after;
	size_t len = 1u << 20;
	char *data = malloc(len + 1), digest[DIGEST_STR_SIZE];

	check_matches_du(s);
	CHECK_RC(store_usage(s, &before));
	CHECK(before.inodes >= 7 && before.bytes > 0);  /* dirs, lock, db */
	for (size_t i = 0; i < len; i++)
		data[i] = (char)('a' + (i * 7 + i / 13) % 26);
	data[len] = '\0';
	ts_blob(s, data, NULL, digest);
	CHECK_RC(store_usage(s, &after));       /* the store changed: no cached answer */
	CHECK(after.inodes >= before.inodes + 1);
	CHECK(after.bytes >= before.bytes + len);
	CHECK(after.timestamp_ns > 0);
	check_matches_du(s);
	free(data);
	store_close(s);
}

TEST(store_usage_hardlinks_once_and_deep_trees)
{
	struct store *s = ts_open();
	struct store_layer_writer *w;
	struct rlimit rl = { 32, 32 };
	char diff_id[DIGEST_STR_SIZE], buf[65536];

	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	memset(buf, 'z', sizeof buf);
	CHECK_RC(store_layer_begin(s, &w));
	int d = store_layer_diff_fd(w);
	int fd = openat(d, "big", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, buf, sizeof buf) == (ssize_t)sizeof buf);
	close(fd);
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof name, "link%d", i);
		CHECK(linkat(d, "big", d, name, 0) == 0);
	}
	CHECK(symlinkat("/usr", d, "usr") == 0);        /* not followed */
	fd = dup(d);
	for (int i = 0; i < 300; i++) {                 /* deeper than the fd limit */
		CHECK(mkdirat(fd, "deep", 0755) == 0);
		int n = openat(fd, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(n >= 0);
		close(fd);
		fd = n;
	}
	close(fd);
	ts_digest_of("links", diff_id);
	CHECK_RC(store_layer_commit(w, diff_id, diff_id, NULL, sizeof buf, NULL));
	check_matches_du(s);
	struct store_usage u;
	CHECK_RC(store_usage(s, &u));
	CHECK(u.bytes < 2 * sizeof buf + 2u * 1024 * 1024);     /* "big" not counted 6 times */
	store_close(s);
}

TEST(store_usage_cache)
{
	struct store *s = ts_open();
	struct store_usage a, b, c;
	char digest[DIGEST_STR_SIZE], path[PATH_MAX];

	CHECK_RC(store_usage(s, &a));
	/* a file the store does not know about: the cache hides it briefly */
	snprintf(path, sizeof path, "%s/images/tmp/outside-the-api", unit_tmpdir());
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_RC(store_usage(s, &b));
	CHECK(b.timestamp_ns == a.timestamp_ns && b.inodes == a.inodes);
	/* a change through the store invalidates it at once */
	ts_blob(s, "new", NULL, digest);
	CHECK_RC(store_usage(s, &c));
	CHECK(c.timestamp_ns > a.timestamp_ns && c.inodes == a.inodes + 2);
	CHECK(unlink(path) == 0);
	store_close(s);
}
