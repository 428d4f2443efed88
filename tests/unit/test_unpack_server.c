/*
 * test_unpack_server: imaged's unpack spawner through its client, with the
 * unit binary itself as the spawner (and as the confined child it starts):
 * a layer unpacks, a layer dir outside TMPDIR or reached through a symlink is
 * refused, a stop request kills the child, several unpack at once, and the
 * client fails cleanly when the spawner dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include "imaged/unpack_server.h"
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

__attribute__((constructor)) static void unpack_server_hook(int argc, char **argv)
{
	if (argc > 1 && argv && !strcmp(argv[1], UNPACK_SERVER_ARG))
		_exit(unpack_server_main(argc, argv));
}

struct fixture {
	char tmp[PATH_MAX];
	char blob[PATH_MAX];
	struct unpack_client *c;
};

static void fixture_init(struct fixture *f)
{
	tl_path(f->tmp, sizeof f->tmp, unit_tmpdir(), "tmp");
	CHECK(mkdir(f->tmp, 0700) == 0);
	tl_path(f->blob, sizeof f->blob, unit_tmpdir(), "layer.tar");
	struct archive *a = tl_tar_open(f->blob);
	tl_add(a, &(struct tl_entry){ .name = "etc", .type = S_IFDIR, .mode = 0755 });
	tl_add(a, &(struct tl_entry){ .name = "etc/hello", .mode = 0644, .uid = 1234,
				      .data = "hi\n", .size = 3 });
	tl_close(a);
	CHECK_RC(unpack_client_start("/proc/self/exe", f->tmp, &f->c));
}

static int layer_dir(struct fixture *f, const char *name, char *buf, size_t len)
{
	tl_path(buf, len, f->tmp, name);
	return mkdir(buf, 0700) < 0 ? -errno : 0;
}

static int run(struct fixture *f, const char *dir, unpack_stop_fn stop, void *ctx,
	       struct unpack_result *res, struct unpack_error *err)
{
	int fd = open(f->blob, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	struct unpack_spawn sp = { .layer_dir = dir, .blob_fd = fd, .comp = UNPACK_COMP_NONE };
	int r = unpack_client_run(f->c, &sp, 0, stop, ctx, res, err);
	close(fd);
	return r;
}

TEST(unpack_server_unpacks_a_layer)
{
	struct fixture f;
	fixture_init(&f);
	char dir[PATH_MAX], file[PATH_MAX];
	CHECK_RC(layer_dir(&f, "l1", dir, sizeof dir));
	struct unpack_result res = { 0 };
	struct unpack_error err = { 0 };
	CHECK_RC(run(&f, dir, NULL, NULL, &res, &err));
	CHECK(strncmp(res.diff_id, "sha256:", 7) == 0 && res.entries == 2);
	tl_path(file, sizeof file, dir, "etc/hello");
	struct stat st;
	CHECK(stat(file, &st) == 0 && st.st_uid == 1234 && st.st_size == 3);
	unpack_client_free(f.c);
}

TEST(unpack_server_refuses_dirs_outside_tmp)
{
	struct fixture f;
	fixture_init(&f);
	char outside[PATH_MAX], link[PATH_MAX], dotdot[PATH_MAX + 16];
	tl_path(outside, sizeof outside, unit_tmpdir(), "outside");
	CHECK(mkdir(outside, 0700) == 0);
	tl_path(link, sizeof link, f.tmp, "link");
	CHECK(symlink(outside, link) == 0);
	snprintf(dotdot, sizeof dotdot, "%s/../outside", f.tmp);
	const char *bad[] = { outside, link, dotdot, "relative/dir" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct unpack_result res = { 0 };
		struct unpack_error err = { 0 };
		CHECK(run(&f, bad[i], NULL, NULL, &res, &err) < 0);
		CHECK(err.code == UNPACK_ERR_SYSTEM);
	}
	/* nothing was written there, and the spawner still serves */
	char probe[PATH_MAX];
	tl_path(probe, sizeof probe, outside, "etc");
	CHECK(access(probe, F_OK) < 0 && errno == ENOENT);
	char dir[PATH_MAX];
	CHECK_RC(layer_dir(&f, "ok", dir, sizeof dir));
	struct unpack_result res = { 0 };
	struct unpack_error err = { 0 };
	CHECK_RC(run(&f, dir, NULL, NULL, &res, &err));
	unpack_client_free(f.c);
}

static bool stop_now(void *ctx)
{
	return atomic_fetch_add((atomic_int *)ctx, 1) >= 0;
}

TEST(unpack_server_stop_kills_the_child)
{
	struct fixture f;
	fixture_init(&f);
	char dir[PATH_MAX];
	CHECK_RC(layer_dir(&f, "slow", dir, sizeof dir));
	/* a blob that never ends: the child waits on the pipe until killed */
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	atomic_int asked = 0;
	struct unpack_spawn sp = { .layer_dir = dir, .blob_fd = p[0], .comp = UNPACK_COMP_NONE };
	struct unpack_result res = { 0 };
	struct unpack_error err = { 0 };
	int r = unpack_client_run(f.c, &sp, 0, stop_now, &asked, &res, &err);
	CHECK(r == -ECANCELED);
	CHECK(atomic_load(&asked) >= 1);
	close(p[0]);
	close(p[1]);
	unpack_client_free(f.c);
}

struct par {
	struct fixture *f;
	char dir[PATH_MAX];
	int r;
};

static void *par_run(void *arg)
{
	struct par *p = arg;
	struct unpack_result res = { 0 };
	struct unpack_error err = { 0 };
	p->r = run(p->f, p->dir, NULL, NULL, &res, &err);
	return NULL;
}

TEST(unpack_server_several_at_once)
{
	struct fixture f;
	fixture_init(&f);
	struct par ps[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof name, "p%d", i);
		ps[i].f = &f;
		CHECK_RC(layer_dir(&f, name, ps[i].dir, sizeof ps[i].dir));
		CHECK(pthread_create(&t[i], NULL, par_run, &ps[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_RC(ps[i].r);
	}
	unpack_client_free(f.c);
}
