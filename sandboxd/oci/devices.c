/*
 * oci/devices: linux.devices and linux.resources.devices (the device
 * cgroup), as containerd's CRI plugin makes them.
 *
 * Not privileged: the rules start with containerd's one default, deny all
 * ({allow: false, access: rwm}); runc 1.1 then appends its own
 * specconv.AllowedDevices, which the spec cannot turn off, so that the
 * container's effective rules are:
 *     c *:* m, b *:* m                    (mknod of any device node)
 *     c 1:3 rwm /dev/null, c 1:8 rwm /dev/random, c 1:7 rwm /dev/full,
 *     c 5:0 rwm /dev/tty, c 1:5 rwm /dev/zero, c 1:9 rwm /dev/urandom,
 *     c 136:* rwm /dev/pts/N, c 5:2 rwm /dev/ptmx, c 10:200 rwm /dev/net/tun
 * (and runc makes the nodes of null, random, full, tty, zero, urandom).
 * We do not repeat them: containerd does not.
 *
 * config.devices: host_path (absolute) is stat'ed following symlinks
 * (containerd resolves them first): missing is NOT_FOUND, anything but a
 * char or block device INVALID_ARGUMENT (containerd would also walk a
 * directory; we do not). Each gets a linux.devices entry at container_path
 * (absolute, cleaned; empty: host_path) with the node's type, major, minor,
 * mode and owner, and an allow rule with its permissions (a "rwm" subset,
 * each letter once; empty: rwm).
 *
 * Privileged (oci.WithHostDevices, WithAllDevicesAllowed): every device
 * node under the host's /dev too (containerd's walk: not pts, shm, fd,
 * mqueue, .lxc, .lxd-mounts, .udev, not console, no FIFOs, symlinks
 * skipped), and one rule allowing rwm on everything. Never logs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "sandboxd/oci/spec_int.h"

#define HOST_DEV_DEPTH 8

static int check_permissions(struct ocispec *s, size_t i, const char *p)
{
	bool seen[3] = { false, false, false };
	if (strlen(p) > 3)
		return OCISPEC_INVALID(s, "config.devices[%zu].permissions: not a subset of \"rwm\"", i);
	for (; *p; p++) {
		const char *at = strchr("rwm", *p);
		if (!at || seen[at - "rwm"])
			return OCISPEC_INVALID(s, "config.devices[%zu].permissions: not a subset of "
					       "\"rwm\"", i);
		seen[at - "rwm"] = true;
	}
	return 0;
}

static json_object *device_json(const char *path, const struct stat *st)
{
	json_object *d = json_object_new_object();
	if (!d)
		return NULL;
	if (ocispec_set_str(d, "path", path) < 0 ||
	    ocispec_set_str(d, "type", S_ISBLK(st->st_mode) ? "b" : "c") < 0 ||
	    ocispec_set_int(d, "major", major(st->st_rdev)) < 0 ||
	    ocispec_set_int(d, "minor", minor(st->st_rdev)) < 0 ||
	    ocispec_set_int(d, "fileMode", st->st_mode & 07777) < 0 ||
	    ocispec_set_int(d, "uid", st->st_uid) < 0 ||
	    ocispec_set_int(d, "gid", st->st_gid) < 0) {
		json_object_put(d);
		return NULL;
	}
	return d;
}

static json_object *rule_json(bool allow, const struct stat *st, const char *access)
{
	json_object *r = json_object_new_object();
	if (!r)
		return NULL;
	if (ocispec_set_bool(r, "allow", allow) < 0 ||
	    (st && (ocispec_set_str(r, "type", S_ISBLK(st->st_mode) ? "b" : "c") < 0 ||
		    ocispec_set_int(r, "major", major(st->st_rdev)) < 0 ||
		    ocispec_set_int(r, "minor", minor(st->st_rdev)) < 0)) ||
	    ocispec_set_str(r, "access", access) < 0) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

static int cri_device(struct ocispec *s, size_t i, json_object *devs, json_object *rules)
{
	const Runtime__V1__Device *d = s->cfg->devices[i];
	if (!d)
		return OCISPEC_INVALID(s, "config.devices[%zu]: empty", i);
	const char *hp = ocispec_str(d->host_path);
	if (hp[0] != '/' || strlen(hp) >= OCISPEC_MAX_PATH)
		return OCISPEC_INVALID(s, "config.devices[%zu].host_path: not an absolute path", i);
	const char *cp = ocispec_str(d->container_path);
	char dst[OCISPEC_MAX_PATH];
	int r = ocispec_path_clean(cp[0] ? cp : hp, dst, sizeof dst);
	if (r < 0 || strcmp(dst, "/") == 0)
		return OCISPEC_INVALID(s, "config.devices[%zu].container_path: not an absolute path "
				       "to a file", i);
	const char *perm = ocispec_str(d->permissions);
	if (!perm[0])
		perm = "rwm";
	r = check_permissions(s, i, perm);
	if (r < 0)
		return r;
	struct stat st;
	if (stat(hp, &st) < 0) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR)
			return crisp_fail(s->err, CRISP_STATUS_NOT_FOUND, -ENOENT,
					  "config.devices[%zu].host_path: \"%s\" does not exist", i, hp);
		return crisp_fail_errno(s->err, -e, "config.devices[%zu].host_path: \"%s\"", i, hp);
	}
	if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return OCISPEC_INVALID(s, "config.devices[%zu].host_path: \"%s\" is not a device",
				       i, hp);
	if (ocispec_push(devs, device_json(dst, &st)) < 0 ||
	    (rules && ocispec_push(rules, rule_json(true, &st, perm)) < 0))
		return ocispec_nomem(s);
	return 0;
}

/* A path among the first n of linux.devices (the CRI devices: one wins
 * over the host's node at its path). */
static bool listed(json_object *devs, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		json_object *p = NULL;
		if (json_object_object_get_ex(json_object_array_get_idx(devs, i), "path", &p) &&
		    strcmp(json_object_get_string(p), path) == 0)
			return true;
	}
	return false;
}

static int host_devices(struct ocispec *s, json_object *devs, size_t n_cri, const char *dir,
			int depth, size_t *count)
{
	static const char *const skip_dirs[] = { "pts", "shm", "fd", "mqueue", ".lxc",
						 ".lxd-mounts", ".udev" };
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return crisp_fail_errno(s->err, -errno, "listing the host's %s", dir);
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return crisp_fail_errno(s->err, -errno, "listing the host's %s", dir);
	}
	int r = 0;
	struct dirent *e;
	while (r >= 0 && (errno = 0, e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[OCISPEC_MAX_PATH];
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
			continue;
		struct stat st;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;       /* gone meanwhile */
		if (S_ISDIR(st.st_mode)) {
			bool skip = depth >= HOST_DEV_DEPTH;
			for (size_t k = 0; k < sizeof skip_dirs / sizeof skip_dirs[0]; k++)
				skip = skip || strcmp(e->d_name, skip_dirs[k]) == 0;
			if (!skip)
				r = host_devices(s, devs, n_cri, path, depth + 1, count);
			continue;
		}
		if ((!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) ||
		    strcmp(e->d_name, "console") == 0 || listed(devs, n_cri, path))
			continue;
		if (++*count > OCISPEC_MAX_HOST_DEVICES)
			r = crisp_fail(s->err, CRISP_STATUS_FAILED_PRECONDITION, -E2BIG,
				       "the host has more than %u device nodes",
				       OCISPEC_MAX_HOST_DEVICES);
		else if (ocispec_push(devs, device_json(path, &st)) < 0)
			r = ocispec_nomem(s);
	}
	if (r >= 0 && errno)
		r = crisp_fail_errno(s->err, -errno, "listing the host's %s", dir);
	closedir(d);
	return r;
}

int ocispec_devices(struct ocispec *s)
{
	const Runtime__V1__ContainerConfig *c = s->cfg;
	if (c->n_devices > OCISPEC_MAX_DEVICES)
		return OCISPEC_INVALID(s, "config.devices: more than %u", OCISPEC_MAX_DEVICES);
	json_object *devs = ocispec_child(s->linux, "devices", true);
	json_object *rules = ocispec_child(s->resources, "devices", true);
	if (!devs || !rules)
		return ocispec_nomem(s);
	if (!s->privileged && ocispec_push(rules, rule_json(false, NULL, "rwm")) < 0)
		return ocispec_nomem(s);
	int r = 0;
	for (size_t i = 0; r >= 0 && i < c->n_devices; i++)
		r = cri_device(s, i, devs, s->privileged ? NULL : rules);
	if (r >= 0 && s->privileged) {
		size_t count = 0;
		r = host_devices(s, devs, c->n_devices, "/dev", 0, &count);
		if (r >= 0 && ocispec_push(rules, rule_json(true, NULL, "rwm")) < 0)
			r = ocispec_nomem(s);
	}
	return r;
}
