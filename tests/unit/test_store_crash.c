/*
 * test_store_crash: files and rows agree after a kill -9 at any point. A
 * child works on the store and is SIGKILLed (mid-write on purpose, or at a
 * random moment of a busy loop); the parent reopens and checks, with its
 * own sqlite connection, that every row has its file, every file its row,
 * tmp/ is empty, the db is intact, and the next pull succeeds. Also the
 * recovery of a store tampered with while imaged was down.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "tests/unit/test_store_util.h"
#include "tests/unit/unit.h"

/* Every name in dir (ROOT/images/<sub>) is in the rows of sql, and back. */
static void check_agree(sqlite3 *db, const char *sql, const char *sub)
{
	sqlite3_stmt *st;
	int rows = 0;
	char rel[256];

	CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		CHECK(strncmp(id, "sha256:", 7) == 0);
		snprintf(rel, sizeof rel, "%s/%s", sub, id + 7);
		CHECK(ts_exists(rel));
		rows++;
	}
	sqlite3_finalize(st);
	CHECK(ts_count(sub) == rows);
}

static void check_consistent(void)
{
	char path[PATH_MAX];
	sqlite3 *db;
	sqlite3_stmt *st;

	snprintf(path, sizeof path, "%s/images/images.db", unit_tmpdir());
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	check_agree(db, "SELECT digest FROM blobs", "blobs/sha256");
	check_agree(db, "SELECT chain_id FROM layers", "layers/sha256");
	CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK(strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0);
	sqlite3_finalize(st);
	CHECK(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	CHECK(ts_count("tmp") == 0);
}

TEST(store_crash_mid_pull_leaves_nothing)
{
	char digest[DIGEST_STR_SIZE];
	struct store_open_report rep;
	struct store *s;
	int pipefd[2], st;
	char c;

	ts_digest_of("a layer that takes long to download", digest);
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct store_blob_writer *w;
		struct store_layer_writer *lw;
		s = ts_open();
		if (store_blob_begin(s, digest, -1, 0, NULL, &w) < 0 ||
		    store_blob_write(w, "a layer that", 12) < 0 || store_layer_begin(s, &lw) < 0 ||
		    mkdirat(store_layer_diff_fd(lw), "etc", 0755) < 0)
			_exit(1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();                        /* killed here, mid-pull */
		_exit(1);
	}
	close(pipefd[1]);
	CHECK(read(pipefd[0], &c, 1) == 1);
	close(pipefd[0]);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
	CHECK(ts_count("tmp") == 2);                    /* the half blob, the half layer */

	CHECK_RC(store_open(unit_tmpdir(), &s, &rep));
	CHECK(rep.tmp_removed == 2);
	CHECK(ts_count("tmp") == 0 && ts_count("blobs/sha256") == 0);
	CHECK(store_blob_exists(s, digest) == 0);
	/* the next pull succeeds */
	CHECK_RC(store_blob_put(s, digest, "a layer that takes long to download", 35, NULL));
	CHECK(store_blob_exists(s, digest) == 1);
	store_close(s);
	check_consistent();
}

/* The child's busy loop: pulls (lease, blobs, layers, image), removals, GC. */
static void busy_child(void)
{
	struct store *s = ts_open();
	char text[64], lease[32], blob[DIGEST_STR_SIZE], layer[DIGEST_STR_SIZE];
	char tag[32], *tags[] = { tag };

	for (unsigned i = 0;; i++) {
		struct store_image img = { .uid = STORE_UID_NONE, .media_type = "m" };
		struct store_layer_ref ref;
		char blobs[1][DIGEST_STR_SIZE];
		snprintf(lease, sizeof lease, "pull-%u", i);
		if (store_lease_create(s, lease, "pull", STORE_LEASE_TEMPORARY) < 0)
			_exit(1);
		snprintf(text, sizeof text, "config %u", i);
		ts_blob(s, text, lease, img.id);
		snprintf(text, sizeof text, "manifest %u", i);
		ts_blob(s, text, lease, img.manifest_digest);
		snprintf(text, sizeof text, "blob %u", i);
		ts_blob(s, text, lease, blob);
		snprintf(text, sizeof text, "layer %u", i % 7);
		ts_layer(s, text, NULL, lease, layer);
		snprintf(ref.chain_id, sizeof ref.chain_id, "%s", layer);
		ts_digest_of(text, ref.diff_id);
		memcpy(blobs[0], blob, sizeof blob);
		img.blobs = blobs;
		img.n_blobs = 1;
		img.layers = &ref;
		img.n_layers = 1;
		snprintf(tag, sizeof tag, "r/app:%u", i % 5);
		img.repo_tags = tags;
		img.n_repo_tags = 1;
		if (store_image_put(s, &img) < 0 || store_lease_release(s, lease) < 0)
			_exit(1);
		if (i % 3 == 2) {
			struct store_image *old;
			snprintf(tag, sizeof tag, "r/app:%u", (i + 1) % 5);
			if (store_image_find(s, tag, &old) == 0) {
				store_image_remove(s, old->id);
				store_image_free(old);
			}
			store_gc(s, NULL);
		}
	}
}

TEST(store_crash_random_kill_keeps_files_and_rows_agreeing)
{
	struct store_open_report rep;
	uint64_t recovered = 0;
	struct store *s;
	int st;

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int round = 0; round < 12; round++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			busy_child();
		usleep(20000 + (useconds_t)(rand() % 150000));
		CHECK(kill(pid, SIGKILL) == 0);
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);     /* it never failed */
		CHECK_RC(store_open(unit_tmpdir(), &s, &rep));
		recovered += rep.tmp_removed + rep.leases_dropped + rep.orphan_blobs + rep.orphan_layers;
		CHECK(rep.missing_blobs == 0 && rep.missing_layers == 0 && rep.images_dropped == 0);
		/* what is recorded is usable */
		struct store_image **v;
		size_t n;
		CHECK_RC(store_image_list(s, NULL, &v, &n));
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < v[i]->n_blobs; j++)
				CHECK(store_blob_exists(s, v[i]->blobs[j]) == 1);
			for (size_t j = 0; j < v[i]->n_layers; j++)
				CHECK(store_layer_exists(s, v[i]->layers[j].chain_id) == 1);
		}
		store_image_list_free(v, n);
		store_close(s);
		check_consistent();
	}
	/* a kill must have hit some work in progress at least once */
	CHECK(recovered > 0);
}

TEST(store_recovery_after_tampering)
{
	struct store *s = ts_open();
	struct store_open_report rep;
	struct store_image img = { .uid = STORE_UID_NONE, .media_type = "m" }, *got;
	char layer_blob[DIGEST_STR_SIZE], other[DIGEST_STR_SIZE], path[PATH_MAX], lost[DIGEST_STR_SIZE];
	char blobs[1][DIGEST_STR_SIZE];
	char *tags[] = { "r/x:1" };
	int fd;

	ts_blob(s, "config", NULL, img.id);
	ts_blob(s, "manifest", NULL, img.manifest_digest);
	ts_blob(s, "layer blob", NULL, layer_blob);
	memcpy(blobs[0], layer_blob, sizeof layer_blob);
	img.blobs = blobs;
	img.n_blobs = 1;
	img.repo_tags = tags;
	img.n_repo_tags = 1;
	CHECK_RC(store_image_put(s, &img));
	ts_layer(s, "lost layer", NULL, NULL, lost);
	CHECK_RC(store_lease_create(s, "keep", "", 0));
	CHECK_RC(store_lease_add_layer(s, "keep", lost));
	store_close(s);

	/* while imaged is down: a blob file vanishes, a layer dir vanishes,
	 * stray files and dirs appear */
	snprintf(path, sizeof path, "%s/images/blobs/sha256/%s", unit_tmpdir(), layer_blob + 7);
	CHECK(unlink(path) == 0);
	snprintf(path, sizeof path, "rm -rf '%s/images/layers/sha256/%s'", unit_tmpdir(), lost + 7);
	CHECK(system(path) == 0);
	ts_digest_of("stray", other);
	snprintf(path, sizeof path, "%s/images/blobs/sha256/%s", unit_tmpdir(), other + 7);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(path, sizeof path, "%s/images/blobs/sha256/not-a-digest", unit_tmpdir());
	CHECK(symlink("/etc/passwd", path) == 0);
	snprintf(path, sizeof path, "%s/images/layers/sha256/%s", unit_tmpdir(), other + 7);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof path, "%s/images/layers/sha256/%s/diff", unit_tmpdir(), other + 7);
	CHECK(mkdir(path, 0700) == 0);

	CHECK_RC(store_open(unit_tmpdir(), &s, &rep));
	CHECK(rep.missing_blobs == 1 && rep.missing_layers == 1 && rep.images_dropped == 1);
	CHECK(rep.orphan_blobs == 2 && rep.orphan_layers == 1);
	CHECK(store_image_find(s, "r/x:1", &got) == -ENOENT);
	CHECK(access("/etc/passwd", F_OK) == 0);
	/* the image's other blobs, no longer held, went in the open's GC */
	CHECK(rep.gc.blobs_removed == 2);
	CHECK(ts_count("blobs/sha256") == 0 && ts_count("layers/sha256") == 0);
	store_close(s);
	check_consistent();
}
