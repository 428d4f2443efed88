/*
 * fsutil: small file descriptor and path helpers shared by the daemons:
 * directories made or fixed to a mode and owner, lock files (flock), files
 * read with a size cap and written atomically, paths joined with a length
 * check. Every fd is O_CLOEXEC from creation. Paths are opened relative to a
 * directory fd where it matters (dirfd may be AT_FDCWD). Never removes or
 * empties anything it did not create. Returns negative errno; never logs.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Join a and b with one '/' into buf; -ENAMETOOLONG when it does not fit. */
int fs_path_join(char *buf, size_t len, const char *a, const char *b);
/* The directory part of path ("/" for "/x", "." for "x"). */
int fs_dirname(const char *path, char *buf, size_t len);
/* The directory holding the running binary (dirname of /proc/self/exe). */
int fs_self_dir(char *buf, size_t len);

/* mkdir -p: path and its missing parents are made with mode (umask applies;
 * existing ones are left as they are). */
int fs_mkdir_p(const char *path, mode_t mode);

enum fs_dir_flags {
	FS_DIR_CREATE = 1u << 0,        /* mkdir it (mode) when missing */
	FS_DIR_NOFOLLOW = 1u << 1,      /* the last component may not be a symlink */
};
/* Open directory path (relative to dirfd) O_DIRECTORY|O_CLOEXEC. -ENOTDIR
 * when it is something else; -ELOOP for a symlink with FS_DIR_NOFOLLOW. */
int fs_open_dir(int dirfd, const char *path, unsigned flags, mode_t mode, int *ret_fd);
/* Set the owner (uid/gid (uid_t)-1: leave) and then the mode of the open
 * file fd, each only where it differs. */
int fs_fix_owner_mode(int fd, uid_t uid, gid_t gid, mode_t mode);

/* Make every directory from / down to path searchable by uid:gid (its
 * primary group only): where the bits that apply to uid:gid deny it, add
 * that one search bit (mostly o+x: search, not listing). *ret_changed (may
 * be NULL) is how many directories were changed. */
int fs_make_reachable(const char *path, uid_t uid, gid_t gid, unsigned *ret_changed);

/* Open (creating, mode 0644) and flock(LOCK_EX|LOCK_NB) the lock file path,
 * then write our pid into it. -EBUSY when another open file holds the lock;
 * the lock lasts as long as the returned fd. */
int fs_lock_file(int dirfd, const char *path, int *ret_fd);
/* The pid written into the lock file path by its holder. */
int fs_lock_holder(int dirfd, const char *path, pid_t *ret_pid);

/* Read fd to its end into a NUL-terminated buffer (free()). -EFBIG when it
 * holds more than max bytes. ret_len may be NULL. */
int fs_read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len);
int fs_read_file(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len);
/* All of data to fd, again after EINTR and short writes (-EIO when a
 * write writes nothing). */
int fs_write_all(int fd, const void *data, size_t len);
/* Write data to path atomically: a temporary file in the same directory,
 * fsync, rename over path. */
int fs_write_file_atomic(int dirfd, const char *path, const void *data, size_t len,
			 mode_t mode);

/* Write data to path (created or truncated, then mode), not synced: for
 * files whose loss in a crash is undone anyway (a half-made pod's or
 * container's, torn down by recovery). Removed again on failure. */
int fs_write_file(int dirfd, const char *path, const void *data, size_t len, mode_t mode);

/* 0 when path is a regular file that we may execute; -ENOENT, -EACCES (not
 * executable), -EISDIR or -EINVAL (not a regular file) otherwise. */
int fs_check_executable(int dirfd, const char *path);
