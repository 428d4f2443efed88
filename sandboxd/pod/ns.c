/*
 * ns: a pod's namespaces without a pause process. A short-lived child
 * unshares the network, IPC and UTS namespaces the pod needs and sets the
 * hostname in the new UTS namespace; sandboxd bind-mounts the child's
 * /proc/PID/ns files onto RUNROOT/pods/<id>/ns/{net,ipc,uts} (the pins
 * that keep them alive and that runc and the CNI plugins join by path),
 * then lets the child exit. Also the pod's /dev/shm, a tmpfs of
 * [runtime] shm_size at RUNROOT/pods/<id>/shm.
 *
 * The child is forked from a threaded daemon: between fork and _exit it
 * makes only async-signal-safe system calls, and first closes every fd but
 * its two pipe ends, so that it never holds another thread's pipe open
 * (children of concurrent RunPodSandbox calls would otherwise wait on each
 * other's pipes forever). It is told to go with a byte, not by EOF.
 * Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/status.h"
#include "sandboxd/pod/pod.h"

static const char *const ns_names[] = { "net", "ipc", "uts" };
static const int ns_flags[] = { CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS };

void pod_close_all_but(const int *keep, size_t n)
{
	int sorted[8];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 8; i++) {
		if (keep[i] < 3)
			continue;
		size_t j = k++;
		for (; j > 0 && sorted[j - 1] > keep[i]; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = keep[i];
	}
	unsigned from = 3;
	for (size_t i = 0; i < k; i++) {
		if ((unsigned)sorted[i] > from)
			close_range(from, (unsigned)sorted[i] - 1, 0);
		from = (unsigned)sorted[i] + 1;
	}
	close_range(from, ~0u, 0);
}

static void child(int flags, const char *hostname, int ready, int go)
{
	char c = 0;
	int keep[] = { ready, go };
	pod_close_all_but(keep, 2);
	if (unshare(flags) < 0)
		_exit(1);
	if ((flags & CLONE_NEWUTS) && hostname && sethostname(hostname, strlen(hostname)) < 0)
		_exit(2);
	if (write(ready, &c, 1) != 1)
		_exit(3);
	(void)!read(go, &c, 1);
	_exit(0);
}

/* An empty file to mount a pin on. */
static int pin_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int pod_ns_create(const char *nsdir, const bool want[3], const char *hostname,
		  struct crisp_error *err)
{
	int flags = 0;
	for (int i = 0; i < 3; i++)
		if (want[i])
			flags |= ns_flags[i];
	if (!flags)
		return 0;
	int r = fs_mkdir_p(nsdir, 0700);
	if (r < 0)
		return crisp_fail_errno(err, r, "%s", nsdir);
	int ready[2], go[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return crisp_fail_errno(err, -errno, "pipe");
	if (pipe2(go, O_CLOEXEC) < 0) {
		r = -errno;
		close(ready[0]);
		close(ready[1]);
		return crisp_fail_errno(err, r, "pipe");
	}
	pid_t pid = fork();
	if (pid == 0)
		child(flags, hostname, ready[1], go[0]);
	close(ready[1]);
	close(go[0]);
	if (pid < 0) {
		r = crisp_fail_errno(err, -errno, "fork");
		goto out;
	}
	char c;
	if (read(ready[0], &c, 1) != 1) {
		r = crisp_fail(err, CRISP_STATUS_INTERNAL, -EIO,
			       "making the pod's namespaces failed (unshare or sethostname)");
		goto out;
	}
	for (int i = 0; i < 3 && r == 0; i++) {
		if (!want[i])
			continue;
		char src[64], dst[PATH_MAX];
		snprintf(src, sizeof src, "/proc/%d/ns/%s", (int)pid, ns_names[i]);
		if ((r = fs_path_join(dst, sizeof dst, nsdir, ns_names[i])) < 0 ||
		    (r = pin_file(dst)) < 0) {
			crisp_fail_errno(err, r, "%s/%s", nsdir, ns_names[i]);
			break;
		}
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
			r = crisp_fail_errno(err, -errno, "pin %s on %s", src, dst);
	}
out:
	(void)!write(go[1], "x", 1);    /* the child exits */
	close(go[1]);
	close(ready[0]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	if (r < 0)
		pod_ns_release(nsdir);
	return r;
}

/* Unmount path if something is mounted there; remove the file. */
static int unpin(const char *path)
{
	int r = 0;
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
		r = -errno;
	if (unlink(path) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int pod_ns_release(const char *nsdir)
{
	int r = 0;
	for (int i = 0; i < 3; i++) {
		char p[PATH_MAX];
		if (fs_path_join(p, sizeof p, nsdir, ns_names[i]) < 0)
			continue;
		int k = unpin(p);
		if (k < 0 && r == 0)
			r = k;
	}
	if (rmdir(nsdir) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

bool pod_ns_pinned(const char *path)
{
	struct stat a, b;
	char parent[PATH_MAX];
	/* an nsfs file is mounted there: a different device than its dir */
	return fs_dirname(path, parent, sizeof parent) == 0 && stat(path, &a) == 0 &&
	       stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

int pod_shm_create(const char *dir, uint64_t size, struct crisp_error *err)
{
	char opts[64];
	int r = fs_mkdir_p(dir, 0755);
	if (r < 0)
		return crisp_fail_errno(err, r, "%s", dir);
	snprintf(opts, sizeof opts, "mode=1777,size=%llu", (unsigned long long)size);
	if (mount("shm", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return crisp_fail_errno(err, -errno, "mount the pod's /dev/shm on %s", dir);
	return 0;
}

int pod_shm_release(const char *dir)
{
	int r = 0;
	if (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
		r = -errno;
	if (rmdir(dir) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}
