/*
 * test_store_layer: unpacked layers: commit (meta, diff, row), the chain id
 * check, abort of a hostile tree (symlinks out, deep nesting under a low fd
 * limit) that removes only the tree, two threads committing one layer, and
 * that no other user can reach a layer's setuid file.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/unit/test_store_util.h"
#include "tests/unit/unit.h"

static void read_rel(const char *rel, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof path, "%s/images/%s", unit_tmpdir(), rel);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	n = read(fd, buf, len - 1);
	CHECK(n >= 0);
	buf[n] = '\0';
	close(fd);
}

TEST(store_layer_commit)
{
	struct store *s = ts_open();
	struct store_layer_info info;
	char base[DIGEST_STR_SIZE], top[DIGEST_STR_SIZE], diff_id[DIGEST_STR_SIZE];
	char rel[256], buf[512], want[512], *path;

	ts_layer(s, "base layer", NULL, NULL, base);
	ts_layer(s, "top layer", base, NULL, top);
	CHECK(ts_count("layers/sha256") == 2 && ts_count("tmp") == 0);
	CHECK(store_layer_exists(s, base) == 1 && store_layer_exists(s, top) == 1);

	snprintf(rel, sizeof rel, "layers/sha256/%s/diff/f", top + 7);
	read_rel(rel, buf, sizeof buf);
	CHECK(strcmp(buf, "top layer") == 0);
	snprintf(rel, sizeof rel, "layers/sha256/%s/meta", top + 7);
	read_rel(rel, buf, sizeof buf);
	ts_digest_of("top layer", diff_id);
	snprintf(want, sizeof want, "chain_id %s\ndiff_id %s\nparent %s\nsize 9\n",
		 top, diff_id, base);
	CHECK(strcmp(buf, want) == 0);

	CHECK_RC(store_layer_get(s, top, &info));
	CHECK(strcmp(info.chain_id, top) == 0 && strcmp(info.diff_id, diff_id) == 0);
	CHECK(strcmp(info.parent, base) == 0 && info.size == 9 && info.created > 0);
	CHECK_RC(store_layer_get(s, base, &info));
	CHECK(info.parent[0] == '\0');
	/* chain_id(L1) = diff_id(L1) */
	ts_digest_of("base layer", diff_id);
	CHECK(strcmp(base, diff_id) == 0);

	CHECK_RC(store_layer_diff_path_of(s, top, &path));
	snprintf(want, sizeof want, "%s/images/layers/sha256/%s/diff", unit_tmpdir(), top + 7);
	CHECK(strcmp(path, want) == 0);
	free(path);
	CHECK(store_layer_get(s, "sha256:" "0000000000000000000000000000000000000000000000000000000000000000",
			      &info) == -ENOENT);
	store_close(s);
}

TEST(store_layer_commit_checks_chain_id)
{
	struct store *s = ts_open();
	struct store_layer_writer *w;
	char base[DIGEST_STR_SIZE], diff_id[DIGEST_STR_SIZE], other[DIGEST_STR_SIZE];

	ts_layer(s, "base", NULL, NULL, base);
	ts_digest_of("second", diff_id);
	ts_digest_of("something else", other);
	/* a chain id that is not sha256(parent + " " + diff_id) */
	CHECK_RC(store_layer_begin(s, &w));
	CHECK(store_layer_commit(w, other, diff_id, base, 1, NULL) == -EINVAL);
	/* a base layer whose chain id is not its diff id */
	CHECK_RC(store_layer_begin(s, &w));
	CHECK(store_layer_commit(w, other, diff_id, NULL, 1, NULL) == -EINVAL);
	/* the diff id given as chain id of a layer that has a parent */
	CHECK_RC(store_layer_begin(s, &w));
	CHECK(store_layer_commit(w, diff_id, diff_id, base, 1, NULL) == -EINVAL);
	CHECK_RC(store_layer_begin(s, &w));
	CHECK(store_layer_commit(w, "sha256:xyz", diff_id, NULL, 1, NULL) == -EINVAL);
	CHECK(ts_count("tmp") == 0 && ts_count("layers/sha256") == 1);
	store_close(s);
}

TEST(store_layer_abort_never_follows_symlinks)
{
	struct store *s = ts_open();
	struct store_layer_writer *w;
	char outside[PATH_MAX], victim[PATH_MAX + 8];
	struct stat st;

	snprintf(outside, sizeof outside, "%s/outside", unit_tmpdir());
	snprintf(victim, sizeof victim, "%s/victim", outside);
	CHECK(mkdir(outside, 0755) == 0);
	int fd = open(victim, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "keep", 4) == 4);
	close(fd);

	CHECK_RC(store_layer_begin(s, &w));
	int d = store_layer_diff_fd(w);
	CHECK(symlinkat(outside, d, "dirlink") == 0);           /* to a directory outside */
	CHECK(symlinkat(victim, d, "filelink") == 0);           /* to a file outside */
	CHECK(mkdirat(d, "sub", 0000) == 0);                    /* no permissions at all */
	CHECK(symlinkat("../../../../../../..", d, "sub/up") == 0);
	CHECK(mkfifoat(d, "fifo", 0600) == 0);
	CHECK(mkdirat(d, "usr", 0755) == 0 && mkdirat(d, "usr/bin", 0555) == 0);
	fd = openat(d, "usr/bin/su", O_WRONLY | O_CREAT | O_CLOEXEC, 04755);
	CHECK(fd >= 0);
	close(fd);
	store_layer_abort(w);

	CHECK(ts_count("tmp") == 0);
	CHECK(stat(victim, &st) == 0 && st.st_size == 4);
	CHECK(stat(outside, &st) == 0 && S_ISDIR(st.st_mode));
	store_close(s);
}

TEST(store_layer_remove_deep_tree_low_fd_limit)
{
	struct store *s = ts_open();
	struct store_layer_writer *w;
	struct rlimit rl = { 32, 32 };
	char diff_id[DIGEST_STR_SIZE];

	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK_RC(store_layer_begin(s, &w));
	int fd = dup(store_layer_diff_fd(w));
	for (int i = 0; i < 2000; i++) {                /* far deeper than 32 fds */
		CHECK(mkdirat(fd, "d", 0755) == 0);
		int f = openat(fd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		CHECK(f >= 0);
		close(f);
		CHECK(symlinkat("/", fd, "root") == 0);
		int n = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(n >= 0);
		close(fd);
		fd = n;
	}
	close(fd);
	store_layer_abort(w);
	CHECK(ts_count("tmp") == 0);

	/* the same tree committed and then collected */
	CHECK_RC(store_layer_begin(s, &w));
	fd = dup(store_layer_diff_fd(w));
	for (int i = 0; i < 500; i++) {
		CHECK(mkdirat(fd, "d", 0755) == 0);
		int n = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = n;
	}
	close(fd);
	ts_digest_of("deep", diff_id);
	CHECK_RC(store_layer_commit(w, diff_id, diff_id, NULL, 0, NULL));
	CHECK(ts_count("layers/sha256") == 1);
	CHECK_RC(store_gc(s, NULL));
	CHECK(ts_count("layers/sha256") == 0 && ts_count("tmp") == 0);
	store_close(s);
}

struct layer_racer {
	struct store *s;
	pthread_barrier_t *barrier;
	int result;
};

static void *race_layer(void *arg)
{
	struct layer_racer *r = arg;
	struct store_layer_writer *w;
	char diff_id[DIGEST_STR_SIZE];

	ts_digest_of("same layer", diff_id);
	r->result = store_layer_begin(r->s, &w);
	if (r->result < 0)
		return NULL;
	int fd = openat(store_layer_diff_fd(w), "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	pthread_barrier_wait(r->barrier);
	r->result = store_layer_commit(w, diff_id, diff_id, NULL, 10, NULL);
	return NULL;
}

TEST(store_layer_concurrent_commit)
{
	struct store *s = ts_open();
	pthread_barrier_t barrier;
	struct layer_racer r[2];
	pthread_t t[2];

	for (int round = 0; round < 10; round++) {
		CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0);
		for (int i = 0; i < 2; i++) {
			r[i] = (struct layer_racer){ s, &barrier, -1 };
			CHECK(pthread_create(&t[i], NULL, race_layer, &r[i]) == 0);
		}
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&barrier);
		CHECK_RC(r[0].result);
		CHECK_RC(r[1].result);
		CHECK(ts_count("layers/sha256") == 1 && ts_count("tmp") == 0);
		CHECK_RC(store_gc(s, NULL));
		CHECK(ts_count("layers/sha256") == 0);
	}
	store_close(s);
}

TEST(store_layer_setuid_unreachable_by_others)
{
	struct store *s = ts_open();
	struct store_layer_writer *w;
	char diff_id[DIGEST_STR_SIZE], path[PATH_MAX];
	int st;

	CHECK_RC(store_layer_begin(s, &w));
	int fd = openat(store_layer_diff_fd(w), "suid", O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	CHECK(fd >= 0 && fchmod(fd, 04755) == 0);
	close(fd);
	ts_digest_of("suid", diff_id);
	CHECK_RC(store_layer_commit(w, diff_id, diff_id, NULL, 0, NULL));
	snprintf(path, sizeof path, "%s/images/layers/sha256/%s/diff/suid", unit_tmpdir(),
		 diff_id + 7);
	CHECK(access(path, F_OK) == 0);
	CHECK(chmod(unit_tmpdir(), 0755) == 0);         /* only the store may stop them */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		_exit(open(path, O_RDONLY) < 0 && errno == EACCES ? 0 : 1);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	store_close(s);
}
