/*
 * landlock: the Landlock part of the privilege drop (see landlock.h). Owns
 * the ABI table: which filesystem rights, network rights and scopes each
 * ABI version (1..7) handles. The system headers stop at ABI 2, so the later
 * constants and the three-word ruleset attribute are defined here.
 * Must never grant more than asked: the ruleset handles every right the
 * running ABI knows, and rules only ever allow.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/landlock.h"

/* ABI 1: bits 0..12, EXECUTE .. MAKE_SYM */
#define LL_FS_ABI1 ((UINT64_C(1) << 13) - 1)
#define LL_FS_REFER (UINT64_C(1) << 13)         /* ABI 2 */
#define LL_FS_TRUNCATE (UINT64_C(1) << 14)      /* ABI 3 */
#define LL_FS_IOCTL_DEV (UINT64_C(1) << 15)     /* ABI 5 */
#define LL_NET_BIND_TCP (UINT64_C(1) << 0)      /* ABI 4 */
#define LL_NET_CONNECT_TCP (UINT64_C(1) << 1)   /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (UINT64_C(1) << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (UINT64_C(1) << 1)      /* ABI 6 */

#define LL_FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
/* The rights that apply to a file that is not a directory. */
#define LL_FS_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
		    LANDLOCK_ACCESS_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

/* The ruleset attribute as of ABI 6; older kernels accept it as long as the
 * fields they do not know are zero. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

int landlock_abi(void)
{
	long v = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return v < 0 ? 0 : (int)v;
}

static uint64_t handled_fs(int abi)
{
	uint64_t fs = LL_FS_ABI1;
	if (abi >= 2)
		fs |= LL_FS_REFER;
	if (abi >= 3)
		fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LL_FS_IOCTL_DEV;
	return fs;
}

/* Allow access beneath path; a path that does not exist is skipped. */
static int add_path(int ruleset, const char *path, uint64_t access)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode))
		access &= LL_FS_FILE;
	struct landlock_path_beneath_attr pb = { .allowed_access = access, .parent_fd = fd };
	if (syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		r = -errno;
out:
	close(fd);
	return r;
}

static int add_paths(int ruleset, const char *const *paths, uint64_t access)
{
	for (size_t i = 0; paths && paths[i]; i++) {
		int r = add_path(ruleset, paths[i], access);
		if (r < 0)
			return r;
	}
	return 0;
}

int landlock_restrict(const struct landlock_rules *r)
{
	int abi = landlock_abi();
	if (abi <= 0)
		return 0;
	uint64_t fs = handled_fs(abi);
	struct ll_ruleset_attr attr = { .handled_access_fs = fs };
	if (abi >= 4) {
		if (!r->tcp_bind)
			attr.handled_access_net |= LL_NET_BIND_TCP;
		if (!r->tcp_connect)
			attr.handled_access_net |= LL_NET_CONNECT_TCP;
	}
	if (abi >= 6 && !r->no_scope)
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;

	int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (ruleset < 0)
		return -errno;
	int ret = add_paths(ruleset, r->ro, fs & LL_FS_READ);
	if (ret == 0)
		ret = add_paths(ruleset, r->exec, fs & (LL_FS_READ | LANDLOCK_ACCESS_FS_EXECUTE));
	if (ret == 0)
		ret = add_paths(ruleset, r->rw, fs & ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE);
	if (ret == 0 && syscall(__NR_landlock_restrict_self, ruleset, 0) < 0)
		ret = -errno;
	close(ruleset);
	return ret;
}
