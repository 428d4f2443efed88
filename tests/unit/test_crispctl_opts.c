/*
 * test_crispctl_opts: crispctl's argument parsing: `run`'s flags
 * (crispctl/run_opts.c: CMD left as given, pairs split, users, names, the
 * refusals), which CRI socket (endpoint.c: -r, then the environment, then
 * the default; unix:// forms; other schemes refused) and durations.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "crispctl/crispctl.h"
#include "tests/unit/unit.h"

/* argv from a NULL-terminated list of literals (writable copies). */
static int make_argv(char **out, const char *const *in)
{
	int n = 0;
	for (; in[n]; n++)
		out[n] = strdup(in[n]);
	out[n] = NULL;
	return n;
}

static struct run_opts ro;      /* large: not on the stack */

static int parse(const char *const *in, char *err, size_t len)
{
	static char *argv[64];
	int argc = make_argv(argv, in);
	return ctl_run_opts_parse(argc, argv, &ro, err, len);
}

TEST(crispctl_run_opts_full)
{
	char err[256];
	setenv("CRISPCTL_TEST_FROM_ENV", "inherited", 1);
	unsetenv("CRISPCTL_TEST_UNSET");
	static const char *const a[] = {
		"run", "--rm", "--name", "web-1", "-e", "A=1", "--env", "B=x=y", "-e",
		"CRISPCTL_TEST_FROM_ENV", "-e", "CRISPCTL_TEST_UNSET", "-w", "/srv", "-u", "daemon:7",
		"-l", "app=demo", "--label", "tier=", "--net", "host",
		"crisp.local/busybox:latest", "sh", "-c", "echo hi", "-e", "--rm", NULL,
	};
	CHECK_RC(parse(a, err, sizeof err));
	CHECK(ro.rm && !ro.detach && ro.host_net && !ro.tty && !ro.interactive);
	CHECK(!strcmp(ro.name, "web-1") && !strcmp(ro.workdir, "/srv"));
	CHECK(!strcmp(ro.image, "crisp.local/busybox:latest"));
	/* everything after IMAGE is the command, flags included */
	CHECK(ro.n_cmd == 5 && !strcmp(ro.cmd[0], "sh") && !strcmp(ro.cmd[2], "echo hi") &&
	      !strcmp(ro.cmd[3], "-e") && !strcmp(ro.cmd[4], "--rm"));
	CHECK(ro.n_env == 3);   /* the unset one is left out */
	CHECK(!strcmp(ro.env[0].key, "A") && !strcmp(ro.env[0].value, "1"));
	CHECK(!strcmp(ro.env[1].key, "B") && !strcmp(ro.env[1].value, "x=y"));
	CHECK(!strcmp(ro.env[2].key, "CRISPCTL_TEST_FROM_ENV") &&
	      !strcmp(ro.env[2].value, "inherited"));
	CHECK(ro.n_labels == 2 && !strcmp(ro.labels[1].key, "tier") && !*ro.labels[1].value);
	CHECK(ro.have_user && !strcmp(ro.user.name, "daemon") && !ro.user.have_uid &&
	      ro.user.have_gid && ro.user.gid == 7);
}

TEST(crispctl_run_opts_minimal)
{
	char err[256];
	static const char *const a[] = { "run", "-d", "img", NULL };
	CHECK_RC(parse(a, err, sizeof err));
	CHECK(ro.detach && !ro.rm && !ro.name && !ro.workdir && !ro.have_user && !ro.host_net);
	CHECK(!strcmp(ro.image, "img") && ro.n_cmd == 0 && ro.n_env == 0 && ro.n_labels == 0);
}

TEST(crispctl_run_opts_refused)
{
	char err[256];
	static const char *const it[] = { "run", "-it", "img", "sh", NULL };
	CHECK(parse(it, err, sizeof err) == -ENOTSUP);
	CHECK(strstr(err, "streaming server (not built yet)"));
	static const char *const tty[] = { "run", "--tty", "img", NULL };
	CHECK(parse(tty, err, sizeof err) == -ENOTSUP);
	static const char *const rmd[] = { "run", "--rm", "-d", "img", NULL };
	CHECK(parse(rmd, err, sizeof err) == -EINVAL && strstr(err, "--rm"));
	static const char *const noimg[] = { "run", "--rm", NULL };
	CHECK(parse(noimg, err, sizeof err) == -EINVAL);
	static const char *const badname[] = { "run", "--name", "Web_1", "img", NULL };
	CHECK(parse(badname, err, sizeof err) == -EINVAL && strstr(err, "Web_1"));
	static const char *const badenv[] = { "run", "-e", "=x", "img", NULL };
	CHECK(parse(badenv, err, sizeof err) == -EINVAL);
	static const char *const badlabel[] = { "run", "-l", "novalue", "img", NULL };
	CHECK(parse(badlabel, err, sizeof err) == -EINVAL);
	static const char *const badnet[] = { "run", "--net", "bridge", "img", NULL };
	CHECK(parse(badnet, err, sizeof err) == -EINVAL);
	static const char *const baduser[] = { "run", "-u", "12x", "img", NULL };
	CHECK(parse(baduser, err, sizeof err) == -EINVAL);
	static const char *const unknown[] = { "run", "--bogus", "img", NULL };
	opterr = 0;     /* getopt's own message is crispctl's, not the test's */
	CHECK(parse(unknown, err, sizeof err) == -EINVAL);
	opterr = 1;
}

TEST(crispctl_user_spec)
{
	struct ctl_user u;
	char s1[] = "1000", s2[] = "1000:50", s3[] = "alice", s4[] = "alice:0", s5[] = ":5",
	     s6[] = "1:x", s7[] = "-1";
	CHECK_RC(ctl_parse_user_spec(s1, &u));
	CHECK(u.have_uid && u.uid == 1000 && !u.have_gid && !u.name);
	CHECK_RC(ctl_parse_user_spec(s2, &u));
	CHECK(u.uid == 1000 && u.have_gid && u.gid == 50);
	CHECK_RC(ctl_parse_user_spec(s3, &u));
	CHECK(u.name && !strcmp(u.name, "alice") && !u.have_uid && !u.have_gid);
	CHECK_RC(ctl_parse_user_spec(s4, &u));
	CHECK(!strcmp(u.name, "alice") && u.have_gid && u.gid == 0);
	CHECK(ctl_parse_user_spec(s5, &u) == -EINVAL);
	CHECK(ctl_parse_user_spec(s6, &u) == -EINVAL);
	CHECK(ctl_parse_user_spec(s7, &u) == -EINVAL);
}

TEST(crispctl_names)
{
	char buf[80];
	CHECK(ctl_dns_label("a") && ctl_dns_label("web-1") && ctl_dns_label("0abc"));
	CHECK(!ctl_dns_label("") && !ctl_dns_label("-a") && !ctl_dns_label("a-") &&
	      !ctl_dns_label("A") && !ctl_dns_label("a_b") && !ctl_dns_label("a.b"));
	char long64[65];
	memset(long64, 'a', 64);
	long64[64] = '\0';
	CHECK(!ctl_dns_label(long64));
	long64[63] = '\0';
	CHECK(ctl_dns_label(long64));
	ctl_run_default_name("crisp.local/busybox:latest", "1a2b3c", buf, sizeof buf);
	CHECK(!strcmp(buf, "busybox-1a2b3c"));
	ctl_run_default_name("docker.io/Library/My_App@sha256:abcd", "000000", buf, sizeof buf);
	CHECK(!strcmp(buf, "my-app-000000"));
	ctl_run_default_name("sha256:", "ffffff", buf, sizeof buf);
	CHECK(!strcmp(buf, "sha256-ffffff") && ctl_dns_label(buf));
	ctl_run_default_name("___", "abcdef", buf, sizeof buf);
	CHECK(!strcmp(buf, "run-abcdef"));
}

TEST(crispctl_endpoint)
{
	char p[256], cwd[200], want[256];
	CHECK_RC(ctl_endpoint_path("unix:///a/b.sock", "unix:///env.sock", "/dflt.sock", p, sizeof p));
	CHECK(!strcmp(p, "/a/b.sock"));
	CHECK_RC(ctl_endpoint_path("unix:/a/b.sock", NULL, "/dflt.sock", p, sizeof p));
	CHECK(!strcmp(p, "/a/b.sock"));
	CHECK_RC(ctl_endpoint_path("/plain.sock", NULL, "/dflt.sock", p, sizeof p));
	CHECK(!strcmp(p, "/plain.sock"));
	/* no flag: the environment, when set and not empty */
	CHECK_RC(ctl_endpoint_path(NULL, "unix:///env.sock", "/dflt.sock", p, sizeof p));
	CHECK(!strcmp(p, "/env.sock"));
	CHECK_RC(ctl_endpoint_path(NULL, "", "/dflt.sock", p, sizeof p));
	CHECK(!strcmp(p, "/dflt.sock"));
	CHECK_RC(ctl_endpoint_path(NULL, NULL, "/dflt.sock", p, sizeof p));
	CHECK(!strcmp(p, "/dflt.sock"));
	/* relative: from the current directory */
	CHECK(getcwd(cwd, sizeof cwd));
	snprintf(want, sizeof want, "%s/rel.sock", cwd);
	CHECK_RC(ctl_endpoint_path("unix://rel.sock", NULL, "/d", p, sizeof p));
	CHECK(!strcmp(p, want));
	CHECK(ctl_endpoint_path("tcp://127.0.0.1:1", NULL, "/d", p, sizeof p) == -EPROTONOSUPPORT);
	CHECK(ctl_endpoint_path("npipe:////./pipe/x", NULL, "/d", p, sizeof p) == -EPROTONOSUPPORT);
	CHECK(ctl_endpoint_path(NULL, "tcp://x:1", "/d", p, sizeof p) == -EPROTONOSUPPORT);
	CHECK(ctl_endpoint_path("unix://", NULL, "/d", p, sizeof p) == -EINVAL);
	CHECK(ctl_endpoint_path("/a/very/long/path", NULL, "/d", p, 8) == -ENAMETOOLONG);
}

TEST(crispctl_duration)
{
	int64_t ms;
	CHECK_RC(ctl_parse_duration("30", &ms));
	CHECK(ms == 30000);
	CHECK_RC(ctl_parse_duration("30s", &ms));
	CHECK(ms == 30000);
	CHECK_RC(ctl_parse_duration("500ms", &ms));
	CHECK(ms == 500);
	CHECK_RC(ctl_parse_duration("2m", &ms));
	CHECK(ms == 120000);
	CHECK_RC(ctl_parse_duration("1h", &ms));
	CHECK(ms == 3600000);
	CHECK(ctl_parse_duration("", &ms) == -EINVAL);
	CHECK(ctl_parse_duration("-1", &ms) == -EINVAL);
	CHECK(ctl_parse_duration("1x", &ms) == -EINVAL);
	CHECK(ctl_parse_duration("s", &ms) == -EINVAL);
	CHECK(ctl_parse_duration("99999999999999", &ms) == -EINVAL);
}

TEST(crispctl_split)
{
	char *k, *v;
	char a[] = "key=va=lue", b[] = "=v", c[] = "novalue", d[] = "k=";
	CHECK_RC(ctl_split_kv(a, &k, &v));
	CHECK(!strcmp(k, "key") && !strcmp(v, "va=lue"));
	CHECK(ctl_split_kv(b, &k, &v) == -EINVAL);
	CHECK(ctl_split_kv(c, &k, &v) == -EINVAL);
	CHECK_RC(ctl_split_kv(d, &k, &v));
	CHECK(!strcmp(k, "k") && !*v);
}

TEST(crispctl_id_prefix)
{
	static const char *const ids[] = { "abc123", "abd456", "abc", "ffff" };
	char *id = NULL;
	CHECK_RC(ctl_id_pick("container", "abd", ids, 4, CTL_CALL_QUIET, &id));
	CHECK(!strcmp(id, "abd456"));
	free(id);
	/* "abc" is a whole id and the prefix of another: the whole id wins */
	CHECK_RC(ctl_id_pick("container", "abc", ids, 4, CTL_CALL_QUIET, &id));
	CHECK(!strcmp(id, "abc"));
	free(id);
	CHECK_RC(ctl_id_pick("container", "abc1", ids, 4, CTL_CALL_QUIET, &id));
	CHECK(!strcmp(id, "abc123"));
	free(id);
	CHECK(ctl_id_pick("container", "ab", ids, 4, CTL_CALL_QUIET, &id) == -EEXIST);
	CHECK(ctl_id_pick("pod", "0", ids, 4, CTL_CALL_QUIET, &id) == -ENOENT);
	CHECK(ctl_id_pick("pod", "f", ids, 0, CTL_CALL_QUIET, &id) == -ENOENT);
}
