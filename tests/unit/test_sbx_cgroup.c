/*
 * test_sbx_cgroup: the paths of pod and container cgroups for both drivers
 * (sandboxd/cgroup/cgroup.c): kubelet's parents taken, bad ones refused,
 * crisp's own when none is given, systemd slices expanded as runc does.
 */
#include <errno.h>
#include "sandboxd/cgroup/cgroup.h"
#include "tests/unit/unit.h"

TEST(sbx_cgroup_cgroupfs_paths)
{
	struct cgroup_host h = { .mode = CGROUP_HYBRID };
	char buf[512], d[512];
	bool owned;
	CHECK_RC(cgroup_pod_path(&h, "/kubepods/besteffort/podabc", "id1", buf, sizeof buf, &owned));
	CHECK(!strcmp(buf, "/kubepods/besteffort/podabc") && !owned);
	CHECK_RC(cgroup_pod_path(&h, "/kubepods/", "id1", buf, sizeof buf, &owned));
	CHECK(!strcmp(buf, "/kubepods"));
	CHECK_RC(cgroup_pod_path(&h, "", "id1", buf, sizeof buf, &owned));
	CHECK(!strcmp(buf, "/crisp/pods/id1") && owned);
	static const char *const bad[] = { "kubepods", "/a/../b", "/a/..", "/a//b", "/a/./b",
					   "/a b", "/a:b", "x.slice" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(cgroup_pod_path(&h, bad[i], "id1", buf, sizeof buf, &owned) == -EINVAL);
	CHECK_RC(cgroup_ctr_path(&h, "/kubepods/pod1", "c1", buf, sizeof buf));
	CHECK(!strcmp(buf, "/kubepods/pod1/crisp-c1"));
	CHECK_RC(cgroup_dir(&h, "memory", buf, d, sizeof d));
	CHECK(!strcmp(d, "/sys/fs/cgroup/memory/kubepods/pod1/crisp-c1"));
	CHECK_RC(cgroup_dir(&h, "", buf, d, sizeof d));
	CHECK(!strcmp(d, "/sys/fs/cgroup/unified/kubepods/pod1/crisp-c1"));
	CHECK_RC(cgroup_oom_file(&h, buf, d, sizeof d));
	CHECK(!strcmp(d, "/sys/fs/cgroup/memory/kubepods/pod1/crisp-c1/memory.oom_control"));
	h.mode = CGROUP_V2;
	CHECK_RC(cgroup_oom_file(&h, buf, d, sizeof d));
	CHECK(!strcmp(d, "/sys/fs/cgroup/kubepods/pod1/crisp-c1/memory.events"));
}

TEST(sbx_cgroup_systemd_paths)
{
	struct cgroup_host h = { .mode = CGROUP_V2, .systemd = true };
	char buf[512], d[512];
	bool owned;
	CHECK_RC(cgroup_pod_path(&h, "kubepods-besteffort-pod12.slice", "id", buf, sizeof buf,
				 &owned));
	CHECK(!strcmp(buf, "kubepods-besteffort-pod12.slice") && !owned);
	CHECK(cgroup_pod_path(&h, "/kubepods", "id", buf, sizeof buf, &owned) == -EINVAL);
	CHECK(cgroup_pod_path(&h, "a--b.slice", "id", buf, sizeof buf, &owned) == -EINVAL);
	CHECK_RC(cgroup_pod_path(&h, "", "id", buf, sizeof buf, &owned));
	CHECK(!strcmp(buf, "crisp-podid.slice") && !owned);
	CHECK_RC(cgroup_ctr_path(&h, "kubepods-besteffort-pod12.slice", "c1", buf, sizeof buf));
	CHECK(!strcmp(buf, "kubepods-besteffort-pod12.slice:crisp:c1"));
	CHECK_RC(cgroup_dir(&h, "", buf, d, sizeof d));
	CHECK(!strcmp(d, "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/"
		      "kubepods-besteffort-pod12.slice/crisp-c1.scope"));
}
