/*
 * proc: the suite's process table and runroot layout (common/proc.h).
 * The table is in start order: the backends first (imaged, sandboxd,
 * streamd), criserver, which asks all of them, last; crisp-up stops them in
 * reverse. This file only describes: it never starts, signals or logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/proc.h"
#include "crisp.pb-c.h"

static const struct proc_desc procs[] = {
	{ "imaged",    CRISP__ROLE__ROLE_IMAGED,    false, true },
	{ "sandboxd",  CRISP__ROLE__ROLE_SANDBOXD,  false, true },
	{ "streamd",   CRISP__ROLE__ROLE_STREAMD,   true,  true },
	{ "criserver", CRISP__ROLE__ROLE_CRISERVER, true,  false },
};

static const char *const role_names[] = {
	[CRISP__ROLE__ROLE_NONE] = "none",
	[CRISP__ROLE__ROLE_CRISP_UP] = "crisp-up",
	[CRISP__ROLE__ROLE_CRISERVER] = "criserver",
	[CRISP__ROLE__ROLE_IMAGED] = "imaged",
	[CRISP__ROLE__ROLE_SANDBOXD] = "sandboxd",
	[CRISP__ROLE__ROLE_STREAMD] = "streamd",
	[CRISP__ROLE__ROLE_CONMON] = "conmon",
	[CRISP__ROLE__ROLE_CRISPCTL] = "crispctl",
};

const struct proc_desc *proc_table(size_t *ret_n)
{
	*ret_n = sizeof procs / sizeof procs[0];
	return procs;
}

const struct proc_desc *proc_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++)
		if (strcmp(procs[i].name, name) == 0)
			return &procs[i];
	return NULL;
}

const struct proc_desc *proc_by_role(int role)
{
	for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++)
		if (procs[i].role == role)
			return &procs[i];
	return NULL;
}

const char *proc_role_name(int role)
{
	if (role < 0 || (size_t)role >= sizeof role_names / sizeof role_names[0])
		return "unknown";
	return role_names[role];
}

static int socket_path(const char *runroot, const char *sub, const char *name, char *buf,
		       size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s.sock", runroot, sub, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int proc_internal_socket(const char *runroot, const char *name, char *buf, size_t len)
{
	return socket_path(runroot, "internal", name, buf, len);
}

int proc_admin_socket(const char *runroot, const char *name, char *buf, size_t len)
{
	return socket_path(runroot, "admin", name, buf, len);
}

/* Parents made 0755; the directory itself is fixed below. */
int proc_prepare_root(const char *root)
{
	int r = fs_mkdir_p(root, 0755);
	if (r < 0)
		return r;
	int fd;
	r = fs_open_dir(AT_FDCWD, root, 0, 0, &fd);
	if (r < 0)
		return r;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	/* 0700 is as good (stricter): keep it; anything else becomes 0711 */
	mode_t mode = (st.st_mode & 07777) == 0700 ? 0700 : 0711;
	r = fs_fix_owner_mode(fd, 0, 0, mode);
out:
	close(fd);
	return r;
}

static int prepare_sub(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	int fd;
	int r = fs_open_dir(dirfd, name, FS_DIR_CREATE | FS_DIR_NOFOLLOW, mode, &fd);
	if (r < 0)
		return r;
	r = fs_fix_owner_mode(fd, uid, gid, mode);
	close(fd);
	return r;
}

int proc_prepare_runroot(const char *runroot, uid_t uid, gid_t gid)
{
	int r = fs_mkdir_p(runroot, 0755);
	if (r < 0)
		return r;
	int fd;
	r = fs_open_dir(AT_FDCWD, runroot, 0, 0, &fd);
	if (r < 0)
		return r;
	r = fs_fix_owner_mode(fd, 0, 0, 0755);
	if (r == 0)
		r = prepare_sub(fd, "internal", uid, gid, 0700);
	if (r == 0)
		r = prepare_sub(fd, "admin", 0, 0, 0700);
	close(fd);
	return r;
}
