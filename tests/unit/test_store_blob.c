/*
 * test_store_blob: the store's layout and blobs: streaming commit, digest
 * and size mismatches that leave nothing, the size cap, commits racing on
 * one blob from two threads, reading back, the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/unit/test_store_util.h"
#include "tests/unit/unit.h"

static mode_t mode_of(const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof path, "%s/images/%s", unit_tmpdir(), rel);
	CHECK(lstat(path, &st) == 0);
	return st.st_mode & 07777;
}

TEST(store_layout_is_root_only)
{
	struct store *s = ts_open();
	char want[PATH_MAX];

	snprintf(want, sizeof want, "%s/images", unit_tmpdir());
	CHECK(strcmp(store_path(s), want) == 0);
	CHECK(mode_of("") == 0700);
	CHECK(mode_of("blobs") == 0700 && mode_of("blobs/sha256") == 0700);
	CHECK(mode_of("layers") == 0700 && mode_of("layers/sha256") == 0700);
	CHECK(mode_of("tmp") == 0700);
	CHECK(ts_exists("images.db"));
	store_close(s);

	/* a loosened mode is put back at the next open */
	snprintf(want, sizeof want, "%s/images/tmp", unit_tmpdir());
	CHECK(chmod(want, 0777) == 0);
	s = ts_open();
	CHECK(mode_of("tmp") == 0700);
	store_close(s);
}

TEST(store_open_is_exclusive)
{
	struct store *s = ts_open(), *t = NULL;

	CHECK(store_open(unit_tmpdir(), &t, NULL) == -EBUSY);
	CHECK(t == NULL);
	store_close(s);
	s = ts_open();          /* the lock went with the first store */
	store_close(s);
}

TEST(store_blob_stream_commit)
{
	struct store *s = ts_open();
	struct store_blob_writer *w;
	char digest[DIGEST_STR_SIZE], *buf;
	size_t len;
	uint64_t size;

	ts_digest_of("hello, blob", digest);
	CHECK(store_blob_exists(s, digest) == 0);
	CHECK_RC(store_blob_begin(s, digest, 11, 1024, NULL, &w));
	CHECK(ts_count("tmp") == 1);            /* the temp file, in tmp/ */
	CHECK_RC(store_blob_write(w, "hello", 5));
	CHECK_RC(store_blob_write(w, ", ", 2));
	CHECK_RC(store_blob_write(w, "blob", 4));
	CHECK(store_blob_written(w) == 11);
	CHECK(store_blob_exists(s, digest) == 0);       /* not before commit */
	CHECK_RC(store_blob_commit(w));
	CHECK(store_blob_exists(s, digest) == 1);
	CHECK(ts_count("blobs/sha256") == 1);
	CHECK(ts_count("tmp") == 0);
	CHECK_RC(store_blob_size(s, digest, &size));
	CHECK(size == 11);
	CHECK_RC(store_blob_read(s, digest, 100, &buf, &len));
	CHECK(len == 11 && strcmp(buf, "hello, blob") == 0);
	free(buf);
	CHECK(store_blob_read(s, digest, 10, &buf, &len) == -EFBIG);

	/* committing it again is a no-op success */
	CHECK_RC(store_blob_put(s, digest, "hello, blob", 11, NULL));
	CHECK(ts_count("blobs/sha256") == 1 && ts_count("tmp") == 0);
	store_close(s);
}

TEST(store_blob_mismatch_leaves_nothing)
{
	struct store *s = ts_open();
	struct store_blob_writer *w;
	char digest[DIGEST_STR_SIZE];
	uint64_t size;

	ts_digest_of("the real content", digest);
	/* wrong bytes, right length */
	CHECK_RC(store_blob_begin(s, digest, 16, 0, NULL, &w));
	CHECK_RC(store_blob_write(w, "the fake content", 16));
	CHECK(store_blob_commit(w) == -EBADMSG);
	/* right bytes, announced size wrong (too short) */
	CHECK_RC(store_blob_begin(s, digest, 17, 0, NULL, &w));
	CHECK_RC(store_blob_write(w, "the real content", 16));
	CHECK(store_blob_commit(w) == -EBADMSG);
	/* truncated stream */
	CHECK_RC(store_blob_begin(s, digest, -1, 0, NULL, &w));
	CHECK_RC(store_blob_write(w, "the real", 8));
	CHECK(store_blob_commit(w) == -EBADMSG);
	CHECK(store_blob_put(s, digest, "the real contenT", 16, NULL) == -EBADMSG);
	CHECK(ts_count("tmp") == 0 && ts_count("blobs/sha256") == 0);
	CHECK(store_blob_exists(s, digest) == 0);
	CHECK(store_blob_size(s, digest, &size) == -ENOENT);
	/* abort, too */
	CHECK_RC(store_blob_begin(s, digest, -1, 0, NULL, &w));
	CHECK_RC(store_blob_write(w, "the real content", 16));
	store_blob_abort(w);
	CHECK(ts_count("tmp") == 0 && ts_count("blobs/sha256") == 0);
	/* malformed digests never reach the filesystem */
	CHECK(store_blob_begin(s, "sha256:../../etc/passwd", -1, 0, NULL, &w) == -EINVAL);
	CHECK(store_blob_begin(s, "sha512:abcd", -1, 0, NULL, &w) == -EOPNOTSUPP);
	CHECK(store_blob_exists(s, "md5:x") == -EOPNOTSUPP);
	CHECK(store_blob_exists(s, "nonsense") == -EINVAL);
	store_close(s);
}

TEST(store_blob_size_cap)
{
	struct store *s = ts_open();
	struct store_blob_writer *w;
	char digest[DIGEST_STR_SIZE];
	char chunk[100];

	memset(chunk, 'x', sizeof chunk);
	ts_digest_of("irrelevant", digest);
	/* an announced size over the cap fails before any byte */
	CHECK(store_blob_begin(s, digest, 1001, 1000, NULL, &w) == -EFBIG);
	CHECK(ts_count("tmp") == 0);
	/* unknown size: the cap trips on the write that crosses it */
	CHECK_RC(store_blob_begin(s, digest, -1, 1000, NULL, &w));
	for (int i = 0; i < 10; i++)
		CHECK_RC(store_blob_write(w, chunk, sizeof chunk));
	CHECK(store_blob_written(w) == 1000);
	CHECK(store_blob_write(w, chunk, 1) == -EFBIG);
	CHECK(store_blob_write(w, chunk, 1) == -EINVAL);        /* stays failed */
	CHECK(store_blob_commit(w) == -EINVAL);
	CHECK(ts_count("tmp") == 0);
	/* announced size: more bytes than announced trips too */
	CHECK_RC(store_blob_begin(s, digest, 50, 1000, NULL, &w));
	CHECK(store_blob_write(w, chunk, 51) == -EFBIG);
	store_blob_abort(w);
	CHECK(ts_count("tmp") == 0 && ts_count("blobs/sha256") == 0);
	store_close(s);
}

struct racer {
	struct store *s;
	const char *digest;
	const char *data;
	size_t len;
	pthread_barrier_t *barrier;
	int result;
};

static void *race_commit(void *arg)
{
	struct racer *r = arg;
	struct store_blob_writer *w;

	r->result = store_blob_begin(r->s, r->digest, (int64_t)r->len, 0, NULL, &w);
	if (r->result < 0)
		return NULL;
	for (size_t off = 0; off < r->len && r->result >= 0; off += 4096)
		r->result = store_blob_write(w, r->data + off,
					     r->len - off < 4096 ? r->len - off : 4096);
	pthread_barrier_wait(r->barrier);       /* both commit at once */
	r->result = r->result < 0 ? r->result : store_blob_commit(w);
	return NULL;
}

TEST(store_blob_concurrent_commit_one_digest)
{
	struct store *s = ts_open();
	size_t len = 1u << 20;
	char *data = malloc(len + 1), digest[DIGEST_STR_SIZE], *back;
	pthread_barrier_t barrier;
	pthread_t t[2];
	struct racer r[2];
	size_t got;

	for (size_t i = 0; i < len; i++)
		data[i] = (char)('a' + i % 23);
	data[len] = '\0';
	ts_digest_of(data, digest);
	for (int round = 0; round < 20; round++) {
		CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0);
		for (int i = 0; i < 2; i++) {
			r[i] = (struct racer){ s, digest, data, len, &barrier, -1 };
			CHECK(pthread_create(&t[i], NULL, race_commit, &r[i]) == 0);
		}
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&barrier);
		CHECK_RC(r[0].result);
		CHECK_RC(r[1].result);
		CHECK(ts_count("blobs/sha256") == 1 && ts_count("tmp") == 0);
		CHECK_RC(store_gc(s, NULL));    /* unreferenced: gone, next round races again */
		CHECK(ts_count("blobs/sha256") == 0);
	}
	CHECK_RC(store_blob_put(s, digest, data, len, NULL));
	CHECK_RC(store_blob_read(s, digest, len, &back, &got));
	CHECK(got == len && memcmp(back, data, len) == 0);
	free(back);
	free(data);
	store_close(s);
}

TEST(store_blob_read_detects_corruption)
{
	struct store *s = ts_open();
	char digest[DIGEST_STR_SIZE], path[PATH_MAX], *buf;
	size_t len;
	int fd;

	ts_blob(s, "{\"config\": true}", NULL, digest);
	snprintf(path, sizeof path, "%s/images/blobs/sha256/%s", unit_tmpdir(), digest + 7);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "[", 1, 0) == 1);
	close(fd);
	CHECK(store_blob_read(s, digest, 1000, &buf, &len) == -EBADMSG);
	CHECK_RC(store_blob_open(s, digest, &fd));
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	store_close(s);
}

/* Every fd the store holds (its dirs, lock, sqlite's db/wal/shm, a
 * writer's temp file) is close-on-exec. */
TEST(store_fds_are_cloexec)
{
	static bool inherited[1024];
	struct store_blob_writer *w;
	struct store_layer_writer *lw;
	char digest[DIGEST_STR_SIZE];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		inherited[fd] = fcntl(fd, F_GETFD) >= 0;
	struct store *s = ts_open();
	ts_blob(s, "x", NULL, digest);
	CHECK_RC(store_blob_begin(s, digest, -1, 0, NULL, &w));
	CHECK_RC(store_layer_begin(s, &lw));
	for (int fd = 0; fd < 1024; fd++) {
		int fl = fcntl(fd, F_GETFD);
		if (fl < 0 || inherited[fd])
			continue;
		n++;
		if (!(fl & FD_CLOEXEC)) {
			char link[64], target[PATH_MAX] = "";
			snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
			ssize_t len = readlink(link, target, sizeof target - 1);
			target[len > 0 ? len : 0] = '\0';
			fprintf(stderr, "  fd %d (%s) is not O_CLOEXEC\n", fd, target);
			CHECK(0);
		}
	}
	CHECK(n >= 9);          /* 5 store fds, db + wal + shm, the writers' */
	store_blob_abort(w);
	store_layer_abort(lw);
	store_close(s);
}
