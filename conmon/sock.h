/*
 * sock: conmon's listening AF_UNIX sockets (attach, ctl, console) in its
 * --dir. A socket's path is DIR/NAME when that fits in sun_path, else
 * /proc/self/fd/DIRFD/NAME (DIR can be longer than sun_path's 108 bytes;
 * the clients do the same with their own fd of DIR). Sockets are made 0600
 * (umask around bind: conmon is single-threaded) and O_CLOEXEC, a stale
 * file of that name is replaced. Never logs; returns negative errno.
 */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* socket(type) bound to NAME in dir (path dir, open as dirfd), listening. */
int conmon_sock_listen(const char *dir, int dirfd, const char *name, int type, int *ret_fd);
/* The path another process (runc) can connect to: DIR/NAME, or
 * /proc/PID/fd/DIRFD/NAME with conmon's pid when DIR/NAME is too long. */
int conmon_sock_path(const char *dir, int dirfd, const char *name, char *buf, size_t len);
