/*
 * test_oci_spec_mounts: sandboxd/oci's mounts: the defaults and the pod's
 * files, CRI mounts (paths, order, symlinked and missing host paths,
 * read-only, propagation against real shared/slave/private mounts in a
 * mount namespace of the test's own, the recursive read-only rules),
 * image mounts and the image's volumes.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/status.h"
#include "tests/unit/test_oci_spec_lib.h"
#include "tests/unit/unit.h"

#define INVALID CRISP_STATUS_INVALID_ARGUMENT

static const char *opt_str(json_object *m)
{
	static char buf[256];
	buf[0] = '\0';
	json_object *o = json_object_object_get(m, "options");
	for (size_t i = 0; o && i < json_object_array_length(o); i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "",
			 json_object_get_string(json_object_array_get_idx(o, i)));
	return buf;
}

static const char *dst_at(struct t_spec *t, size_t i)
{
	char p[32];
	snprintf(p, sizeof p, "mounts[%zu].destination", i);
	return t_str(t, p);
}

/* A directory under the test's tmpdir, made. */
static const char *mkd(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", unit_tmpdir(), name);
	CHECK(mkdir(buf, 0755) == 0 || errno == EEXIST);
	return buf;
}

TEST(oci_spec_mounts_defaults)
{
	struct t_spec t;
	t_init(&t);
	BUILD_OK(&t);
	const char *order[] = { "/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
				"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev/shm" };
	for (size_t i = 0; i < 10; i++)
		STR_EQ(dst_at(&t, i), order[i]);
	CHECK(dst_at(&t, 10) == NULL);
	STR_EQ(opt_str(t_mount(&t, "/proc")), "nosuid,noexec,nodev");
	STR_EQ(opt_str(t_mount(&t, "/dev")), "nosuid,strictatime,mode=755,size=65536k");
	STR_EQ(opt_str(t_mount(&t, "/dev/pts")), "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5");
	STR_EQ(opt_str(t_mount(&t, "/sys")), "nosuid,noexec,nodev,ro");
	STR_EQ(opt_str(t_mount(&t, "/sys/fs/cgroup")), "nosuid,noexec,nodev,relatime,ro");
	STR_EQ(t_member(t_mount(&t, "/etc/hosts"), "source"), t.hosts_path);
	STR_EQ(t_member(t_mount(&t, "/etc/hosts"), "type"), "bind");
	STR_EQ(opt_str(t_mount(&t, "/etc/hosts")), "rbind,rprivate,rw");
	STR_EQ(t_member(t_mount(&t, "/dev/shm"), "source"), t.shm_path);
	STR_EQ(opt_str(t_mount(&t, "/dev/shm")), "rbind,rprivate,nosuid,nodev,noexec,rw");
	CHECK(t_get(&t, "linux.rootfsPropagation") == NULL);
	/* read-only rootfs: the pod's files too; host IPC: the host's /dev/shm;
	 * no resolv.conf */
	t.sc.readonly_rootfs = 1;
	t.pod.shm_path = NULL;
	t.pod.resolv_path = NULL;
	BUILD_OK(&t);
	CHECK(json_object_get_boolean(t_get(&t, "root.readonly")));
	STR_EQ(opt_str(t_mount(&t, "/etc/hostname")), "rbind,rprivate,ro");
	STR_EQ(opt_str(t_mount(&t, "/etc/hosts")), "rbind,rprivate,ro");
	CHECK(t_mount(&t, "/etc/resolv.conf") == NULL);
	STR_EQ(t_member(t_mount(&t, "/dev/shm"), "source"), "/dev/shm");
	STR_EQ(opt_str(t_mount(&t, "/dev/shm")), "rbind,rprivate,nosuid,nodev,noexec,rw");
	t_done(&t);
}

TEST(oci_spec_mounts_cri)
{
	struct t_spec t;
	t_init(&t);
	char d1[PATH_MAX], d2[PATH_MAX], d3[PATH_MAX];
	mkd("vol1", d1, sizeof d1);
	mkd("vol2", d2, sizeof d2);
	mkd("vol3", d3, sizeof d3);
	Runtime__V1__Mount m0 = RUNTIME__V1__MOUNT__INIT, m1 = RUNTIME__V1__MOUNT__INIT,
			   m2 = RUNTIME__V1__MOUNT__INIT, m3 = RUNTIME__V1__MOUNT__INIT;
	Runtime__V1__Mount *ms[] = { &m0, &m1, &m2, &m3 };
	m0.container_path = "/data//deep/../x/y/";      /* cleaned: /data/x/y */
	m0.host_path = d1;
	m1.container_path = "/data";
	m1.host_path = d2;
	m1.readonly = 1;
	m1.selinux_relabel = 1;                         /* accepted, ignored */
	m2.container_path = "/etc/hosts";               /* replaces the pod's */
	m2.host_path = d3;
	m3.container_path = "/a";
	m3.host_path = d3;
	t.cfg.mounts = ms;
	t.cfg.n_mounts = 4;
	BUILD_OK(&t);
	/* defaults, then by depth, in request order and then the pod's files:
	 * /data, /a (1 part), /etc/hosts, the pod's (2), /data/x/y (3) */
	const char *order[] = { "/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
				"/data", "/a", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
				"/dev/shm", "/data/x/y" };
	for (size_t i = 0; i < 13; i++)
		STR_EQ(dst_at(&t, i), order[i]);
	CHECK(dst_at(&t, 13) == NULL);
	STR_EQ(t_member(t_mount(&t, "/data/x/y"), "source"), d1);
	STR_EQ(opt_str(t_mount(&t, "/data/x/y")), "rbind,rprivate,rw");
	STR_EQ(opt_str(t_mount(&t, "/data")), "rbind,rprivate,ro");
	STR_EQ(t_member(t_mount(&t, "/etc/hosts"), "source"), d3);
	/* a CRI /dev hides every default below /dev; one at /proc the proc mount */
	m2.container_path = "/dev";
	m3.container_path = "/proc";
	BUILD_OK(&t);
	const char *order2[] = { "/sys", "/sys/fs/cgroup", "/data", "/dev", "/proc", "/etc/hostname",
				 "/etc/hosts", "/etc/resolv.conf", "/dev/shm", "/data/x/y" };
	for (size_t i = 0; i < 10; i++)
		STR_EQ(dst_at(&t, i), order2[i]);
	STR_EQ(t_member(t_mount(&t, "/proc"), "type"), "bind");
	/* a CRI /dev/shm replaces the pod's */
	m2.container_path = "/dev/shm";
	BUILD_OK(&t);
	STR_EQ(t_member(t_mount(&t, "/dev/shm"), "source"), d3);
	STR_EQ(opt_str(t_mount(&t, "/dev/shm")), "rbind,rprivate,rw");
	t_done(&t);
}

TEST(oci_spec_mounts_errors)
{
	struct t_spec t;
	t_init(&t);
	char d1[PATH_MAX], missing[PATH_MAX + 16];
	mkd("vol1", d1, sizeof d1);
	Runtime__V1__Mount m0 = RUNTIME__V1__MOUNT__INIT, m1 = RUNTIME__V1__MOUNT__INIT;
	Runtime__V1__Mount *ms[] = { &m0, &m1 };
	m0.container_path = "/ok";
	m0.host_path = d1;
	m1.container_path = "rel";
	m1.host_path = d1;
	t.cfg.mounts = ms;
	t.cfg.n_mounts = 2;
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.mounts[1].container_path: not an absolute path");
	m1.container_path = "";
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.mounts[1].container_path: not an absolute path");
	m1.container_path = "/x/..";
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.mounts[1].container_path: cannot be /");
	m1.container_path = "/m";
	m1.host_path = "relative/dir";
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.mounts[1].host_path: not an absolute path");
	snprintf(missing, sizeof missing, "%s/nope", unit_tmpdir());
	m1.host_path = missing;
	EXPECT_ERR(&t, t_build(&t), CRISP_STATUS_NOT_FOUND, "config.mounts[1].host_path");
	CHECK(access(missing, F_OK) < 0);       /* not made (containerd would mkdir it) */
	m1.host_path = d1;
	Runtime__V1__IDMapping idm = RUNTIME__V1__IDMAPPING__INIT;
	Runtime__V1__IDMapping *idms[] = { &idm };
	m1.uidmappings = idms;
	m1.n_uidmappings = 1;
	EXPECT_ERR(&t, t_build(&t), INVALID, "idmapped mounts are not supported");
	m1.n_uidmappings = 0;
	m1.gidmappings = idms;
	m1.n_gidmappings = 1;
	EXPECT_ERR(&t, t_build(&t), INVALID, "idmapped mounts are not supported");
	m1.n_gidmappings = 0;
	m1.propagation = 9;
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.mounts[1].propagation");
	m1.propagation = 0;
	BUILD_OK(&t);
	/* the cap */
	static Runtime__V1__Mount many[257];
	static Runtime__V1__Mount *pm[257];
	for (size_t i = 0; i < 257; i++) {
		runtime__v1__mount__init(&many[i]);
		many[i].container_path = "/ok";
		many[i].host_path = d1;
		pm[i] = &many[i];
	}
	t.cfg.mounts = pm;
	t.cfg.n_mounts = 257;
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.mounts: more than 256");
	t.cfg.n_mounts = 256;
	BUILD_OK(&t);
	t_done(&t);
}

TEST(oci_spec_mounts_symlinked_host_path)
{
	struct t_spec t;
	t_init(&t);
	char real[PATH_MAX], link[PATH_MAX + 16], link2[PATH_MAX + 16];
	mkd("real", real, sizeof real);
	snprintf(link, sizeof link, "%s/link", unit_tmpdir());
	snprintf(link2, sizeof link2, "%s/link2", unit_tmpdir());
	CHECK(symlink(real, link) == 0);
	CHECK(symlink("link", link2) == 0);     /* relative, and a chain */
	Runtime__V1__Mount m0 = RUNTIME__V1__MOUNT__INIT;
	Runtime__V1__Mount *ms[] = { &m0 };
	m0.container_path = "/m";
	m0.host_path = link2;
	t.cfg.mounts = ms;
	t.cfg.n_mounts = 1;
	BUILD_OK(&t);
	STR_EQ(t_member(t_mount(&t, "/m"), "source"), real);
	/* a dangling one */
	CHECK(unlink(link) == 0 && symlink("/nonexistent-crisp-test", link) == 0);
	EXPECT_ERR(&t, t_build(&t), CRISP_STATUS_NOT_FOUND, "does not exist");
	t_done(&t);
}

TEST(oci_spec_mounts_recursive_read_only)
{
	struct t_spec t;
	t_init(&t);
	char d1[PATH_MAX];
	mkd("vol1", d1, sizeof d1);
	Runtime__V1__Mount m0 = RUNTIME__V1__MOUNT__INIT;
	Runtime__V1__Mount *ms[] = { &m0 };
	m0.container_path = "/mnt";
	m0.host_path = d1;
	m0.readonly = 1;
	m0.recursive_read_only = 1;
	t.cfg.mounts = ms;
	t.cfg.n_mounts = 1;
	EXPECT_ERR(&t, t_build(&t), INVALID, "does not support recursive read-only mounts");
	t.host.rro = true;
	BUILD_OK(&t);
	STR_EQ(opt_str(t_mount(&t, "/mnt")), "rbind,rprivate,rro");
	/* critest's three rejections */
	m0.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
	EXPECT_ERR(&t, t_build(&t), INVALID, "recursive_read_only: needs PROPAGATION_PRIVATE");
	m0.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
	EXPECT_ERR(&t, t_build(&t), INVALID, "recursive_read_only: needs PROPAGATION_PRIVATE");
	m0.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE;
	m0.readonly = 0;
	EXPECT_ERR(&t, t_build(&t), INVALID, "recursive_read_only: needs readonly");
	/* plain readonly */
	m0.recursive_read_only = 0;
	m0.readonly = 1;
	BUILD_OK(&t);
	STR_EQ(opt_str(t_mount(&t, "/mnt")), "rbind,rprivate,ro");
	t_done(&t);
}

/* In a mount namespace of this test's own (the test runs in a forked child
 * that exits after it: the mounts die with it), tmpfs mounts that are
 * shared, a slave, and private. */
TEST(oci_spec_mounts_propagation)
{
	CHECK(unshare(CLONE_NEWNS) == 0);
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	struct t_spec t;
	t_init(&t);
	char shared[PATH_MAX], master[PATH_MAX], slave[PATH_MAX], priv[PATH_MAX];
	mkd("shared", shared, sizeof shared);
	mkd("master", master, sizeof master);
	mkd("slave", slave, sizeof slave);
	mkd("private", priv, sizeof priv);
	CHECK(mount("tmpfs", shared, "tmpfs", 0, NULL) == 0);
	CHECK(mount(NULL, shared, NULL, MS_SHARED, NULL) == 0);
	CHECK(mount("tmpfs", master, "tmpfs", 0, NULL) == 0);
	CHECK(mount(NULL, master, NULL, MS_SHARED, NULL) == 0);
	CHECK(mount(master, slave, NULL, MS_BIND, NULL) == 0);
	CHECK(mount(NULL, slave, NULL, MS_SLAVE, NULL) == 0);
	CHECK(mount("tmpfs", priv, "tmpfs", 0, NULL) == 0);
	char sub[PATH_MAX + 8];
	snprintf(sub, sizeof sub, "%s/sub", shared);    /* a path below a shared mount */
	CHECK(mkdir(sub, 0755) == 0);

	Runtime__V1__Mount m0 = RUNTIME__V1__MOUNT__INIT, m1 = RUNTIME__V1__MOUNT__INIT;
	Runtime__V1__Mount *ms[] = { &m0, &m1 };
	t.cfg.mounts = ms;
	t.cfg.n_mounts = 1;
	m0.container_path = "/m0";
	m0.host_path = sub;
	m0.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
	BUILD_OK(&t);
	STR_EQ(opt_str(t_mount(&t, "/m0")), "rbind,rshared,rw");
	STR_EQ(t_str(&t, "linux.rootfsPropagation"), "rshared");
	m0.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
	BUILD_OK(&t);
	STR_EQ(opt_str(t_mount(&t, "/m0")), "rbind,rslave,rw");
	STR_EQ(t_str(&t, "linux.rootfsPropagation"), "rslave");
	/* a slave will do for host-to-container only */
	m0.host_path = slave;
	BUILD_OK(&t);
	m0.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
	EXPECT_ERR(&t, t_build(&t), CRISP_STATUS_FAILED_PRECONDITION, "is not a shared mount");
	CHECK(strstr(t.err.msg, slave) && strstr(t.err.msg, "config.mounts[0]"));
	/* private: neither */
	m0.host_path = priv;
	EXPECT_ERR(&t, t_build(&t), CRISP_STATUS_FAILED_PRECONDITION, "is not a shared mount");
	m0.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
	EXPECT_ERR(&t, t_build(&t), CRISP_STATUS_FAILED_PRECONDITION, "not a shared or slave mount");
	m0.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE;
	BUILD_OK(&t);
	CHECK(t_get(&t, "linux.rootfsPropagation") == NULL);
	/* one of each: rshared wins */
	m0.host_path = slave;
	m0.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
	m1.container_path = "/m1";
	m1.host_path = shared;
	m1.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
	t.cfg.n_mounts = 2;
	BUILD_OK(&t);
	STR_EQ(t_str(&t, "linux.rootfsPropagation"), "rshared");
	/* a mount point with a space in its name (mountinfo escapes it) */
	char spaced[PATH_MAX];
	mkd("with space", spaced, sizeof spaced);
	CHECK(mount("tmpfs", spaced, "tmpfs", 0, NULL) == 0);
	CHECK(mount(NULL, spaced, NULL, MS_SHARED, NULL) == 0);
	m1.host_path = spaced;
	BUILD_OK(&t);
	t_done(&t);
}

TEST(oci_spec_mounts_image)
{
	struct t_spec t;
	t_init(&t);
	char img[PATH_MAX];
	mkd("imagemnt", img, sizeof img);
	t_write(img, "data/file", "x");
	t_write(img, "etc/inner", "x");
	char link[PATH_MAX + 16];
	snprintf(link, sizeof link, "%s/escape", img);
	CHECK(symlink("/etc", link) == 0);      /* inside the image: its own /etc */
	snprintf(link, sizeof link, "%s/gone", img);
	CHECK(symlink("/nonexistent-crisp", link) == 0);
	Runtime__V1__Mount m0 = RUNTIME__V1__MOUNT__INIT, m1 = RUNTIME__V1__MOUNT__INIT;
	Runtime__V1__Mount *ms[] = { &m0, &m1 };
	Runtime__V1__ImageSpec is = RUNTIME__V1__IMAGE_SPEC__INIT;
	char d1[PATH_MAX];
	mkd("vol1", d1, sizeof d1);
	m0.container_path = "/host";
	m0.host_path = d1;
	m1.container_path = "/img";
	m1.image = &is;
	is.image = "sha256:1234";
	t.cfg.mounts = ms;
	t.cfg.n_mounts = 2;
	const char *dirs[] = { NULL, img };
	t.in.image_mount_dirs = dirs;
	BUILD_OK(&t);
	STR_EQ(t_member(t_mount(&t, "/img"), "source"), img);
	STR_EQ(opt_str(t_mount(&t, "/img")), "rbind,rprivate,ro");     /* always read-only */
	m1.image_sub_path = "data";
	BUILD_OK(&t);
	char want[PATH_MAX + 16];
	snprintf(want, sizeof want, "%s/data", img);
	STR_EQ(t_member(t_mount(&t, "/img"), "source"), want);
	/* a symlink in the image resolves inside it, never to the host's /etc */
	m1.image_sub_path = "escape";
	BUILD_OK(&t);
	snprintf(want, sizeof want, "%s/etc", img);
	STR_EQ(t_member(t_mount(&t, "/img"), "source"), want);
	m1.image_sub_path = "gone";
	EXPECT_ERR(&t, t_build(&t), CRISP_STATUS_NOT_FOUND, "image_sub_path");
	m1.image_sub_path = "missing/dir";
	EXPECT_ERR(&t, t_build(&t), CRISP_STATUS_NOT_FOUND, "config.mounts[1].image_sub_path");
	m1.image_sub_path = "../rootfs";
	EXPECT_ERR(&t, t_build(&t), INVALID, "config.mounts[1].image_sub_path: must be relative");
	m1.image_sub_path = "/data";
	EXPECT_ERR(&t, t_build(&t), INVALID, "must be relative");
	m1.image_sub_path = "";
	dirs[1] = NULL;
	CHECK(t_build(&t) < 0);
	t_done(&t);
}

TEST(oci_spec_volumes)
{
	struct t_spec t;
	t_init(&t);
	char p[PATH_MAX + 64], outside[PATH_MAX + 64];
	/* a symlink in the rootfs to an absolute path: inside the rootfs */
	snprintf(p, sizeof p, "%s/tmp/target", t.rootfs);
	t_write(t.rootfs, "tmp/target/keep", "");
	snprintf(p, sizeof p, "%s/link", t.rootfs);
	snprintf(outside, sizeof outside, "%s/outside", unit_tmpdir());
	CHECK(mkdir(outside, 0755) == 0);
	CHECK(symlink("/tmp/target", p) == 0);
	snprintf(p, sizeof p, "%s/uplink", t.rootfs);
	CHECK(symlink("../../../../../../../../..", p) == 0);
	char *vols[] = { "/data/vol", "relative", "/a/../b", "/covered/below", "/link/sub", "/",
			 "/uplink/tmp/escaped", "//twice//slash/" };
	t.image.volumes = vols;
	t.image.n_volumes = 8;
	Runtime__V1__Mount m0 = RUNTIME__V1__MOUNT__INIT;
	Runtime__V1__Mount *ms[] = { &m0 };
	char d1[PATH_MAX];
	mkd("vol1", d1, sizeof d1);
	m0.container_path = "/covered";
	m0.host_path = d1;
	t.cfg.mounts = ms;
	t.cfg.n_mounts = 1;
	/* a refused request makes nothing */
	t.cfg.working_dir = "nope";
	CHECK(t_build(&t) < 0);
	snprintf(p, sizeof p, "%s/data", t.rootfs);
	CHECK(access(p, F_OK) < 0);
	t.cfg.working_dir = "";
	BUILD_OK(&t);
	struct stat st;
	snprintf(p, sizeof p, "%s/data/vol", t.rootfs);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0755);
	snprintf(p, sizeof p, "%s/b", t.rootfs);
	CHECK(access(p, F_OK) < 0);             /* ".." volumes are ignored */
	snprintf(p, sizeof p, "%s/covered", t.rootfs);
	CHECK(access(p, F_OK) < 0);             /* a CRI mount covers it */
	snprintf(p, sizeof p, "%s/tmp/target/sub", t.rootfs);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(p, sizeof p, "%s/tmp/escaped", t.rootfs);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));   /* ".." stopped at the rootfs */
	CHECK(access("/tmp/escaped", F_OK) < 0 && access("/tmp/target/sub", F_OK) < 0);
	snprintf(p, sizeof p, "%s/twice/slash", t.rootfs);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	/* a file in the way */
	char *file_vol[] = { "/etc/passwd/x" };
	t.image.volumes = file_vol;
	t.image.n_volumes = 1;
	CHECK(t_build(&t) < 0);
	t_done(&t);
}
