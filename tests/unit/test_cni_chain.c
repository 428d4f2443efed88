/*
 * test_cni_chain: sandboxd/cni/chain.c, args.c and exec.c with fake plugins
 * (shell scripts that record what they were given): the config each plugin
 * of a list gets on ADD (name, cniVersion, prevResult, runtimeConfig only
 * for the capabilities it declares), its environment (and nothing else of
 * ours: variables, fds, blocked or ignored signals), DEL in reverse with
 * the stored result, an ADD failing half-way undone, a missing netns on
 * DEL, the time limit, the output cap, loopback.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/status.h"
#include "tests/unit/test_cni_lib.h"
#include "tests/unit/unit.h"

static const char *list3 =
	"{\"cniVersion\": \"1.0.0\", \"name\": \"testnet\", \"plugins\": ["
	"{\"type\": \"p1\", \"x\": 1, \"capabilities\": {\"portMappings\": true, \"bandwidth\": true}},"
	"{\"type\": \"p2\", \"name\": \"overwritten\"},"
	"{\"type\": \"p3\", \"capabilities\": {\"cgroupPath\": true, \"bandwidth\": false,"
	" \"portMappings\": \"yes\"}}]}";

struct pod_fixture {
	Runtime__V1__PortMapping pm[3];
	Runtime__V1__PortMapping *ports[3];
	struct cni_pod pod;
};

static void pod_init(struct pod_fixture *f, const struct tc_env *e)
{
	for (int i = 0; i < 3; i++) {
		f->pm[i] = (Runtime__V1__PortMapping)RUNTIME__V1__PORT_MAPPING__INIT;
		f->ports[i] = &f->pm[i];
	}
	f->pm[0].protocol = RUNTIME__V1__PROTOCOL__TCP;
	f->pm[0].container_port = 80;
	f->pm[0].host_port = 8080;
	f->pm[0].host_ip = "127.0.0.1";
	f->pm[1].protocol = RUNTIME__V1__PROTOCOL__UDP;         /* no host port: left out */
	f->pm[1].container_port = 53;
	f->pm[2].protocol = RUNTIME__V1__PROTOCOL__SCTP;
	f->pm[2].container_port = 9000;
	f->pm[2].host_port = 9001;
	f->pod = (struct cni_pod){
		.id = "0123abcd", .netns = e->netns, .name = "web", .namespace_ = "default",
		.uid = "uid-1", .ports = f->ports, .n_ports = 3, .ingress_bps = 1000000,
		.cgroup_path = "/kubepods/pod1",
	};
}

static const char *str_at(struct json_object *o, const char *path)
{
	struct json_object *v = tc_get(o, path);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static int64_t int_at(struct json_object *o, const char *path)
{
	struct json_object *v = tc_get(o, path);
	CHECK(v && json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static void expect_var(const struct tc_env *e, const char *type, const char *cmd,
		       const char *var, const char *want)
{
	char *v = tc_env_var(e, type, cmd, var);
	if (!v || strcmp(v, want) != 0) {
		fprintf(stderr, "  %s %s: %s=%s, wanted %s\n", type, cmd, var, v ? v : "(unset)",
			want);
		CHECK(0);
	}
	free(v);
}

static void expect_calls(const struct tc_env *e, const char *want)
{
	char *calls = tc_log(e, "calls");
	if (strcmp(calls, want) != 0) {
		fprintf(stderr, "  calls:\n%s  wanted:\n%s", calls, want);
		CHECK(0);
	}
	free(calls);
}

static void clear_calls(const struct tc_env *e)
{
	char calls[600];
	snprintf(calls, sizeof calls, "%s/calls", e->log);
	CHECK(unlink(calls) == 0);
}

static void load(const struct tc_env *e, const char *conflist, struct cni_net **ret)
{
	struct crisp_error err = { 0, "" };
	tc_put(e->conf, "10-test.conflist", conflist, 0644);
	if (cni_net_load(&e->s, ret, &err) < 0)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(*ret);
}

TEST(cni_chain_add_configs_and_env)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_plugin(&e, "p1", NULL);
	tc_plugin(&e, "p2", NULL);
	tc_plugin(&e, "p3", NULL);
	struct cni_net *net = NULL;
	load(&e, list3, &net);
	struct pod_fixture f;
	pod_init(&f, &e);
	/* what the plugins must not inherit */
	CHECK(setenv("CRISP_LEAK_TEST", "1", 1) == 0);
	int leak = open("/dev/null", O_RDONLY);        /* without O_CLOEXEC */
	CHECK(leak >= 0 && dup2(leak, 77) == 77);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	CHECK(sigprocmask(SIG_BLOCK, &block, NULL) == 0);
	CHECK(signal(SIGINT, SIG_IGN) != SIG_ERR);
	tc_put(e.bin, "p2", "#!/bin/sh\n"
	       "echo \"ADD p2\" >> \"$(dirname \"$0\")/../log/calls\"\n"
	       "cat > \"$(dirname \"$0\")/../log/p2.ADD.stdin\"\n"
	       "env > \"$(dirname \"$0\")/../log/p2.ADD.env\"\n"
	       "ls -1 /proc/$$/fd > \"$(dirname \"$0\")/../log/p2.fds\"\n"
	       "grep -E '^Sig(Blk|Ign)' /proc/$$/status > \"$(dirname \"$0\")/../log/p2.sig\"\n"
	       "echo '{\"cniVersion\": \"1.0.0\", \"interfaces\": [{\"name\": \"p2\"}]}'\n", 0755);

	struct cni_attachment att;
	struct crisp_error err = { 0, "" };
	int r = cni_add(&e.s, net, &f.pod, &att, &err);
	if (r < 0)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK_RC(r);
	expect_calls(&e, "ADD p1\nADD p2\nADD p3\n");

	/* p1: the list's name and version, no prevResult, its two capabilities */
	struct json_object *c = tc_stdin(&e, "p1", "ADD");
	CHECK(strcmp(str_at(c, "name"), "testnet") == 0);
	CHECK(strcmp(str_at(c, "cniVersion"), "1.0.0") == 0 && int_at(c, "x") == 1);
	CHECK(tc_get(c, "prevResult") == NULL);
	CHECK(json_object_array_length(tc_get(c, "runtimeConfig.portMappings")) == 2);
	CHECK(int_at(c, "runtimeConfig.portMappings.0.hostPort") == 8080);
	CHECK(int_at(c, "runtimeConfig.portMappings.0.containerPort") == 80);
	CHECK(strcmp(str_at(c, "runtimeConfig.portMappings.0.protocol"), "tcp") == 0);
	CHECK(strcmp(str_at(c, "runtimeConfig.portMappings.0.hostIP"), "127.0.0.1") == 0);
	CHECK(int_at(c, "runtimeConfig.portMappings.1.hostPort") == 9001);
	CHECK(strcmp(str_at(c, "runtimeConfig.portMappings.1.protocol"), "sctp") == 0);
	CHECK(tc_get(c, "runtimeConfig.portMappings.1.hostIP") == NULL);
	CHECK(int_at(c, "runtimeConfig.bandwidth.ingressRate") == 1000000);
	CHECK(int_at(c, "runtimeConfig.bandwidth.ingressBurst") == 4294967295LL);
	CHECK(tc_get(c, "runtimeConfig.bandwidth.egressRate") == NULL);
	CHECK(tc_get(c, "runtimeConfig.cgroupPath") == NULL);
	json_object_put(c);

	/* p2: declares nothing, gets no runtimeConfig; prevResult is p1's */
	c = tc_stdin(&e, "p2", "ADD");
	CHECK(tc_get(c, "runtimeConfig") == NULL);
	CHECK(strcmp(str_at(c, "name"), "testnet") == 0);
	CHECK(strcmp(str_at(c, "prevResult.interfaces.0.name"), "p1") == 0);
	json_object_put(c);

	/* p3: only cgroupPath (bandwidth false, portMappings not true) */
	c = tc_stdin(&e, "p3", "ADD");
	CHECK(strcmp(str_at(c, "runtimeConfig.cgroupPath"), "/kubepods/pod1") == 0);
	CHECK(json_object_object_length(tc_get(c, "runtimeConfig")) == 1);
	CHECK(strcmp(str_at(c, "prevResult.interfaces.0.name"), "p2") == 0);
	json_object_put(c);

	expect_var(&e, "p1", "ADD", "CNI_COMMAND", "ADD");
	expect_var(&e, "p1", "ADD", "CNI_CONTAINERID", "0123abcd");
	expect_var(&e, "p1", "ADD", "CNI_NETNS", e.netns);
	expect_var(&e, "p1", "ADD", "CNI_IFNAME", "eth0");
	expect_var(&e, "p1", "ADD", "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;"
		   "K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=0123abcd;K8S_POD_UID=uid-1");
	expect_var(&e, "p1", "ADD", "CNI_PATH", e.bin);
	expect_var(&e, "p1", "ADD", "PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
	char *leaked = tc_env_var(&e, "p1", "ADD", "CRISP_LEAK_TEST");
	CHECK(leaked == NULL);
	char *fds = tc_log(&e, "p2.fds"), *sig = tc_log(&e, "p2.sig");
	CHECK(strstr(fds, "77\n") == NULL && strstr(fds, "0\n1\n"));
	/* nothing blocked; nothing of 1..31 ignored (glibc's posix_spawn leaves
	 * its own internal signals 32 and 33 ignored in the child) */
	unsigned long long blk = 1, ign = 1;
	if (sscanf(sig, "SigBlk:\t%llx\nSigIgn:\t%llx", &blk, &ign) != 2 || blk ||
	    (ign & 0x7fffffffULL))
		fprintf(stderr, "  the plugin's signals:\n%s", sig);
	CHECK(blk == 0 && (ign & 0x7fffffffULL) == 0);
	free(fds);
	free(sig);

	/* the attachment: p3's result, the list's exact text */
	CHECK(att.n_ips == 1 && strcmp(att.ips[0], "10.1.0.3") == 0);
	CHECK(strcmp(att.net_json, net->json) == 0);
	CHECK(strstr(att.result_json, "\"p3\"") != NULL);
	cni_attachment_clear(&att);
	cni_net_free(net);
}

TEST(cni_chain_del_reverse_with_stored_result)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_plugin(&e, "p1", NULL);
	tc_plugin(&e, "p2", NULL);
	tc_plugin(&e, "p3", NULL);
	struct cni_net *net = NULL;
	load(&e, list3, &net);
	struct pod_fixture f;
	pod_init(&f, &e);
	struct cni_attachment att;
	struct crisp_error err = { 0, "" };
	CHECK_RC(cni_add(&e.s, net, &f.pod, &att, &err));
	cni_net_free(net);                      /* DEL needs only what ADD stored */
	tc_put(e.conf, "10-test.conflist", "{}", 0644);
	clear_calls(&e);

	CHECK_RC(cni_del(&e.s, NULL, &att, &f.pod, &err));
	expect_calls(&e, "DEL p3\nDEL p2\nDEL p1\n");
	for (int i = 1; i <= 3; i++) {
		char type[8];
		snprintf(type, sizeof type, "p%d", i);
		struct json_object *c = tc_stdin(&e, type, "DEL");
		CHECK(strcmp(str_at(c, "prevResult.interfaces.0.name"), "p3") == 0);
		CHECK(strcmp(str_at(c, "name"), "testnet") == 0);
		if (i == 1)             /* the same runtimeConfig as on ADD */
			CHECK(int_at(c, "runtimeConfig.portMappings.0.hostPort") == 8080);
		json_object_put(c);
		expect_var(&e, type, "DEL", "CNI_COMMAND", "DEL");
		expect_var(&e, type, "DEL", "CNI_NETNS", e.netns);
	}

	/* the netns is gone: CNI_NETNS "" and DEL still succeeds */
	CHECK(unlink(e.netns) == 0);
	CHECK_RC(cni_del(&e.s, NULL, &att, &f.pod, &err));
	expect_var(&e, "p1", "DEL", "CNI_NETNS", "");
	expect_var(&e, "p3", "DEL", "CNI_NETNS", "");

	/* one plugin failing does not stop the others; its error is returned */
	clear_calls(&e);
	tc_plugin(&e, "p3", "if [ \"$CNI_COMMAND\" = DEL ]; then echo '{\"code\": 5, "
		  "\"msg\": \"iptables is locked\"}'; exit 1; fi");
	CHECK(cni_del(&e.s, NULL, &att, &f.pod, &err) < 0);
	CHECK(strstr(err.msg, "CNI plugin p3 (DEL) failed: iptables is locked"));
	expect_calls(&e, "DEL p3\nDEL p2\nDEL p1\n");
	tc_plugin(&e, "p3", NULL);

	/* ADD never stored its result: DEL without prevResult */
	free(att.result_json);
	att.result_json = NULL;
	CHECK_RC(cni_del(&e.s, NULL, &att, &f.pod, &err));
	struct json_object *c = tc_stdin(&e, "p2", "DEL");
	CHECK(tc_get(c, "prevResult") == NULL);
	json_object_put(c);
	cni_attachment_clear(&att);

	/* no attachment at all: on the network given */
	struct cni_net *n2 = tc_net("{\"cniVersion\": \"1.0.0\", \"name\": \"other\", \"plugins\": "
				    "[{\"type\": \"p2\"}]}");
	CHECK_RC(cni_del(&e.s, n2, NULL, &f.pod, &err));
	c = tc_stdin(&e, "p2", "DEL");
	CHECK(strcmp(str_at(c, "name"), "other") == 0 && tc_get(c, "prevResult") == NULL);
	json_object_put(c);
	cni_net_free(n2);
	CHECK(cni_del(&e.s, NULL, NULL, &f.pod, &err) < 0);
}

TEST(cni_chain_del_old_spec_has_no_prev_result)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_plugin(&e, "p1", NULL);
	struct cni_net *net = tc_net("{\"cniVersion\": \"0.3.1\", \"name\": \"old\", \"plugins\": "
				     "[{\"type\": \"p1\"}]}");
	struct pod_fixture f;
	pod_init(&f, &e);
	struct cni_attachment att;
	struct crisp_error err = { 0, "" };
	CHECK_RC(cni_add(&e.s, net, &f.pod, &att, &err));
	CHECK_RC(cni_del(&e.s, net, &att, &f.pod, &err));
	struct json_object *c = tc_stdin(&e, "p1", "DEL");
	CHECK(tc_get(c, "prevResult") == NULL && strcmp(str_at(c, "cniVersion"), "0.3.1") == 0);
	json_object_put(c);
	cni_attachment_clear(&att);
	cni_net_free(net);
}

TEST(cni_chain_add_failure_undoes)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_plugin(&e, "p1", NULL);
	tc_plugin(&e, "p2", "if [ \"$CNI_COMMAND\" = ADD ]; then\n"
		  "echo '{\"cniVersion\": \"1.0.0\", \"code\": 7, \"msg\": \"bad config\", "
		  "\"details\": \"field x\"}'\necho oops >&2\nexit 1\nfi");
	tc_plugin(&e, "p3", NULL);
	struct cni_net *net = NULL;
	load(&e, list3, &net);
	struct pod_fixture f;
	pod_init(&f, &e);
	struct cni_attachment att = { NULL, NULL, NULL, 0 };
	struct crisp_error err = { 0, "" };
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0);
	CHECK(att.net_json == NULL && att.ips == NULL);         /* untouched */
	expect_calls(&e, "ADD p1\nADD p2\nDEL p2\nDEL p1\n");
	CHECK(err.code == CRISP_STATUS_UNKNOWN);
	if (!strstr(err.msg, "CNI plugin p2 (ADD) failed: bad config (field x) (CNI error 7, "
		    "exit status 1); stderr: oops"))
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(strstr(err.msg, "CNI plugin p2 (ADD) failed: bad config (field x) (CNI error 7, "
		     "exit status 1); stderr: oops"));
	struct json_object *c = tc_stdin(&e, "p1", "DEL");      /* with what ADD got so far */
	CHECK(strcmp(str_at(c, "prevResult.interfaces.0.name"), "p1") == 0);
	json_object_put(c);

	/* when undoing fails too, both are told */
	tc_plugin(&e, "p1", "if [ \"$CNI_COMMAND\" = DEL ]; then echo '{\"code\": 5, "
		  "\"msg\": \"cannot undo\"}'; exit 1; fi\n"
		  "echo '{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": \"10.1.0.1/24\"}]}'");
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0);
	CHECK(strstr(err.msg, "bad config") && strstr(err.msg, "undoing the ADD failed") &&
	      strstr(err.msg, "cannot undo"));

	/* a chain whose result gives no IP is undone as well */
	clear_calls(&e);
	tc_plugin(&e, "p2", "echo '{\"cniVersion\": \"1.0.0\"}'");
	tc_plugin(&e, "p3", "echo '{\"cniVersion\": \"1.0.0\"}'");
	tc_plugin(&e, "p1", NULL);
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0 && strstr(err.msg, "no IP address"));
	expect_calls(&e, "ADD p1\nADD p2\nADD p3\nDEL p3\nDEL p2\nDEL p1\n");
	cni_net_free(net);
}

TEST(cni_chain_refusals)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_plugin(&e, "p1", NULL);
	struct pod_fixture f;
	pod_init(&f, &e);
	struct cni_attachment att;
	struct crisp_error err = { 0, "" };
	static const char *const lists[] = {
		"{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": [{\"type\": \"../p1\"}]}",
		"{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": [{\"type\": \"nosuch\"}]}",
		"{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": []}",
		"{\"name\": \"n\", \"plugins\": [{\"type\": \"p1\"}]}",
		"not json",
	};
	static const char *const words[] = {
		"not a plain name", "CNI plugin \"nosuch\" (named in network \"n\") not found",
		"not valid", "not valid", "not valid",
	};
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		struct cni_net *net = tc_net(lists[i]);
		int r = cni_add(&e.s, net, &f.pod, &att, &err);
		if (r >= 0 || !strstr(err.msg, words[i]))
			fprintf(stderr, "  %zu: %s\n", i, err.msg);
		CHECK(r < 0 && strstr(err.msg, words[i]));
		cni_net_free(net);
	}
	expect_calls(&e, "");

	struct cni_net *net = tc_net("{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": "
				     "[{\"type\": \"p1\"}]}");
	f.pod.id = "bad id";
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0 &&
	      err.code == CRISP_STATUS_INVALID_ARGUMENT);
	f.pod.id = "ok";
	f.pod.name = "a;K8S_POD_UID=evil";
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0 && strstr(err.msg, "CNI_ARGS"));
	f.pod.name = "web";
	f.pod.netns = "/nonexistent/netns";
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0 &&
	      err.code == CRISP_STATUS_FAILED_PRECONDITION && strstr(err.msg, "does not exist"));
	expect_calls(&e, "");
	tc_put(e.bin, "p1", "#!/bin/sh\n", 0644);              /* not executable */
	f.pod.netns = e.netns;
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0 && strstr(err.msg, "is not executable"));
	cni_net_free(net);
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

TEST(cni_chain_time_limit)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_plugin(&e, "slow", "if [ \"$CNI_COMMAND\" = ADD ]; then\n"
		  "echo 'working on it' >&2\n"
		  "sleep 30 & echo $! > \"$log/sleep.pid\"; wait; fi");
	struct cni_net *net = tc_net("{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": "
				     "[{\"type\": \"slow\"}]}");
	struct pod_fixture f;
	pod_init(&f, &e);
	e.s.timeout_ms = 300;
	struct cni_attachment att;
	struct crisp_error err = { 0, "" };
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0);
	CHECK(elapsed(&t0) < 5);
	CHECK(err.code == CRISP_STATUS_DEADLINE_EXCEEDED);
	CHECK(strstr(err.msg, "CNI plugin slow (ADD) did not finish within 300 ms: killed; "
		     "stderr: working on it"));
	expect_calls(&e, "ADD slow\nDEL slow\n");
	/* what it started went with it (its process group was killed) */
	char *pid = tc_log(&e, "sleep.pid");
	CHECK(atoi(pid) > 0);
	char stat_path[64];
	snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", atoi(pid));
	bool gone = false;
	for (int i = 0; i < 200 && !gone; i++) {
		FILE *fp = fopen(stat_path, "r");
		char line[512] = "";
		if (!fp || !fgets(line, sizeof line, fp) || strstr(line, ") Z "))
			gone = true;
		if (fp)
			fclose(fp);
		if (!gone)
			usleep(10000);
	}
	CHECK(gone);
	free(pid);
	cni_net_free(net);
}

TEST(cni_chain_output_caps)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_plugin(&e, "loud", "if [ \"$CNI_COMMAND\" = ADD ]; then head -c 2000000 /dev/zero; fi");
	tc_plugin(&e, "chatty", "head -c 100000 /dev/zero | tr '\\000' x >&2\n"
		  "echo '{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": \"10.1.0.9/24\"}]}'");
	struct pod_fixture f;
	pod_init(&f, &e);
	struct cni_attachment att;
	struct crisp_error err = { 0, "" };
	struct cni_net *net = tc_net("{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": "
				     "[{\"type\": \"loud\"}]}");
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0);
	CHECK(err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	CHECK(strstr(err.msg, "CNI plugin loud (ADD) printed more than 1048576 bytes"));
	cni_net_free(net);

	/* stderr is cut, not an error; a big config reaches stdin whole */
	char *big = malloc(400000);
	CHECK(big);
	int n = snprintf(big, 400000, "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": "
			 "[{\"type\": \"chatty\", \"pad\": \"");
	memset(big + n, 'p', 300000);
	strcpy(big + n + 300000, "\"}]}");
	net = tc_net(big);
	CHECK_RC(cni_add(&e.s, net, &f.pod, &att, &err));
	CHECK(att.n_ips == 1 && strcmp(att.ips[0], "10.1.0.9") == 0);
	struct json_object *c = tc_stdin(&e, "chatty", "ADD");
	CHECK(strlen(str_at(c, "pad")) == 300000);
	json_object_put(c);
	cni_attachment_clear(&att);
	cni_net_free(net);
	free(big);

	/* a failing plugin's stderr in the error is cut too */
	tc_plugin(&e, "chatty", "head -c 100000 /dev/zero | tr '\\000' x >&2; exit 1");
	net = tc_net("{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": "
		     "[{\"type\": \"chatty\"}]}");
	CHECK(cni_add(&e.s, net, &f.pod, &att, &err) < 0 && strstr(err.msg, "stderr: xxxx"));
	CHECK(strlen(err.msg) < sizeof err.msg);
	cni_net_free(net);
}

TEST(cni_chain_loopback)
{
	struct tc_env e;
	tc_env_init(&e);
	tc_plugin(&e, "loopback", NULL);
	struct crisp_error err = { 0, "" };
	CHECK_RC(cni_loopback(&e.s, e.netns, &err));
	expect_calls(&e, "ADD loopback\n");
	struct json_object *c = tc_stdin(&e, "loopback", "ADD");
	CHECK(strcmp(str_at(c, "type"), "loopback") == 0);
	CHECK(strcmp(str_at(c, "cniVersion"), "0.3.1") == 0);
	json_object_put(c);
	expect_var(&e, "loopback", "ADD", "CNI_IFNAME", "lo");
	expect_var(&e, "loopback", "ADD", "CNI_NETNS", e.netns);
	CHECK(cni_loopback(&e.s, "/nonexistent", &err) < 0);
	tc_plugin(&e, "loopback", "exit 3");
	CHECK(cni_loopback(&e.s, e.netns, &err) < 0 && strstr(err.msg, "exit status 3"));
}
