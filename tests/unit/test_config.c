/*
 * test_config: common/config.c and config_file.c: defaults, every key, the
 * errors (file:line and key), drop-in order, flags over files, and
 * config_to_argv giving a child the same configuration.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/config.h"
#include "common/log.h"
#include "tests/unit/unit.h"

static const char *put(const char *name, const char *text)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", unit_tmpdir(), name);
	FILE *f = fopen(path, "w");
	CHECK(f);
	CHECK(fputs(text, f) >= 0);
	CHECK(fclose(f) == 0);
	return path;
}

/* Read text as one file; returns the rc and leaves the error in *err. */
static int read_text(struct crisp_config *c, const char *text, char **err)
{
	CHECK_RC(config_init(c));
	*err = NULL;
	return config_read_file(c, put("t.conf", text), err);
}

static void expect_error(const char *text, const char *line_tag, const char *words)
{
	struct crisp_config c;
	char *err = NULL;
	int r = read_text(&c, text, &err);
	if (r != -EINVAL || !err || !strstr(err, line_tag) || !strstr(err, words)) {
		fprintf(stderr, "  r=%d err=%s (wanted %s ... %s)\n", r, err ? err : "(null)",
			line_tag, words);
		CHECK(0);
	}
	free(err);
	config_free(&c);
}

TEST(config_defaults)
{
	struct crisp_config c;
	CHECK_RC(config_init(&c));
	CHECK(strcmp(c.root, "/var/lib/crisp") == 0);
	CHECK(strcmp(c.runroot, "/run/crisp") == 0);
	CHECK(strcmp(c.listen, "/run/crisp/crisp.sock") == 0);
	CHECK(strcmp(c.user, "crisp") == 0);
	CHECK(c.log_level == LOG_INFO);
	CHECK(c.max_msg_size == 16u * 1024 * 1024);
	CHECK(c.max_connections == 128);
	CHECK(strcmp(c.cgroup_manager, "cgroupfs") == 0);
	CHECK(strcmp(c.default_runtime, "runc") == 0);
	const struct runtime_handler *h = config_handler(&c, "runc");
	CHECK(h && strcmp(h->path, "/usr/sbin/runc") == 0);
	CHECK(strcmp(c.cni_conf_dir, "/etc/cni/net.d") == 0);
	CHECK(strcmp(c.cni_bin_dirs, "/opt/cni/bin:/usr/lib/cni") == 0);
	CHECK(strcmp(c.stream_address, "127.0.0.1") == 0);
	CHECK(c.stream_port == 0);
	CHECK(c.n_pinned == 0);
	CHECK(!c.config_file && !c.supervised);
	config_free(&c);
}

TEST(config_every_key)
{
	struct crisp_config c;
	char *err = NULL;
	int r = read_text(&c,
		"# a comment\n"
		"[crisp]\nroot = /srv/root\nrunroot=/srv/run\nlisten = /srv/run/cri.sock\n"
		"user = kube_crisp\nlog_level = debug\n"
		"[api]\nmax_msg_size = 4MiB\nmax_connections = 7\n"
		"[runtime]\ncgroup_manager = systemd\ndefault_runtime = kata\n"
		"[runtime.kata]\npath = /usr/bin/kata\nroot = /run/kata\n"
		"[network]\ncni_conf_dir = /cni/conf\ncni_bin_dirs = /cni/a:/cni/b\n"
		"[stream]\naddress = ::1\nport = 10010\n"
		"[image]\npinned_images = registry.k8s.io/pause:3.9, busybox@sha256:abc\n",
		&err);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK_RC(r);
	CHECK(strcmp(c.root, "/srv/root") == 0 && strcmp(c.runroot, "/srv/run") == 0);
	CHECK(strcmp(c.listen, "/srv/run/cri.sock") == 0 && strcmp(c.user, "kube_crisp") == 0);
	CHECK(c.log_level == LOG_DEBUG);
	CHECK(c.max_msg_size == 4u * 1024 * 1024 && c.max_connections == 7);
	CHECK(strcmp(c.cgroup_manager, "systemd") == 0);
	CHECK(strcmp(c.default_runtime, "kata") == 0);
	const struct runtime_handler *h = config_handler(&c, "kata");
	CHECK(h && strcmp(h->path, "/usr/bin/kata") == 0 && strcmp(h->root, "/run/kata") == 0);
	CHECK(config_handler(&c, "runc") != NULL);
	CHECK(strcmp(c.cni_conf_dir, "/cni/conf") == 0);
	CHECK(strcmp(c.cni_bin_dirs, "/cni/a:/cni/b") == 0);
	CHECK(strcmp(c.stream_address, "::1") == 0 && c.stream_port == 10010);
	CHECK(c.n_pinned == 2);
	CHECK(strcmp(c.pinned_images[0], "registry.k8s.io/pause:3.9") == 0);
	CHECK(strcmp(c.pinned_images[1], "busybox@sha256:abc") == 0);
	config_free(&c);
}

TEST(config_errors_name_line_and_key)
{
	expect_error("[crisp]\nroot = /a\nbogus = 1\n", "t.conf:3:", "unknown key \"bogus\" in [crisp]");
	expect_error("[crisp]\nroot = /a\n[nope]\n", "t.conf:3:", "unknown section [nope]");
	expect_error("[crisp]\n\n[runtime.bad name]\npath=/x\n", "t.conf:3:", "unknown section");
	expect_error("[crisp]\nroot = relative/dir\n", "t.conf:2:", "root: \"relative/dir\"");
	expect_error("[api]\nmax_msg_size = lots\n", "t.conf:2:", "max_msg_size");
	expect_error("[api]\nmax_msg_size = 2GiB\n", "t.conf:2:", "max_msg_size");
	expect_error("[api]\nmax_connections = 0\n", "t.conf:2:", "max_connections");
	expect_error("[stream]\nport = 65536\n", "t.conf:2:", "port");
	expect_error("[stream]\naddress = localhost\n", "t.conf:2:", "address");
	expect_error("[runtime]\ncgroup_manager = cgroupv3\n", "t.conf:2:", "cgroup_manager");
	expect_error("[crisp]\nlog_level = loud\n", "t.conf:2:", "log_level");
	expect_error("[crisp]\nuser = Root Admin\n", "t.conf:2:", "user");
	expect_error("[network]\ncni_bin_dirs = /a::/b\n", "t.conf:2:", "cni_bin_dirs");
	expect_error("root = /a\n", "t.conf:1:", "outside of a [section]");
	expect_error("[crisp]\nthis is not ini\n", "t.conf:2:", "syntax error");
	expect_error("[image]\npinned_images = a b\n", "t.conf:2:", "pinned_images");
	/* the first error wins, whichever kind */
	expect_error("[crisp]\nnonsense\nbogus = 1\n", "t.conf:2:", "syntax error");
	expect_error("[crisp]\nbogus = 1\nnonsense\n", "t.conf:2:", "unknown key");
}

TEST(config_long_line_is_an_error)
{
	char text[1024] = "[crisp]\nroot = /";
	memset(text + strlen(text), 'x', 600);
	strcat(text, "\n");
	expect_error(text, "t.conf:2:", "longer than");
}

TEST(config_list_continues_on_indented_lines)
{
	struct crisp_config c;
	char *err = NULL;
	int r = read_text(&c,
		"[image]\npinned_images = a/b:1,\n   c/d:2, e\n\t# a comment\n   f\n"
		"[api]\n  max_connections = 9\n",
		&err);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK_RC(r);
	CHECK(c.n_pinned == 4);
	CHECK(strcmp(c.pinned_images[0], "a/b:1") == 0 && strcmp(c.pinned_images[3], "f") == 0);
	CHECK(c.max_connections == 9);   /* an indented key after a section is a key */
	config_free(&c);

	/* a later pinned_images replaces the list; an empty one clears it */
	CHECK_RC(read_text(&c, "[image]\npinned_images = a, b\npinned_images = c\n", &err));
	CHECK(c.n_pinned == 1 && strcmp(c.pinned_images[0], "c") == 0);
	config_free(&c);
	CHECK_RC(read_text(&c, "[image]\npinned_images = a, b\npinned_images =\n", &err));
	CHECK(c.n_pinned == 0);
	config_free(&c);

	/* after a list, an indented key or section is not part of it */
	CHECK_RC(read_text(&c, "[image]\npinned_images = a,\n  b\n  pinned_images = c\n"
			   "  [crisp]\n  root = /r\n", &err));
	CHECK(c.n_pinned == 1 && strcmp(c.pinned_images[0], "c") == 0);
	CHECK(strcmp(c.root, "/r") == 0);
	config_free(&c);

	/* an indented key after a plain key is a key of its own */
	CHECK_RC(read_text(&c, "[crisp]\nroot = /a\n   runroot = /b\n", &err));
	CHECK(strcmp(c.root, "/a") == 0 && strcmp(c.runroot, "/b") == 0);
	config_free(&c);
}

static int load(struct crisp_config *c, char **err, int argc, char **argv)
{
	CHECK_RC(config_init(c));
	*err = NULL;
	return config_load(c, argc, argv, err);
}

TEST(config_dropins_in_name_order_and_flags_win)
{
	char d[PATH_MAX], main_file[PATH_MAX];
	snprintf(d, sizeof d, "%s/crisp.conf.d", unit_tmpdir());
	CHECK(mkdir(d, 0755) == 0);
	snprintf(main_file, sizeof main_file, "%s",
		 put("crisp.conf", "[crisp]\nroot = /main\nrunroot = /main-run\n"
		     "[stream]\nport = 1\n"));
	put("crisp.conf.d/20-b.conf", "[crisp]\nroot = /b\n[api]\nmax_connections = 20\n");
	put("crisp.conf.d/10-a.conf", "[crisp]\nroot = /a\nlisten = /a.sock\n");
	put("crisp.conf.d/30-c.conf.disabled", "[crisp]\nroot = /never\n");
	put("crisp.conf.d/.hidden.conf", "[crisp]\nroot = /never\n");
	CHECK(mkdir(strcat(strcpy(d, unit_tmpdir()), "/crisp.conf.d/40-dir.conf"), 0755) == 0);

	struct crisp_config c;
	char *err;
	char *argv[] = { "x", "--config", main_file, "--runroot=/flag-run", NULL };
	int r = load(&c, &err, 4, argv);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK_RC(r);
	CHECK(strcmp(c.root, "/b") == 0);               /* 20-b after 10-a after main */
	CHECK(strcmp(c.listen, "/a.sock") == 0);
	CHECK(c.max_connections == 20 && c.stream_port == 1);
	CHECK(strcmp(c.runroot, "/flag-run") == 0);     /* the flag beats the file */
	/* the handler's root follows the final runroot */
	CHECK(strcmp(config_handler(&c, "runc")->root, "/flag-run/runtime/runc") == 0);
	config_free(&c);

	/* --config-dir replaces the drop-in directory */
	char other[PATH_MAX];
	snprintf(other, sizeof other, "%s/other", unit_tmpdir());
	CHECK(mkdir(other, 0755) == 0);
	put("other/x.conf", "[crisp]\nroot = /other\n");
	char *argv2[] = { "x", "--config", main_file, "--config-dir", other, "--root", "/r", NULL };
	CHECK_RC(load(&c, &err, 7, argv2));
	CHECK(strcmp(c.root, "/r") == 0 && strcmp(c.runroot, "/main-run") == 0);
	config_free(&c);
	char *argv3[] = { "x", "--config", main_file, "--config-dir", other, NULL };
	CHECK_RC(load(&c, &err, 5, argv3));
	CHECK(strcmp(c.root, "/other") == 0);
	config_free(&c);
}

TEST(config_load_errors)
{
	struct crisp_config c;
	char *err;
	char missing[PATH_MAX];
	snprintf(missing, sizeof missing, "%s/missing.conf", unit_tmpdir());
	char *a1[] = { "x", "--config", missing, NULL };
	CHECK(load(&c, &err, 3, a1) == -ENOENT && err && strstr(err, missing));
	free(err);
	config_free(&c);

	const char *ok = put("ok.conf", "");
	char *a2[] = { "x", "--config", (char *)ok, "--config-dir", missing, NULL };
	CHECK(load(&c, &err, 5, a2) == -ENOENT && err && strstr(err, missing));
	free(err);
	config_free(&c);

	char *a3[] = { "x", "--bogus", NULL };
	CHECK(load(&c, &err, 2, a3) == -EINVAL && err && strstr(err, "--bogus"));
	free(err);
	config_free(&c);

	char *a4[] = { "x", "--root", NULL };
	CHECK(load(&c, &err, 2, a4) == -EINVAL && err && strstr(err, "--root"));
	free(err);
	config_free(&c);

	char *a5[] = { "x", "--config", (char *)ok, "--log-level", "chatty", NULL };
	CHECK(load(&c, &err, 5, a5) == -EINVAL && err && strstr(err, "chatty"));
	free(err);
	config_free(&c);

	const char *bad = put("bad.conf", "[runtime]\ndefault_runtime = kata\n");
	char *a6[] = { "x", "--config", (char *)bad, NULL };
	CHECK(load(&c, &err, 3, a6) == -EINVAL && err && strstr(err, "kata"));
	free(err);
	config_free(&c);

	char *a7[] = { "x", "--help", NULL };
	CHECK_RC(load(&c, &err, 2, a7));
	CHECK(c.help);
	config_free(&c);
}

TEST(config_to_argv_round_trip)
{
	const char *file = put("c.conf", "[crisp]\nroot = /file-root\nlisten = /l.sock\n");
	char rel[] = "rel/run";
	CHECK(chdir(unit_tmpdir()) == 0);
	struct crisp_config a, b;
	char *err;
	char *argv[] = { "x", "--config", (char *)file, "--runroot", rel, "--log-level", "warn",
			 NULL };
	CHECK_RC(load(&a, &err, 7, argv));
	char expect_run[PATH_MAX];
	snprintf(expect_run, sizeof expect_run, "%s/rel/run", unit_tmpdir());
	CHECK(strcmp(a.runroot, expect_run) == 0);       /* made absolute */
	CHECK(!a.supervised);

	char **child = NULL;
	CHECK_RC(config_to_argv(&a, &child));
	char *full[20] = { "child" };
	int n = 1;
	for (; child[n - 1]; n++)
		full[n] = child[n - 1];
	CHECK(strcmp(full[n - 1], "--supervised") == 0);
	CHECK(chdir("/") == 0);                          /* the child's cwd may differ */
	CHECK_RC(load(&b, &err, n, full));
	CHECK(b.supervised);
	CHECK(strcmp(a.config_file, b.config_file) == 0);
	CHECK(strcmp(b.root, "/file-root") == 0 && strcmp(b.runroot, expect_run) == 0);
	CHECK(strcmp(b.listen, "/l.sock") == 0 && b.log_level == LOG_WARN);
	free(child);
	config_free(&a);
	config_free(&b);
}
