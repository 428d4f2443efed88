/*
 * stdio: the container's standard streams, as conmon holds them.
 *   pipes     stdout and stderr pipes (and stdin with --stdin): runc create
 *             passes its own fds 0, 1, 2 on to the container, so conmon
 *             gives runc the pipes' container ends and keeps the others;
 *   terminal  runc makes the pty and sends its master over --console-socket
 *             (a SOCK_STREAM socket in --dir): one message, one SCM_RIGHTS
 *             fd; received with MSG_CMSG_CLOEXEC, MSG_CTRUNC and any other
 *             shape refused (every fd that came is closed), and it must be a
 *             terminal. runc's own fds are then /dev/null.
 * conmon's ends are O_NONBLOCK and O_CLOEXEC. Owns these fds; never reads
 * them and writes only the ^D of conmon_stdio_close_stdin (the monitor
 * moves the bytes). Never logs; returns negative errno.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define CONMON_CONSOLE_SOCK "console"

struct conmon_stdio {
	int child[3];   /* runc's fds 0, 1, 2; closed by conmon_stdio_child_close */
	int in;         /* the container's stdin (pipe or pty master), -1: none */
	int out;        /* its stdout (pipe or pty master) */
	int err;        /* its stderr pipe; -1 with a terminal */
	int pty;        /* the pty master (the same fd as out, and in with --stdin) or -1 */
	int console;    /* the listening console socket until the master came, or -1 */
};

/* Pipes; stdin too when want_stdin (else runc's fd 0 is /dev/null). */
int conmon_stdio_pipes(bool want_stdin, struct conmon_stdio *ret);
/* The console socket in dir (CONMON_CONSOLE_SOCK); *path (len bytes) is
 * what to pass as runc's --console-socket. */
int conmon_stdio_console(const char *dir, int dirfd, char *path, size_t len,
			 struct conmon_stdio *ret);
/* Once runc create has returned: take runc's connection and its pty master,
 * then close and remove the console socket. want_stdin: the master is also
 * the container's stdin for conmon. -EAGAIN if runc never connected. */
int conmon_stdio_console_take(struct conmon_stdio *s, int dirfd, bool want_stdin);
/* Receive exactly one fd (and up to 4 KiB of bytes, ignored) from the
 * connected socket sock; anything else is -EBADMSG with every fd closed. */
int conmon_stdio_recv_fd(int sock, int *ret_fd);
/* Close runc's ends (after runc create: the container holds them now). */
void conmon_stdio_child_close(struct conmon_stdio *s);
/* Close the container's stdin (CONMON_CTL_CLOSE_STDIN, --stdin-once). With
 * a pty the master stays (it carries the output too): conmon writes the
 * terminal's EOF character (VEOF, ^D) once instead, what a user's ^D does,
 * and sends no more input. The one write this file makes. */
void conmon_stdio_close_stdin(struct conmon_stdio *s);
void conmon_stdio_close(struct conmon_stdio *s);
