/*
 * oci/mounts: the "mounts" list and linux.rootfsPropagation, in containerd's
 * order (pkg/cri/opts WithMounts):
 *
 *   1. the filesystems every container gets: /proc, /dev (tmpfs), /dev/pts,
 *      /dev/mqueue, /sys (ro; rw when privileged), /sys/fs/cgroup (ro; rw
 *      when privileged), each left out when a CRI mount or pod file has
 *      the same destination, and everything under /dev when one is /dev;
 *   2. then the CRI mounts followed by the pod's files (/etc/hostname,
 *      /etc/hosts, /etc/resolv.conf: rw, ro with a read-only rootfs; and
 *      /dev/shm: the pod's, or the host's with host IPC, nosuid,nodev,
 *      noexec), a pod file left out when a CRI mount has its destination;
 *      this list sorted stably by the number of '/' in the destination, so
 *      that a mount never hides one below it.
 *
 * A CRI mount: container_path absolute, cleaned (not "/"); host_path
 * absolute and existing (NOT_FOUND; containerd would mkdir it), its
 * symlinks resolved (realpath) as containerd does; or with `image` set the
 * directory sandboxd mounted the image on (image_mount_dirs[i]), plus
 * image_sub_path (relative, no "..", resolved inside it, must exist),
 * always read-only. Options: rbind, rprivate|rslave|rshared (the host
 * mount must be shared, or shared or slave, for the latter two:
 * FAILED_PRECONDITION), ro|rw, or rro for recursive_read_only (only with
 * readonly and PROPAGATION_PRIVATE, and a handler that has it).
 * rootfsPropagation: rshared when a mount is bidirectional, else rslave
 * when one is host-to-container. selinux_relabel is accepted and ignored
 * (no SELinux labels yet); id mappings and mount_options are refused.
 * Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sandboxd/oci/spec_int.h"

#define MAX_OPTS 8

struct mnt {
	char dst[OCISPEC_MAX_PATH];
	char src[OCISPEC_MAX_PATH];
	const char *type;
	const char *opts[MAX_OPTS];
	size_t n_opts;
	int parts;
};

struct mountset {
	struct mnt *v;
	size_t n;
	bool any_shared, any_slave;
};

static void opts(struct mnt *m, const char *o)
{
	if (m->n_opts < MAX_OPTS)
		m->opts[m->n_opts++] = o;
}

static int count_parts(const char *p)
{
	int n = 0;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

static bool in_set(const struct mountset *set, const char *dst)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].dst, dst) == 0)
			return true;
	return false;
}

/* The source of an image mount: the image's directory, plus the sub path
 * resolved inside it (the image's symlinks stay inside). */
static int image_source(struct ocispec *s, size_t i, const Runtime__V1__Mount *m,
			struct mnt *out)
{
	const char *dir = s->in->image_mount_dirs ? s->in->image_mount_dirs[i] : NULL;
	if (!dir || dir[0] != '/')
		return crisp_fail(s->err, CRISP_STATUS_INTERNAL, -EINVAL,
				  "config.mounts[%zu].image: no directory holds the image", i);
	const char *sub = ocispec_str(m->image_sub_path);
	if (!sub[0]) {
		if (!realpath(dir, out->src))
			return crisp_fail_errno(s->err, -errno, "config.mounts[%zu].image: %s", i, dir);
		return 0;
	}
	if (sub[0] == '/' || ocispec_path_has_dotdot(sub))
		return OCISPEC_INVALID(s, "config.mounts[%zu].image_sub_path: must be relative, "
				       "without \"..\"", i);
	if (strlen(sub) >= OCISPEC_MAX_PATH)
		return OCISPEC_INVALID(s, "config.mounts[%zu].image_sub_path: too long", i);
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return crisp_fail_errno(s->err, -errno, "config.mounts[%zu].image: %s", i, dir);
	int fd = ocispec_open_in_root(dfd, sub, O_PATH);
	close(dfd);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return crisp_fail(s->err, CRISP_STATUS_NOT_FOUND, fd,
				  "config.mounts[%zu].image_sub_path: \"%s\" does not exist in the image",
				  i, sub);
	if (fd < 0)
		return crisp_fail_errno(s->err, fd, "config.mounts[%zu].image_sub_path", i);
	/* the path the kernel reached: symlink-free, so runc binds just it */
	char proc[64], dreal[PATH_MAX];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, out->src, sizeof out->src - 1);
	int e = errno;
	close(fd);
	if (n < 0 || (size_t)n >= sizeof out->src - 1)
		return crisp_fail_errno(s->err, n < 0 ? -e : -ENAMETOOLONG,
					"config.mounts[%zu].image_sub_path", i);
	out->src[n] = '\0';
	if (!realpath(dir, dreal))
		return crisp_fail_errno(s->err, -errno, "config.mounts[%zu].image: %s", i, dir);
	if (!ocispec_path_covers(dreal, out->src))
		return OCISPEC_INVALID(s, "config.mounts[%zu].image_sub_path: leaves the image", i);
	return 0;
}

static int host_source(struct ocispec *s, size_t i, const Runtime__V1__Mount *m,
		       struct mnt *out)
{
	const char *hp = ocispec_str(m->host_path);
	if (hp[0] != '/')
		return OCISPEC_INVALID(s, "config.mounts[%zu].host_path: not an absolute path", i);
	if (strlen(hp) >= OCISPEC_MAX_PATH)
		return OCISPEC_INVALID(s, "config.mounts[%zu].host_path: too long", i);
	if (!realpath(hp, out->src)) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR)
			return crisp_fail(s->err, CRISP_STATUS_NOT_FOUND, -ENOENT,
					  "config.mounts[%zu].host_path: \"%s\" does not exist", i, hp);
		return crisp_fail_errno(s->err, -e, "config.mounts[%zu].host_path: \"%s\"", i, hp);
	}
	return 0;
}

static int cri_mount(struct ocispec *s, size_t i, struct mountset *set)
{
	const Runtime__V1__Mount *m = s->cfg->mounts[i];
	if (!m)
		return OCISPEC_INVALID(s, "config.mounts[%zu]: empty", i);
	struct mnt *out = &set->v[set->n];
	memset(out, 0, sizeof *out);
	int r = ocispec_path_clean(ocispec_str(m->container_path), out->dst, sizeof out->dst);
	if (r == -EINVAL)
		return OCISPEC_INVALID(s, "config.mounts[%zu].container_path: not an absolute path", i);
	if (r < 0)
		return OCISPEC_INVALID(s, "config.mounts[%zu].container_path: too long", i);
	if (strcmp(out->dst, "/") == 0)
		return OCISPEC_INVALID(s, "config.mounts[%zu].container_path: cannot be /", i);
	if (m->n_uidmappings || m->n_gidmappings)
		return OCISPEC_INVALID(s, "config.mounts[%zu]: idmapped mounts are not supported", i);
	if (m->n_mount_options)
		return OCISPEC_INVALID(s, "config.mounts[%zu].mount_options: not supported", i);
	bool image = m->image != NULL;
	bool readonly = m->readonly || image;
	r = image ? image_source(s, i, m, out) : host_source(s, i, m, out);
	if (r < 0)
		return r;
	out->type = "bind";
	opts(out, "rbind");
	char field[64];
	snprintf(field, sizeof field, "config.mounts[%zu]", i);
	switch (m->propagation) {
	case RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE:
		opts(out, "rprivate");
		break;
	case RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER:
	case RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL:
		if (m->recursive_read_only)
			return OCISPEC_INVALID(s, "config.mounts[%zu].recursive_read_only: needs "
					       "PROPAGATION_PRIVATE", i);
		break;
	default:
		return OCISPEC_INVALID(s, "config.mounts[%zu].propagation: unknown value %d", i,
				       (int)m->propagation);
	}
	if (m->recursive_read_only) {
		if (!readonly)
			return OCISPEC_INVALID(s, "config.mounts[%zu].recursive_read_only: needs "
					       "readonly", i);
		if (!s->in->host->rro)
			return OCISPEC_INVALID(s, "config.mounts[%zu].recursive_read_only: the runtime "
					       "handler does not support recursive read-only mounts", i);
	}
	if (m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL) {
		r = ocispec_check_propagation(s, out->src, true, field);
		if (r < 0)
			return r;
		opts(out, "rshared");
		set->any_shared = true;
	} else if (m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER) {
		r = ocispec_check_propagation(s, out->src, false, field);
		if (r < 0)
			return r;
		opts(out, "rslave");
		set->any_slave = true;
	}
	opts(out, m->recursive_read_only ? "rro" : readonly ? "ro" : "rw");
	out->parts = count_parts(out->dst);
	set->n++;
	return 0;
}

/* A pod file (or /dev/shm) bound at dst, unless a CRI mount is there. */
static int pod_mount(struct ocispec *s, struct mountset *set, size_t n_cri, const char *dst,
		     const char *src, bool readonly, bool shm)
{
	if (!src)
		return 0;
	for (size_t i = 0; i < n_cri; i++)
		if (strcmp(set->v[i].dst, dst) == 0)
			return 0;
	if (src[0] != '/' || strlen(src) >= OCISPEC_MAX_PATH)
		return crisp_fail(s->err, CRISP_STATUS_INTERNAL, -EINVAL,
				  "the pod's %s is not an absolute path", dst);
	struct mnt *m = &set->v[set->n++];
	memset(m, 0, sizeof *m);
	snprintf(m->dst, sizeof m->dst, "%s", dst);
	snprintf(m->src, sizeof m->src, "%s", src);
	m->type = "bind";
	opts(m, "rbind");
	opts(m, "rprivate");
	if (shm) {
		opts(m, "nosuid");
		opts(m, "nodev");
		opts(m, "noexec");
	}
	opts(m, readonly ? "ro" : "rw");
	m->parts = count_parts(m->dst);
	return 0;
}

static void sort_stable(struct mountset *set)
{
	/* insertion sort: stable, and the list is short */
	for (size_t i = 1; i < set->n; i++) {
		struct mnt t = set->v[i];
		size_t j = i;
		while (j > 0 && set->v[j - 1].parts > t.parts) {
			set->v[j] = set->v[j - 1];
			j--;
		}
		set->v[j] = t;
	}
}

static json_object *mount_json(const char *dst, const char *type, const char *src,
			       const char *const *o, size_t n)
{
	json_object *m = json_object_new_object();
	if (!m)
		return NULL;
	if (ocispec_set_str(m, "destination", dst) < 0 || ocispec_set_str(m, "type", type) < 0 ||
	    ocispec_set_str(m, "source", src) < 0 ||
	    ocispec_set(m, "options", ocispec_str_array(o, n)) < 0) {
		json_object_put(m);
		return NULL;
	}
	return m;
}

/* The filesystems of step 1. */
static int default_mounts(struct ocispec *s, json_object *arr, const struct mountset *set)
{
	const char *sysfs_mode = s->privileged ? "rw" : "ro";
	const struct {
		const char *dst, *type, *src;
		const char *o[7];
	} defs[] = {
		{ "/proc", "proc", "proc", { "nosuid", "noexec", "nodev" } },
		{ "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
		{ "/dev/pts", "devpts", "devpts", { "nosuid", "noexec", "newinstance", "ptmxmode=0666",
						    "mode=0620", "gid=5" } },
		{ "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev" } },
		{ "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", sysfs_mode } },
		{ "/sys/fs/cgroup", "cgroup", "cgroup", { "nosuid", "noexec", "nodev", "relatime",
							  sysfs_mode } },
	};
	bool dev_mounted = in_set(set, "/dev");
	for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
		if (in_set(set, defs[i].dst) ||
		    (dev_mounted && strncmp(defs[i].dst, "/dev/", 5) == 0))
			continue;
		size_t n = 0;
		while (n < 7 && defs[i].o[n])
			n++;
		if (ocispec_push(arr, mount_json(defs[i].dst, defs[i].type, defs[i].src,
						 defs[i].o, n)) < 0)
			return ocispec_nomem(s);
	}
	return 0;
}

static int build(struct ocispec *s, struct mountset *set)
{
	const Runtime__V1__ContainerConfig *c = s->cfg;
	const struct oci_pod *pod = s->in->pod;
	bool ro = s->sc && s->sc->readonly_rootfs;
	int r = 0;
	for (size_t i = 0; r >= 0 && i < c->n_mounts; i++)
		r = cri_mount(s, i, set);
	size_t n_cri = set->n;
	if (r >= 0)
		r = pod_mount(s, set, n_cri, "/etc/hostname", pod->hostname_path, ro, false);
	if (r >= 0)
		r = pod_mount(s, set, n_cri, "/etc/hosts", pod->hosts_path, ro, false);
	if (r >= 0)
		r = pod_mount(s, set, n_cri, "/etc/resolv.conf", pod->resolv_path, ro, false);
	if (r >= 0)
		r = pod_mount(s, set, n_cri, "/dev/shm", pod->shm_path ? pod->shm_path : "/dev/shm",
			      false, true);
	if (r < 0)
		return r;
	sort_stable(set);
	json_object *arr = ocispec_child(s->spec, "mounts", true);
	if (!arr)
		return ocispec_nomem(s);
	r = default_mounts(s, arr, set);
	for (size_t i = 0; r >= 0 && i < set->n; i++) {
		const struct mnt *m = &set->v[i];
		if (ocispec_push(arr, mount_json(m->dst, m->type, m->src, m->opts, m->n_opts)) < 0)
			r = ocispec_nomem(s);
	}
	if (r >= 0 && (set->any_shared || set->any_slave) &&
	    ocispec_set_str(s->linux, "rootfsPropagation",
			    set->any_shared ? "rshared" : "rslave") < 0)
		r = ocispec_nomem(s);
	return r;
}

int ocispec_mounts(struct ocispec *s)
{
	if (s->cfg->n_mounts > OCISPEC_MAX_MOUNTS)
		return OCISPEC_INVALID(s, "config.mounts: more than %u", OCISPEC_MAX_MOUNTS);
	struct mountset set = { .v = calloc(s->cfg->n_mounts + 4, sizeof *set.v) };
	if (!set.v)
		return ocispec_nomem(s);
	int r = build(s, &set);
	free(set.v);
	return r;
}
