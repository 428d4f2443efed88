/*
 * cgroup: see cgroup.h. The v1 hierarchies are the cgroup (v1) mounts
 * directly under /sys/fs/cgroup (symlinks such as cpu,cpuacct skipped: they
 * name a mount that is there under its own name too); the hybrid layout
 * adds the v2 tree at /sys/fs/cgroup/unified, which runc also joins. Never
 * logs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "sandboxd/cgroup/cgroup.h"

#define CGROUP1_MAGIC 0x27e0ebu
#define CGROUP2_MAGIC 0x63677270u
#define HIERARCHIES_MAX 24
#define CGROUP_PATH_MAX 1024

static bool fs_is(const char *path, unsigned long magic)
{
	struct statfs s;
	return statfs(path, &s) == 0 && (unsigned long)s.f_type == magic;
}

const char *cgroup_mode_name(enum cgroup_mode m)
{
	return m == CGROUP_V2 ? "v2" : m == CGROUP_HYBRID ? "v1 (hybrid, v2 beside it)" : "v1";
}

/* "hugetlb" among the words of a cgroup.controllers file? */
static bool controllers_have(const char *file, const char *name)
{
	char *buf = NULL;
	bool found = false;
	if (fs_read_file(AT_FDCWD, file, 4096, &buf, NULL) < 0)
		return false;
	char *save = NULL;
	for (char *w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
		found |= strcmp(w, name) == 0;
	free(buf);
	return found;
}

/* memory.swap.max exists in every non-root cgroup when swap is accounted:
 * look in our own (from /proc/self/cgroup's "0::/path"). */
static bool own_v2_has(const char *root, const char *file)
{
	char *buf = NULL, path[CGROUP_PATH_MAX];
	bool found = false;
	if (fs_read_file(AT_FDCWD, "/proc/self/cgroup", 65536, &buf, NULL) < 0)
		return false;
	char *line = strstr(buf, "0::/");
	if (line && (line == buf || line[-1] == '\n')) {
		line[strcspn(line, "\n")] = '\0';
		if (snprintf(path, sizeof path, "%s%s/%s", root, line + 3, file) < (int)sizeof path)
			found = access(path, F_OK) == 0;
	}
	free(buf);
	return found;
}

int cgroup_host_detect(bool systemd, struct cgroup_host *ret)
{
	*ret = (struct cgroup_host){ .systemd = systemd };
	if (fs_is(CGROUP_ROOT, CGROUP2_MAGIC)) {
		ret->mode = CGROUP_V2;
		ret->hugetlb = controllers_have(CGROUP_ROOT "/cgroup.controllers", "hugetlb");
		ret->swap = own_v2_has(CGROUP_ROOT, "memory.swap.max");
		if (!ret->hugetlb)
			snprintf(ret->hugetlb_why, sizeof ret->hugetlb_why,
				 "the cgroup v2 root has no hugetlb controller");
		return 0;
	}
	if (!fs_is(CGROUP_ROOT "/memory", CGROUP1_MAGIC) && !fs_is(CGROUP_ROOT "/pids", CGROUP1_MAGIC))
		return -ENOTSUP;
	ret->mode = fs_is(CGROUP_ROOT "/unified", CGROUP2_MAGIC) ? CGROUP_HYBRID : CGROUP_V1;
	ret->hugetlb = fs_is(CGROUP_ROOT "/hugetlb", CGROUP1_MAGIC);
	ret->swap = access(CGROUP_ROOT "/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
	if (!ret->hugetlb)
		snprintf(ret->hugetlb_why, sizeof ret->hugetlb_why, "%s",
			 ret->mode == CGROUP_HYBRID &&
			 controllers_have(CGROUP_ROOT "/unified/cgroup.controllers", "hugetlb") ?
			 "hugetlb sits on the cgroup v2 root of a hybrid tree, where runc cannot "
			 "use it" : "no cgroup v1 hugetlb hierarchy is mounted");
	return 0;
}

/* The hierarchies' mount points: v1 controllers (and the named systemd
 * one), plus the unified tree on hybrid; the root itself on v2. */
static int hierarchies(const struct cgroup_host *h, char dirs[][64], size_t *ret_n)
{
	size_t n = 0;
	if (h->mode == CGROUP_V2) {
		snprintf(dirs[n++], 64, "%s", CGROUP_ROOT);
		*ret_n = n;
		return 0;
	}
	DIR *d = opendir(CGROUP_ROOT);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d)) && n < HIERARCHIES_MAX) {
		if (e->d_name[0] == '.' || e->d_type != DT_DIR || strlen(e->d_name) > 40)
			continue;
		char p[64];
		snprintf(p, sizeof p, CGROUP_ROOT "/%s", e->d_name);
		if (fs_is(p, CGROUP1_MAGIC) || (h->mode == CGROUP_HYBRID &&
						!strcmp(e->d_name, "unified") &&
						fs_is(p, CGROUP2_MAGIC)))
			snprintf(dirs[n++], 64, "%s", p);
	}
	closedir(d);
	*ret_n = n;
	return 0;
}

static bool path_ok(const char *p)
{
	if (p[0] != '/' || strlen(p) >= CGROUP_PATH_MAX / 2)
		return false;
	for (const char *c = p; *c; c++)
		if (*c < 0x21 || *c > 0x7e || *c == ':' || *c == '\\')
			return false;
	return !strstr(p, "/../") && !strstr(p, "/./") && !strstr(p, "//") &&
	       strcmp(p + strlen(p) - (strlen(p) >= 3 ? 3 : 0), "/..") != 0;
}

static bool slice_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 7 || n > 200 || strcmp(s + n - 6, ".slice") != 0 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n - 6; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && !strchr("-_.:", s[i]))
			return false;
	return !strstr(s, "--");
}

int cgroup_pod_path(const struct cgroup_host *h, const char *parent, const char *pod_id,
		    char *buf, size_t len, bool *ret_owned)
{
	int n;
	*ret_owned = !parent || !*parent;
	if (h->systemd) {
		if (*ret_owned)
			n = snprintf(buf, len, "crisp-pod%s.slice", pod_id);
		else if (slice_ok(parent))
			n = snprintf(buf, len, "%s", parent);
		else
			return -EINVAL;
		*ret_owned = false;     /* systemd makes and removes slices */
	} else if (*ret_owned) {
		n = snprintf(buf, len, "/crisp/pods/%s", pod_id);
	} else {
		if (!path_ok(parent))
			return -EINVAL;
		n = snprintf(buf, len, "%s", parent);
		while (n > 1 && buf[n - 1] == '/')
			buf[--n] = '\0';
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cgroup_ctr_path(const struct cgroup_host *h, const char *pod_cgroup, const char *ctr_id,
		    char *buf, size_t len)
{
	int n = h->systemd ? snprintf(buf, len, "%s:crisp:%s", pod_cgroup, ctr_id) :
		snprintf(buf, len, "%s/crisp-%s", strcmp(pod_cgroup, "/") ? pod_cgroup : "", ctr_id);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice" (systemd's nesting). */
static int slice_expand(const char *slice, char *buf, size_t len)
{
	size_t n = strlen(slice) - strlen(".slice"), at = 0;
	buf[0] = '\0';
	if (strcmp(slice, "-.slice") == 0)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && slice[i] != '-')
			continue;
		int k = snprintf(buf + at, len - at, "/%.*s.slice", (int)i, slice);
		if (k < 0 || (size_t)k >= len - at)
			return -ENAMETOOLONG;
		at += (size_t)k;
	}
	return 0;
}

/* A path as it lies in the tree: systemd's forms expanded. */
static int tree_path(const struct cgroup_host *h, const char *path, char *buf, size_t len)
{
	if (!h->systemd) {
		int n = snprintf(buf, len, "%s", path);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	char slice[256];
	const char *colon = strchr(path, ':');
	size_t sl = colon ? (size_t)(colon - path) : strlen(path);
	if (sl >= sizeof slice)
		return -ENAMETOOLONG;
	memcpy(slice, path, sl);
	slice[sl] = '\0';
	int r = slice_expand(slice, buf, len);
	if (r < 0 || !colon)
		return r;
	const char *name = strchr(colon + 1, ':');
	if (!name)
		return -EINVAL;
	size_t at = strlen(buf);
	int n = snprintf(buf + at, len - at, "/%.*s-%s.scope", (int)(name - colon - 1), colon + 1,
			 name + 1);
	return n < 0 || (size_t)n >= len - at ? -ENAMETOOLONG : 0;
}

int cgroup_dir(const struct cgroup_host *h, const char *controller, const char *path,
	       char *buf, size_t len)
{
	char tp[CGROUP_PATH_MAX];
	int r = tree_path(h, path, tp, sizeof tp);
	if (r < 0)
		return r;
	int n;
	if (h->mode == CGROUP_V2)
		n = snprintf(buf, len, CGROUP_ROOT "%s", tp);
	else if (!controller || !*controller)
		n = h->mode == CGROUP_HYBRID ? snprintf(buf, len, CGROUP_ROOT "/unified%s", tp) :
		    -1;
	else
		n = snprintf(buf, len, CGROUP_ROOT "/%s%s", controller, tp);
	return n < 0 ? -ENOENT : (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* cpuset.cpus and cpuset.mems of a new v1 cpuset cgroup are empty: copy
 * the parent's, or no task could join it. */
static int cpuset_init(const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char parent[CGROUP_PATH_MAX];
	int r = fs_dirname(dir, parent, sizeof parent);
	for (size_t i = 0; r == 0 && i < 2; i++) {
		char p[CGROUP_PATH_MAX], q[CGROUP_PATH_MAX], *v = NULL;
		if (fs_path_join(p, sizeof p, dir, files[i]) < 0 ||
		    fs_path_join(q, sizeof q, parent, files[i]) < 0)
			return -ENAMETOOLONG;
		char *cur = NULL;
		if (fs_read_file(AT_FDCWD, p, 4096, &cur, NULL) == 0 && cur[0] && cur[0] != '\n') {
			free(cur);
			continue;
		}
		free(cur);
		r = fs_read_file(AT_FDCWD, q, 4096, &v, NULL);
		if (r == 0) {
			int fd = open(p, O_WRONLY | O_CLOEXEC);
			r = fd < 0 ? -errno : fs_write_all(fd, v, strlen(v));
			if (fd >= 0)
				close(fd);
		}
		free(v);
	}
	return r;
}

/* mkdir -p under a hierarchy root, each new cpuset level initialised. */
static int make_in(const char *root, const char *path)
{
	char dir[CGROUP_PATH_MAX];
	bool cpuset = strstr(root, "/cpuset") != NULL;
	size_t at = (size_t)snprintf(dir, sizeof dir, "%s", root);
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (at + 1 + l >= sizeof dir)
			return -ENAMETOOLONG;
		dir[at++] = '/';
		memcpy(dir + at, p, l);
		at += l;
		dir[at] = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (cpuset) {
			int r = cpuset_init(dir);
			if (r < 0)
				return r;
		}
		p += l;
	}
	return 0;
}

int cgroup_make(const struct cgroup_host *h, const char *path)
{
	char dirs[HIERARCHIES_MAX][64];
	size_t n = 0;
	if (h->systemd)
		return 0;
	int r = hierarchies(h, dirs, &n);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = make_in(dirs[i], path);
	return r;
}

/* rmdir dir and every cgroup below it, deepest first. */
static int remove_tree(const char *dir, int depth)
{
	if (depth > 16)
		return -ELOOP;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char sub[CGROUP_PATH_MAX];
		if (fs_path_join(sub, sizeof sub, dir, e->d_name) < 0)
			continue;
		int k = remove_tree(sub, depth + 1);
		if (k < 0 && r == 0)
			r = k;
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		return r ? r : -errno;
	return r;
}

int cgroup_remove(const struct cgroup_host *h, const char *path)
{
	char dirs[HIERARCHIES_MAX][64];
	size_t n = 0;
	if (h->systemd || !path || !path[0] || !strcmp(path, "/"))
		return 0;
	int r = hierarchies(h, dirs, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		char dir[CGROUP_PATH_MAX];
		if (snprintf(dir, sizeof dir, "%s%s", dirs[i], path) >= (int)sizeof dir)
			return -ENAMETOOLONG;
		int k = remove_tree(dir, 0);
		if (k < 0)
			r = k;
	}
	return r;
}

int cgroup_enter(const struct cgroup_host *h, const char *path, pid_t pid)
{
	char dirs[HIERARCHIES_MAX][64];
	size_t n = 0;
	char tp[CGROUP_PATH_MAX], line[32];
	int r = tree_path(h, path, tp, sizeof tp);
	if (r == 0)
		r = hierarchies(h, dirs, &n);
	int len = snprintf(line, sizeof line, "%d\n", (int)pid);
	for (size_t i = 0; r == 0 && i < n; i++) {
		char f[CGROUP_PATH_MAX];
		if (snprintf(f, sizeof f, "%s%s/cgroup.procs", dirs[i], tp) >= (int)sizeof f)
			return -ENAMETOOLONG;
		int fd = open(f, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = fs_write_all(fd, line, (size_t)len);
		close(fd);
	}
	return r;
}

int cgroup_oom_file(const struct cgroup_host *h, const char *ctr_path, char *buf, size_t len)
{
	char dir[CGROUP_PATH_MAX];
	bool v2 = h->mode == CGROUP_V2;
	int r = cgroup_dir(h, v2 ? "" : "memory", ctr_path, dir, sizeof dir);
	if (r == 0)
		r = fs_path_join(buf, len, dir, v2 ? "memory.events" : "memory.oom_control");
	return r;
}

static int exec_dir(const struct cgroup_host *h, const char *ctr_path, unsigned n, char *buf,
		    size_t len, char *name, size_t name_len)
{
	char dir[CGROUP_PATH_MAX];
	snprintf(name, name_len, "crisp-exec-%u", n);
	int r = cgroup_dir(h, h->mode == CGROUP_V2 ? "" : "freezer", ctr_path, dir, sizeof dir);
	return r < 0 ? r : fs_path_join(buf, len, dir, name);
}

int cgroup_exec_make(const struct cgroup_host *h, const char *ctr_path, unsigned n,
		     char *ret_spec, size_t spec_len, char *ret_procs, size_t procs_len)
{
	char dir[CGROUP_PATH_MAX], name[32];
	int r = exec_dir(h, ctr_path, n, dir, sizeof dir, name, sizeof name);
	if (r < 0)
		return r;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	int k = h->mode == CGROUP_V2 ? snprintf(ret_spec, spec_len, "%s", name) :
		snprintf(ret_spec, spec_len, "freezer:%s", name);
	if (k < 0 || (size_t)k >= spec_len)
		return -ENAMETOOLONG;
	return fs_path_join(ret_procs, procs_len, dir, "cgroup.procs");
}

/* SIGKILL every pid listed in procs; how many were there. */
static int kill_listed(const char *procs)
{
	char *buf = NULL;
	int n = 0;
	if (fs_read_file(AT_FDCWD, procs, 1 << 20, &buf, NULL) < 0)
		return 0;
	char *save = NULL;
	for (char *w = strtok_r(buf, "\n", &save); w; w = strtok_r(NULL, "\n", &save)) {
		long pid = strtol(w, NULL, 10);
		if (pid > 1) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
	}
	free(buf);
	return n;
}

int cgroup_exec_remove(const struct cgroup_host *h, const char *ctr_path, unsigned n)
{
	char dir[CGROUP_PATH_MAX], name[32], procs[CGROUP_PATH_MAX];
	int r = exec_dir(h, ctr_path, n, dir, sizeof dir, name, sizeof name);
	if (r < 0 || (r = fs_path_join(procs, sizeof procs, dir, "cgroup.procs")) < 0)
		return r;
	for (int tries = 0; tries < 200; tries++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		kill_listed(procs);
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}
