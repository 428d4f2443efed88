/*
 * test_oci_spec: sandboxd/oci's whole document and its process part:
 * defaults, the command/args matrix, env merge, cwd, stop signal, oom
 * clamp, capabilities, privileged, the size cap. Requests are protobuf-c
 * structs built by hand (test_oci_spec_lib), the JSON is parsed back.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/status.h"
#include "tests/unit/test_oci_spec_lib.h"
#include "tests/unit/unit.h"

#define INVALID CRISP_STATUS_INVALID_ARGUMENT

static size_t arr_len(json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

TEST(oci_spec_defaults)
{
	struct t_spec t;
	t_init(&t);
	/* annotations of the request must never reach the spec */
	Runtime__V1__ContainerConfig__AnnotationsEntry ca = RUNTIME__V1__CONTAINER_CONFIG__ANNOTATIONS_ENTRY__INIT;
	Runtime__V1__ContainerConfig__AnnotationsEntry *cap[] = { &ca };
	ca.key = "io.katacontainers.config.hypervisor.path";
	ca.value = "/evil";
	t.cfg.annotations = cap;
	t.cfg.n_annotations = 1;
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "ociVersion"), "1.0.2-dev");
	STR_EQ(t_str(&t, "root.path"), t.rootfs);
	CHECK(!json_object_get_boolean(t_get(&t, "root.readonly")));
	CHECK(!json_object_get_boolean(t_get(&t, "process.terminal")));
	STR_EQ(t_str(&t, "process.cwd"), "/");
	STR_EQ(t_str(&t, "process.args[0]"), "/bin/sh");
	CHECK(arr_len(t_get(&t, "process.args")) == 1);
	CHECK(!json_object_get_boolean(t_get(&t, "process.noNewPrivileges")));
	CHECK(t_get(&t, "process.rlimits") == NULL);    /* containerd's CRI removes them */
	CHECK(t_get(&t, "process.oomScoreAdj") == NULL);
	CHECK(t_get(&t, "process.apparmorProfile") == NULL && t_get(&t, "linux.seccomp") == NULL);
	CHECK(t_get(&t, "hostname") == NULL);
	CHECK(t_int(&t, "process.user.uid") == 0 && t_int(&t, "process.user.gid") == 0);
	/* the default capability set, in three sets */
	const char *const defcaps[] = { "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
		"CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE" };
	for (size_t i = 0; i < 14; i++)
		CHECK(t_has_str(t_get(&t, "process.capabilities.bounding"), defcaps[i]) &&
		      t_has_str(t_get(&t, "process.capabilities.effective"), defcaps[i]) &&
		      t_has_str(t_get(&t, "process.capabilities.permitted"), defcaps[i]));
	CHECK(arr_len(t_get(&t, "process.capabilities.bounding")) == 14);
	CHECK(!t_get(&t, "process.capabilities.inheritable") && !t_get(&t, "process.capabilities.ambient"));
	/* env: default PATH, then HOSTNAME */
	STR_EQ(t_str(&t, "process.env[0]"), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	STR_EQ(t_str(&t, "process.env[1]"), "HOSTNAME=pod1");
	CHECK(arr_len(t_get(&t, "process.env")) == 2);
	/* linux */
	STR_EQ(t_str(&t, "linux.cgroupsPath"), "/crisp/pod1/ctr1");
	CHECK(json_object_get_boolean(t_get(&t, "linux.resources.devices[0].allow")) == 0);
	STR_EQ(t_str(&t, "linux.resources.devices[0].access"), "rwm");
	CHECK(arr_len(t_get(&t, "linux.resources.devices")) == 1);
	CHECK(t_has_str(t_get(&t, "linux.maskedPaths"), "/proc/kcore"));
	CHECK(t_has_str(t_get(&t, "linux.readonlyPaths"), "/proc/sys"));
	CHECK(t_get(&t, "linux.sysctl") == NULL);
	/* annotations: only ours */
	json_object *ann = t_get(&t, "annotations");
	CHECK(ann && json_object_object_length(ann) == 6);
	CHECK(t_member(ann, "io.katacontainers.config.hypervisor.path") == NULL);
	STR_EQ(t_member(ann, "io.kubernetes.cri.container-type"), "container");
	STR_EQ(t_member(ann, "io.kubernetes.cri.sandbox-id"), "podid1");
	STR_EQ(t_member(ann, "io.kubernetes.cri.container-name"), "c1");
	STR_EQ(t_member(ann, "io.kubernetes.cri.sandbox-namespace"), "default");
	/* the output */
	CHECK(t.out.uid == 0 && t.out.gid == 0 && t.out.n_groups >= 1 && t.out.groups[0] == 0);
	CHECK(t.out.stop_signal == SIGTERM);
	CHECK(!t.out.tty && !t.out.stdin && !t.out.stdin_once);
	t_done(&t);
	oci_output_clear(&t.out);       /* twice is fine */
}

TEST(oci_spec_args_matrix)
{
	struct t_spec t;
	t_init(&t);
	char *ep[] = { "/entry", "-e" }, *cmd[] = { "imgcmd", "x" };
	char *ccmd[] = { "/cmd" }, *cargs[] = { "a1", "a2" };
	t.image.entrypoint = ep;
	t.image.n_entrypoint = 2;
	t.image.cmd = cmd;
	t.image.n_cmd = 2;
	/* no command, no args: entrypoint + cmd */
	t.cfg.n_command = 0;
	BUILD_OK(&t);
	CHECK(arr_len(t_get(&t, "process.args")) == 4);
	STR_EQ(t_str(&t, "process.args[0]"), "/entry");
	STR_EQ(t_str(&t, "process.args[2]"), "imgcmd");
	/* args only: entrypoint + args */
	t.cfg.args = cargs;
	t.cfg.n_args = 2;
	BUILD_OK(&t);
	CHECK(arr_len(t_get(&t, "process.args")) == 4);
	STR_EQ(t_str(&t, "process.args[1]"), "-e");
	STR_EQ(t_str(&t, "process.args[2]"), "a1");
	/* command + args: the image's are ignored */
	t.cfg.command = ccmd;
	t.cfg.n_command = 1;
	BUILD_OK(&t);
	CHECK(arr_len(t_get(&t, "process.args")) == 3);
	STR_EQ(t_str(&t, "process.args[0]"), "/cmd");
	STR_EQ(t_str(&t, "process.args[2]"), "a2");
	/* command only */
	t.cfg.n_args = 0;
	BUILD_OK(&t);
	CHECK(arr_len(t_get(&t, "process.args")) == 1);
	/* an entrypoint of [""] counts as none */
	char *empty[] = { "" };
	t.cfg.n_command = 0;
	t.image.entrypoint = empty;
	t.image.n_entrypoint = 1;
	BUILD_OK(&t);
	CHECK(arr_len(t_get(&t, "process.args")) == 2);
	STR_EQ(t_str(&t, "process.args[0]"), "imgcmd");
	/* nothing at all */
	t.image.n_entrypoint = 0;
	t.image.n_cmd = 0;
	EXPECT_ERR(&t, t_build(&t), INVALID, "no command specified");
	t_done(&t);
}

TEST(oci_spec_env_merge)
{
	struct t_spec t;
	t_init(&t);
	char *ienv[] = { "FOO=img", "PATH=/img/bin", "GONE=1", "BAR=b", "GONE", "HOSTNAME=imghost" };
	t.image.env = ienv;
	t.image.n_env = 6;
	Runtime__V1__KeyValue k1 = RUNTIME__V1__KEY_VALUE__INIT, k2 = RUNTIME__V1__KEY_VALUE__INIT,
			      k3 = RUNTIME__V1__KEY_VALUE__INIT;
	Runtime__V1__KeyValue *envs[] = { &k1, &k2, &k3 };
	k1.key = "FOO";
	k1.value = (ProtobufCBinaryData){ 3, (uint8_t *)"cri" };
	k2.key = "NEW";
	k2.value = (ProtobufCBinaryData){ 5, (uint8_t *)"a=b c" };
	k3.key = "EMPTY";
	t.cfg.envs = envs;
	t.cfg.n_envs = 3;
	BUILD_OK(&t);
	/* PATH replaced in place, HOSTNAME too (containerd's order), FOO by the request,
	 * GONE unset by the image's bare "GONE" */
	STR_EQ(t_str(&t, "process.env[0]"), "PATH=/img/bin");
	STR_EQ(t_str(&t, "process.env[1]"), "HOSTNAME=imghost");
	STR_EQ(t_str(&t, "process.env[2]"), "FOO=cri");
	STR_EQ(t_str(&t, "process.env[3]"), "BAR=b");
	STR_EQ(t_str(&t, "process.env[4]"), "NEW=a=b c");
	STR_EQ(t_str(&t, "process.env[5]"), "EMPTY=");
	CHECK(arr_len(t_get(&t, "process.env")) == 6);
	/* no pod hostname: the node's */
	t.image.n_env = 0;
	t.cfg.n_envs = 0;
	t.pod_cfg.hostname = "";
	char node[256] = "", want[300];
	CHECK(gethostname(node, sizeof node) == 0);
	snprintf(want, sizeof want, "HOSTNAME=%s", node);
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "process.env[1]"), want);
	t_done(&t);
}

TEST(oci_spec_env_rejects)
{
	struct t_spec t;
	t_init(&t);
	Runtime__V1__KeyValue k0 = RUNTIME__V1__KEY_VALUE__INIT, k1 = RUNTIME__V1__KEY_VALUE__INIT;
	Runtime__V1__KeyValue *envs[] = { &k0, &k1 };
	k0.key = "OK";
	k0.value = (ProtobufCBinaryData){ 1, (uint8_t *)"1" };
	t.cfg.envs = envs;
	t.cfg.n_envs = 2;
	k1.key = "";
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.envs[1].key: empty");
	k1.key = "A=B";
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.envs[1].key: holds '='");
	k1.key = "SECRET";
	k1.value = (ProtobufCBinaryData){ 7, (uint8_t *)"hunt\0er" };
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.envs[1].value: holds a NUL");
	CHECK(!strstr(t.err.msg, "hunt"));     /* values are never quoted */
	k1.value = (ProtobufCBinaryData){ 6, (uint8_t *)"hunter" };
	BUILD_OK(&t);
	/* image entries with an empty name */
	char *bad[] = { "=x" };
	t.image.env = bad;
	t.image.n_env = 1;
	EXPECT_ERR(&t, t_build(&t), INVALID, "image config Env[0]");
	t_done(&t);
}

TEST(oci_spec_cwd_tty)
{
	struct t_spec t;
	t_init(&t);
	t.image.working_dir = "/img";
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "process.cwd"), "/img");
	t.cfg.working_dir = "/work";
	t.cfg.tty = 1;
	t.cfg.stdin = 1;
	t.cfg.stdin_once = 1;
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "process.cwd"), "/work");
	CHECK(json_object_get_boolean(t_get(&t, "process.terminal")));
	CHECK(t.out.tty && t.out.stdin && t.out.stdin_once);
	t.cfg.working_dir = "work";
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.working_dir: not an absolute path");
	t.cfg.working_dir = "";
	t.image.working_dir = "rel";
	EXPECT_ERR(&t, t_build(&t), INVALID, "image config WorkingDir");
	t_done(&t);
}

TEST(oci_spec_stop_signal)
{
	struct t_spec t;
	t_init(&t);
	const struct { const char *img; int sig; } ok[] = {
		{ "SIGUSR1", SIGUSR1 }, { "TERM", SIGTERM }, { "9", 9 }, { "sigquit", SIGQUIT },
		{ "SIGRTMIN+3", 37 }, { "RTMAX-1", 63 }, { "RTMIN", 34 }, { "SIGWINCH", SIGWINCH },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		t.image.stop_signal = (char *)ok[i].img;
		BUILD_OK(&t);
		CHECK(t.out.stop_signal == ok[i].sig);
	}
	const char *bad[] = { "SIGFOO", "0", "65", "-1", "RTMIN+16", "RTMAX+1", "SIG", "9x" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t.image.stop_signal = (char *)bad[i];
		EXPECT_ERR(&t, t_build(&t), INVALID, "StopSignal");
	}
	/* the request wins, in the CRI's numbering */
	t.cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGKILL;
	BUILD_OK(&t);
	CHECK(t.out.stop_signal == SIGKILL);
	t.cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGUSR2;
	BUILD_OK(&t);
	CHECK(t.out.stop_signal == SIGUSR2);
	t.cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMIN;
	BUILD_OK(&t);
	CHECK(t.out.stop_signal == 34);
	t.cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMAXMINUS1;
	BUILD_OK(&t);
	CHECK(t.out.stop_signal == 63);
	t.cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMAX;
	BUILD_OK(&t);
	CHECK(t.out.stop_signal == 64);
	t.cfg.stop_signal = 66;
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.stop_signal");
	t_done(&t);
}

TEST(oci_spec_oom_score_adj)
{
	struct t_spec t;
	t_init(&t);
	t.lc.resources = &t.res;
	t.host.oom_score_adj_min = -500;
	t.res.oom_score_adj = -999;
	BUILD_OK(&t);
	CHECK(t_int(&t, "process.oomScoreAdj") == -500);
	t.res.oom_score_adj = 100;
	BUILD_OK(&t);
	CHECK(t_int(&t, "process.oomScoreAdj") == 100);
	t.res.oom_score_adj = 1001;
	EXPECT_ERR(&t, t_build(&t), INVALID, "oom_score_adj");
	t_done(&t);
}

TEST(oci_spec_capabilities)
{
	struct t_spec t;
	t_init(&t);
	t.sc.capabilities = &t.caps;
	char *add[] = { "NET_ADMIN", "cap_sys_time" }, *drop[] = { "CHOWN", "CAP_KILL" };
	t.caps.add_capabilities = add;
	t.caps.n_add_capabilities = 2;
	t.caps.drop_capabilities = drop;
	t.caps.n_drop_capabilities = 2;
	BUILD_OK(&t);
	json_object *b = t_get(&t, "process.capabilities.bounding");
	json_object *e = t_get(&t, "process.capabilities.effective");
	CHECK(t_has_str(b, "CAP_NET_ADMIN") && t_has_str(e, "CAP_SYS_TIME"));
	CHECK(!t_has_str(b, "CAP_CHOWN") && !t_has_str(e, "CAP_KILL"));
	CHECK(t_has_str(b, "CAP_SETUID") && arr_len(b) == 14);
	/* ALL, then drop one */
	char *all[] = { "ALL" }, *one[] = { "SYS_ADMIN" };
	t.caps.add_capabilities = all;
	t.caps.n_add_capabilities = 1;
	t.caps.n_drop_capabilities = 1;
	BUILD_OK(&t);
	b = t_get(&t, "process.capabilities.permitted");
	CHECK(arr_len(b) == 40 && !t_has_str(b, "CAP_CHOWN") && t_has_str(b, "CAP_CHECKPOINT_RESTORE"));
	/* drop ALL, add one */
	char *lall[] = { "all" };
	t.caps.add_capabilities = one;
	t.caps.drop_capabilities = lall;
	BUILD_OK(&t);
	b = t_get(&t, "process.capabilities.bounding");
	CHECK(arr_len(b) == 1 && t_has_str(b, "CAP_SYS_ADMIN"));
	/* ambient: in ambient, inheritable and the three others */
	char *amb[] = { "NET_BIND_SERVICE" };
	t.caps.n_drop_capabilities = 0;
	t.caps.n_add_capabilities = 0;
	t.caps.add_ambient_capabilities = amb;
	t.caps.n_add_ambient_capabilities = 1;
	BUILD_OK(&t);
	CHECK(t_has_str(t_get(&t, "process.capabilities.ambient"), "CAP_NET_BIND_SERVICE"));
	CHECK(t_has_str(t_get(&t, "process.capabilities.inheritable"), "CAP_NET_BIND_SERVICE"));
	CHECK(arr_len(t_get(&t, "process.capabilities.ambient")) == 1);
	/* unknown names */
	char *bad[] = { "NET_ADMIN", "CAP_NOPE" };
	t.caps.add_capabilities = bad;
	t.caps.n_add_capabilities = 2;
	EXPECT_ERR(&t, t_build(&t), INVALID, "add_capabilities[1]: unknown capability \"CAP_NOPE\"");
	t.caps.n_add_capabilities = 0;
	t.caps.drop_capabilities = bad;
	t.caps.n_drop_capabilities = 2;
	EXPECT_ERR(&t, t_build(&t), INVALID, "drop_capabilities[1]");
	t.caps.n_drop_capabilities = 0;
	t.caps.add_ambient_capabilities = all;
	EXPECT_ERR(&t, t_build(&t), INVALID, "add_ambient_capabilities[0]");
	t_done(&t);
}

TEST(oci_spec_privileged)
{
	struct t_spec t;
	t_init(&t);
	t.sc.privileged = 1;
	EXPECT_ERR(&t, t_build(&t), INVALID, "the pod is not privileged");
	t.pod_sc.privileged = 1;
	/* add/drop are overridden by privileged (still checked) */
	t.sc.capabilities = &t.caps;
	char *drop[] = { "SYS_ADMIN" };
	t.caps.drop_capabilities = drop;
	t.caps.n_drop_capabilities = 1;
	BUILD_OK(&t);
	json_object *b = t_get(&t, "process.capabilities.bounding");
	CHECK(arr_len(b) == 41 && t_has_str(b, "CAP_SYS_ADMIN"));
	CHECK(arr_len(t_get(&t, "process.capabilities.effective")) == 41);
	CHECK(t_get(&t, "linux.maskedPaths") == NULL && t_get(&t, "linux.readonlyPaths") == NULL);
	CHECK(t_has_str(t_get(&t, "mounts[4].options"), "rw"));
	STR_EQ(t_str(&t, "mounts[4].destination"), "/sys");
	CHECK(t_has_str(json_object_object_get(t_mount(&t, "/sys/fs/cgroup"), "options"), "rw"));
	/* the host's devices, and every device allowed */
	json_object *devs = t_get(&t, "linux.devices");
	bool null_found = false;
	for (size_t i = 0; i < arr_len(devs); i++) {
		const char *p = t_member(json_object_array_get_idx(devs, i), "path");
		CHECK(strncmp(p, "/dev/", 5) == 0 && strncmp(p, "/dev/pts/", 9) != 0);
		CHECK(strcmp(p, "/dev/console") != 0);
		null_found = null_found || strcmp(p, "/dev/null") == 0;
	}
	CHECK(null_found);
	CHECK(arr_len(t_get(&t, "linux.resources.devices")) == 1);
	CHECK(json_object_get_boolean(t_get(&t, "linux.resources.devices[0].allow")));
	STR_EQ(t_str(&t, "linux.resources.devices[0].access"), "rwm");
	/* "every capability" is what sandboxd has (here: all but SYS_RESOURCE, 24) */
	t.host.all_caps = ((1ULL << 41) - 1) & ~(1ULL << 24);
	BUILD_OK(&t);
	b = t_get(&t, "process.capabilities.bounding");
	CHECK(arr_len(b) == 40 && !t_has_str(b, "CAP_SYS_RESOURCE") && t_has_str(b, "CAP_BPF"));
	t.sc.privileged = 0;
	char *all[] = { "ALL" };
	t.caps.add_capabilities = all;
	t.caps.n_add_capabilities = 1;
	t.caps.n_drop_capabilities = 0;
	BUILD_OK(&t);
	b = t_get(&t, "process.capabilities.effective");
	CHECK(arr_len(b) == 40 && !t_has_str(b, "CAP_SYS_RESOURCE"));
	t.sc.privileged = 1;
	t.caps.n_add_capabilities = 0;
	t.caps.n_drop_capabilities = 1;
	/* still checked */
	char *bad[] = { "BOGUS" };
	t.caps.drop_capabilities = bad;
	EXPECT_ERR(&t, t_build(&t), INVALID, "drop_capabilities[0]");
	t_done(&t);
}

TEST(oci_spec_caps_on_size)
{
	struct t_spec t;
	t_init(&t);
	/* 40 args of 127 KiB: each under the per-arg cap, 5 MiB together */
	static char big[127 * 1024];
	memset(big, 'a', sizeof big - 1);
	char *args[40];
	for (size_t i = 0; i < 40; i++)
		args[i] = big;
	t.cfg.args = args;
	t.cfg.n_args = 40;
	EXPECT_ERR(&t, t_build(&t), INVALID, "the OCI spec would be");
	/* one arg over the cap */
	static char huge[129 * 1024];
	memset(huge, 'b', sizeof huge - 1);
	args[0] = huge;
	t.cfg.n_args = 1;
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.args[0]: longer than");
	/* too many args */
	static char *many[4097];
	for (size_t i = 0; i < 4097; i++)
		many[i] = "x";
	t.cfg.args = many;
	t.cfg.n_args = 4097;
	EXPECT_ERR(&t, t_build(&t), INVALID, "more than 4096");
	t_done(&t);
}
