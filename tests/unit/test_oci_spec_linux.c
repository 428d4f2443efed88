/*
 * test_oci_spec_linux: sandboxd/oci's "linux" object: the namespaces for
 * each shape of pod, devices, resources (hugepages without hugetlb, swap,
 * unified), masked and read-only paths, and the pod's sysctls, accepted
 * and refused (including injection attempts).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "common/status.h"
#include "tests/unit/test_oci_spec_lib.h"
#include "tests/unit/unit.h"

#define INVALID CRISP_STATUS_INVALID_ARGUMENT

static size_t arr_len(json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* "pid,ipc=PATH,..." of linux.namespaces, in order */
static const char *ns_str(struct t_spec *t)
{
	static char buf[1024];
	buf[0] = '\0';
	json_object *a = t_get(t, "linux.namespaces");
	for (size_t i = 0; i < arr_len(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *p = t_member(e, "path");
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s%s%s", i ? "," : "",
			 t_member(e, "type"), p ? "=" : "", p ? p : "");
	}
	return buf;
}

TEST(oci_spec_namespaces)
{
	struct t_spec t;
	t_init(&t);
	/* own pid (CONTAINER), the pod's network, IPC, UTS */
	BUILD_OK(&t);
	STR_EQ(ns_str(&t), "pid,ipc=/run/crisp-test/ipcns/pod1,uts=/run/crisp-test/utsns/pod1,"
	       "mount,network=/run/crisp-test/netns/pod1");
	/* the pod's shared PID namespace */
	t.nsopt.pid = RUNTIME__V1__NAMESPACE_MODE__POD;
	t.pod.pid_ns_init = 4242;
	BUILD_OK(&t);
	STR_EQ(t_member(t_ns(&t, "pid"), "path"), "/proc/4242/ns/pid");
	/* POD without a pod-init: a namespace of its own */
	t.pod.pid_ns_init = 0;
	BUILD_OK(&t);
	CHECK(t_ns(&t, "pid") && !t_member(t_ns(&t, "pid"), "path"));
	/* host PID */
	t.nsopt.pid = RUNTIME__V1__NAMESPACE_MODE__NODE;
	t.pod.pid_ns_init = 4242;
	BUILD_OK(&t);
	CHECK(t_ns(&t, "pid") == NULL);
	/* host network (and so UTS), host IPC */
	t.pod.net_ns = NULL;
	t.pod.uts_ns = NULL;
	t.pod.ipc_ns = NULL;
	BUILD_OK(&t);
	STR_EQ(ns_str(&t), "mount");
	CHECK(t_get(&t, "hostname") == NULL);
	/* cgroup v2: a cgroup namespace, but not when privileged */
	t.host.cgroup_v2 = true;
	BUILD_OK(&t);
	STR_EQ(ns_str(&t), "mount,cgroup");
	t.sc.privileged = t.pod_sc.privileged = 1;
	BUILD_OK(&t);
	STR_EQ(ns_str(&t), "mount");
	t.sc.privileged = 0;
	/* not yet: TARGET, user namespaces */
	t.nsopt.pid = RUNTIME__V1__NAMESPACE_MODE__TARGET;
	t.nsopt.target_id = "other";
	EXPECT_ERR(&t, t_build(&t), INVALID, "namespace_options.pid: TARGET");
	t.nsopt.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	Runtime__V1__UserNamespace us = RUNTIME__V1__USER_NAMESPACE__INIT;
	us.mode = RUNTIME__V1__NAMESPACE_MODE__POD;
	t.pod_nsopt.userns_options = &us;
	EXPECT_ERR(&t, t_build(&t), INVALID, "user namespaces are not supported yet");
	t.pod_nsopt.userns_options = NULL;
	t.nsopt.userns_options = &us;
	EXPECT_ERR(&t, t_build(&t), INVALID, "user namespaces are not supported yet");
	us.mode = RUNTIME__V1__NAMESPACE_MODE__NODE;
	BUILD_OK(&t);
	/* no security context at all: POD pid mode (the pod's, or new) */
	t.lc.security_context = NULL;
	BUILD_OK(&t);
	STR_EQ(t_member(t_ns(&t, "pid"), "path"), "/proc/4242/ns/pid");
	t.pod.pid_ns_init = 0;
	BUILD_OK(&t);
	CHECK(t_ns(&t, "pid") && !t_member(t_ns(&t, "pid"), "path"));
	t.cfg.linux = NULL;
	t.pod_cfg.linux = NULL;
	BUILD_OK(&t);
	t_done(&t);
}

TEST(oci_spec_devices)
{
	struct t_spec t;
	t_init(&t);
	struct stat null_st;
	CHECK(stat("/dev/null", &null_st) == 0);
	char link[PATH_MAX + 16], file[PATH_MAX + 16];
	snprintf(link, sizeof link, "%s/nulllink", unit_tmpdir());
	CHECK(symlink("/dev/null", link) == 0);
	snprintf(file, sizeof file, "%s/plain", unit_tmpdir());
	t_write(unit_tmpdir(), "plain", "x");
	Runtime__V1__Device d0 = RUNTIME__V1__DEVICE__INIT, d1 = RUNTIME__V1__DEVICE__INIT;
	Runtime__V1__Device *ds[] = { &d0, &d1 };
	d0.host_path = "/dev/null";
	d0.container_path = "/dev/mynull";
	d0.permissions = "rw";
	d1.host_path = link;
	d1.container_path = "/dev/other//";
	t.cfg.devices = ds;
	t.cfg.n_devices = 2;
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "linux.devices[0].path"), "/dev/mynull");
	STR_EQ(t_str(&t, "linux.devices[0].type"), "c");
	CHECK(t_int(&t, "linux.devices[0].major") == major(null_st.st_rdev));
	CHECK(t_int(&t, "linux.devices[0].minor") == minor(null_st.st_rdev));
	CHECK(t_int(&t, "linux.devices[0].fileMode") == (null_st.st_mode & 07777));
	CHECK(t_int(&t, "linux.devices[0].uid") == 0 && t_int(&t, "linux.devices[0].gid") == 0);
	STR_EQ(t_str(&t, "linux.devices[1].path"), "/dev/other");
	/* deny all, then one allow rule per device */
	CHECK(arr_len(t_get(&t, "linux.resources.devices")) == 3);
	CHECK(!json_object_get_boolean(t_get(&t, "linux.resources.devices[0].allow")));
	CHECK(json_object_get_boolean(t_get(&t, "linux.resources.devices[1].allow")));
	STR_EQ(t_str(&t, "linux.resources.devices[1].type"), "c");
	CHECK(t_int(&t, "linux.resources.devices[1].major") == 1 && t_int(&t, "linux.resources.devices[1].minor") == 3);
	STR_EQ(t_str(&t, "linux.resources.devices[1].access"), "rw");
	STR_EQ(t_str(&t, "linux.resources.devices[2].access"), "rwm");   /* empty: rwm */
	/* container_path empty: the host path */
	d1.container_path = "";
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "linux.devices[1].path"), link);
	/* refused */
	const char *bad_perms[] = { "rwx", "rr", "rwmr", "R" };
	for (size_t i = 0; i < 4; i++) {
		d0.permissions = (char *)bad_perms[i];
		EXPECT_ERR(&t, t_build(&t), INVALID, "config.devices[0].permissions");
	}
	d0.permissions = "m";
	d1.host_path = "/dev/crisp-no-such-device";
	EXPECT_ERR(&t, t_build(&t), CRISP_STATUS_NOT_FOUND, "config.devices[1].host_path");
	d1.host_path = file;
	EXPECT_ERR(&t, t_build(&t), INVALID, "is not a device");
	d1.host_path = "/dev";
	EXPECT_ERR(&t, t_build(&t), INVALID, "is not a device");
	d1.host_path = "dev/null";
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.devices[1].host_path: not an absolute path");
	d1.host_path = "/dev/null";
	d1.container_path = "relative";
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.devices[1].container_path");
	/* privileged: a CRI device keeps its place, the host's come after */
	d1.container_path = "/dev/zero";
	t.sc.privileged = t.pod_sc.privileged = 1;
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "linux.devices[0].path"), "/dev/mynull");
	STR_EQ(t_str(&t, "linux.devices[1].path"), "/dev/zero");
	CHECK(t_int(&t, "linux.devices[1].minor") == 3);        /* our /dev/null at /dev/zero */
	json_object *devs = t_get(&t, "linux.devices");
	size_t zeros = 0;
	for (size_t i = 0; i < arr_len(devs); i++)
		zeros += strcmp(t_member(json_object_array_get_idx(devs, i), "path"), "/dev/zero") == 0;
	CHECK(zeros == 1 && arr_len(devs) > 3);
	t_done(&t);
}

TEST(oci_spec_resources)
{
	struct t_spec t;
	t_init(&t);
	t.lc.resources = &t.res;
	t.res.cpu_period = 100000;
	t.res.cpu_quota = 50000;
	t.res.cpu_shares = 512;
	t.res.cpuset_cpus = "0-1,3";
	t.res.cpuset_mems = "0";
	t.res.memory_limit_in_bytes = 64 << 20;
	Runtime__V1__HugepageLimit h = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
	Runtime__V1__HugepageLimit *hs[] = { &h };
	h.page_size = "2MB";
	h.limit = 4 << 20;
	t.res.hugepage_limits = hs;
	t.res.n_hugepage_limits = 1;
	BUILD_OK(&t);
	CHECK(t_int(&t, "linux.resources.cpu.period") == 100000);
	CHECK(t_int(&t, "linux.resources.cpu.quota") == 50000);
	CHECK(t_int(&t, "linux.resources.cpu.shares") == 512);
	STR_EQ(t_str(&t, "linux.resources.cpu.cpus"), "0-1,3");
	STR_EQ(t_str(&t, "linux.resources.cpu.mems"), "0");
	CHECK(t_int(&t, "linux.resources.memory.limit") == 64 << 20);
	CHECK(t_get(&t, "linux.resources.memory.swap") == NULL);        /* no swap controller */
	CHECK(t_get(&t, "linux.resources.hugepageLimits") == NULL);     /* no hugetlb: dropped */
	t.host.hugetlb = true;
	t.host.swap = true;
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "linux.resources.hugepageLimits[0].pageSize"), "2MB");
	CHECK(t_int(&t, "linux.resources.hugepageLimits[0].limit") == 4 << 20);
	CHECK(t_int(&t, "linux.resources.memory.swap") == 64 << 20);     /* no swap by default */
	t.res.memory_swap_limit_in_bytes = 128 << 20;
	BUILD_OK(&t);
	CHECK(t_int(&t, "linux.resources.memory.swap") == 128 << 20);
	t.res.memory_swap_limit_in_bytes = 32 << 20;
	EXPECT_ERR(&t, t_build(&t), INVALID, "memory_swap_limit_in_bytes");
	t.res.memory_swap_limit_in_bytes = 0;
	/* zeros leave things unset */
	Runtime__V1__LinuxContainerResources empty = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	t.lc.resources = &empty;
	BUILD_OK(&t);
	CHECK(t_get(&t, "linux.resources.cpu") == NULL && t_get(&t, "linux.resources.memory") == NULL);
	CHECK(t_int(&t, "process.oomScoreAdj") == 0);
	t.lc.resources = &t.res;
	/* names that become file names are checked */
	const char *bad_sizes[] = { "../2MB", "2mb", "2 MB", "MB", "02MB", "2MB/x", "2XB" };
	for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
		h.page_size = (char *)bad_sizes[i];
		EXPECT_ERR(&t, t_build(&t), INVALID, "hugepage_limits[0].page_size");
	}
	h.page_size = "1GB";
	t.res.cpuset_cpus = "0;rm";
	EXPECT_ERR(&t, t_build(&t), INVALID, "cpuset_cpus");
	t.res.cpuset_cpus = "";
	t.res.cpu_shares = -1;
	EXPECT_ERR(&t, t_build(&t), INVALID, "negative");
	t.res.cpu_shares = 0;
	t.res.memory_limit_in_bytes = -5;
	EXPECT_ERR(&t, t_build(&t), INVALID, "memory_limit_in_bytes");
	t.res.memory_limit_in_bytes = 0;
	/* unified: cgroup v2 only */
	Runtime__V1__LinuxContainerResources__UnifiedEntry u = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__UNIFIED_ENTRY__INIT;
	Runtime__V1__LinuxContainerResources__UnifiedEntry *us[] = { &u };
	u.key = "memory.high";
	u.value = "1000000";
	t.res.unified = us;
	t.res.n_unified = 1;
	EXPECT_ERR(&t, t_build(&t), INVALID, "unified: needs cgroup v2");
	t.host.cgroup_v2 = true;
	BUILD_OK(&t);
	STR_EQ(t_member(t_get(&t, "linux.resources.unified"), "memory.high"), "1000000");
	const char *bad_keys[] = { "../memory.high", "memory/high", "cgroup.procs", "memory", ".high",
				   "memory.", "Memory.high", "cgroup.subtree_control" };
	for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
		u.key = (char *)bad_keys[i];
		EXPECT_ERR(&t, t_build(&t), INVALID, "is not a cgroup v2 file name");
	}
	u.key = "cgroup.max.depth";
	BUILD_OK(&t);
	t_done(&t);
}

TEST(oci_spec_masked_readonly_paths)
{
	struct t_spec t;
	t_init(&t);
	char *masked[] = { "/bin/ls" }, *ro[] = { "/tmp", "/etc" };
	t.sc.masked_paths = masked;
	t.sc.n_masked_paths = 1;
	BUILD_OK(&t);
	CHECK(arr_len(t_get(&t, "linux.maskedPaths")) == 1);
	STR_EQ(t_str(&t, "linux.maskedPaths[0]"), "/bin/ls");
	CHECK(t_has_str(t_get(&t, "linux.readonlyPaths"), "/proc/sysrq-trigger"));  /* default */
	t.sc.readonly_paths = ro;
	t.sc.n_readonly_paths = 2;
	BUILD_OK(&t);
	CHECK(arr_len(t_get(&t, "linux.readonlyPaths")) == 2);
	STR_EQ(t_str(&t, "linux.readonlyPaths[1]"), "/etc");
	ro[1] = "etc";
	EXPECT_ERR(&t, t_build(&t), INVALID, "readonly_paths[1]: not an absolute path");
	ro[1] = "/etc";
	t.sc.privileged = t.pod_sc.privileged = 1;
	BUILD_OK(&t);
	CHECK(!t_get(&t, "linux.maskedPaths") && !t_get(&t, "linux.readonlyPaths"));
	t_done(&t);
}

static Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry sysctl_e[4];
static Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *sysctl_p[4];

static void set_sysctls(struct t_spec *t, const char *const *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		runtime__v1__linux_pod_sandbox_config__sysctls_entry__init(&sysctl_e[i]);
		sysctl_e[i].key = (char *)kv[2 * i];
		sysctl_e[i].value = (char *)kv[2 * i + 1];
		sysctl_p[i] = &sysctl_e[i];
	}
	t->pod_linux.sysctls = sysctl_p;
	t->pod_linux.n_sysctls = n;
}

TEST(oci_spec_sysctls)
{
	struct t_spec t;
	t_init(&t);
	/* critest's safe and unsafe ones, and a port range */
	const char *ok[] = { "kernel.shm_rmid_forced", "1", "fs.mqueue.msg_max", "100",
			     "net.ipv4.ip_local_port_range", "1024 65000", "kernel.msgmax", "8192" };
	set_sysctls(&t, ok, 4);
	BUILD_OK(&t);
	json_object *s = t_get(&t, "linux.sysctl");
	CHECK(s && json_object_object_length(s) == 4);
	STR_EQ(t_member(s, "kernel.shm_rmid_forced"), "1");
	STR_EQ(t_member(s, "net.ipv4.ip_local_port_range"), "1024 65000");
	/* the slash form becomes the dotted one ('.' in a segment becomes '/') */
	const char *slash[] = { "net/ipv4/conf/eth0.100/forwarding", "1", "kernel/sem", "250 32000 32 128" };
	set_sysctls(&t, slash, 2);
	BUILD_OK(&t);
	s = t_get(&t, "linux.sysctl");
	STR_EQ(t_member(s, "net.ipv4.conf.eth0/100.forwarding"), "1");
	STR_EQ(t_member(s, "kernel.sem"), "250 32000 32 128");
	/* refused */
	const char *bad_names[] = {
		"kernel.core_pattern",                          /* not namespaced */
		"kernel.shm_rmid_forced=1+kernel.core_pattern=|/x",
		"kernel.shm_rmid_forced kernel.core_pattern",
		"net/../kernel/core_pattern",
		"../../proc/sys/kernel/core_pattern",
		"/net/ipv4/ip_forward",
		"net./ipv4",
		"net..ipv4",
		"Net.ipv4.ip_forward",
		"net.ipv4.ip_forward.",
		"kernel.hostname", "kernel.domainname",
		"kernel.shmfoo",                                /* kubelet's prefix, not runc's list */
		"fs.mqueue",
		"vm.swappiness",
		"",
	};
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
		const char *kv[] = { "kernel.sem", "1 2 3 4", bad_names[i], "1" };
		set_sysctls(&t, kv, 2);
		EXPECT_ERR(&t, t_build(&t), INVALID, "sysctl \"");
		CHECK(t_get(&t, "linux") == NULL);
	}
	const char *bad_values[] = { "1\nkernel.core_pattern=|/x", "1\r", "1\n" };
	for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
		const char *kv[] = { "kernel.shm_rmid_forced", bad_values[i] };
		set_sysctls(&t, kv, 1);
		EXPECT_ERR(&t, t_build(&t), INVALID, "sysctl \"kernel.shm_rmid_forced\": invalid value");
	}
	const char *twice[] = { "net.ipv4.ip_forward", "1", "net/ipv4/ip_forward", "0" };
	set_sysctls(&t, twice, 2);
	EXPECT_ERR(&t, t_build(&t), INVALID, "given twice");
	/* the host's network: no net.*; the host's IPC: no kernel.shm* or fs.mqueue.* */
	const char *net[] = { "net.ipv4.ip_forward", "1" };
	set_sysctls(&t, net, 1);
	t.pod.net_ns = NULL;
	EXPECT_ERR(&t, t_build(&t), INVALID, "not allowed with the host's network namespace");
	t.pod.net_ns = "/run/crisp-test/netns/pod1";
	t.pod.ipc_ns = NULL;
	BUILD_OK(&t);
	const char *ipc[] = { "fs.mqueue.queues_max", "10" };
	set_sysctls(&t, ipc, 1);
	EXPECT_ERR(&t, t_build(&t), INVALID, "not allowed with the host's IPC namespace");
	t_done(&t);
}

TEST(oci_spec_cgroups_path_and_annotations)
{
	struct t_spec t;
	t_init(&t);
	t.in.cgroups_path = "kubepods-pod1.slice:crisp:ctr1";
	t.host.systemd_cgroup = true;
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "linux.cgroupsPath"), "kubepods-pod1.slice:crisp:ctr1");
	t.in.cgroups_path = NULL;
	t.cfg.metadata = NULL;
	t.cfg.image = NULL;
	t.pod_cfg.metadata = NULL;
	BUILD_OK(&t);
	CHECK(t_get(&t, "linux.cgroupsPath") == NULL);
	json_object *ann = t_get(&t, "annotations");
	CHECK(ann && json_object_object_length(ann) == 2);
	t_done(&t);
}
