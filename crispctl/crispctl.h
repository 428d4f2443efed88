/*
 * crispctl: crisp's admin tool, for root on the node (like containerd's
 * ctr). It talks to imaged's admin socket RUNROOT/admin/imaged.sock as role
 * crispctl: the CRI image calls (so that it shows what the CRI sees) and
 * the admin requests (import, export, push) whose archives travel as
 * passed fds: crispctl opens the files, imaged never opens a path it is
 * given.
 *
 * One file per concern: main.c (flags, verbs, usage), client.c (the
 * channel: connect, Hello, one call at a time, Ctrl-C sends a Cancel),
 * image.c (ls, pull, rm), transfer.c (import, export, push), layout_dir.c
 * (a directory layout streamed as a tar), lease.c (lease ls).
 *
 * Exit status: 0 success, 1 failure with a message on stderr (the status
 * text imaged answered), 2 usage. Credentials given with --user are sent
 * to imaged and never printed.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2
#define CTL_CONNECT_TIMEOUT_MS 5000

struct chan;

struct ctl {
	const char *runroot;
	struct chan *chan;
	uint64_t next_id;
	const char *prog;       /* "crispctl" */
};

/* ---- client.c ------------------------------------------------------------ */

/* Connects to imaged's admin socket and says Hello. Prints why on failure. */
int ctl_connect(struct ctl *c);
void ctl_close(struct ctl *c);
/* Sends type+msg (+fd if >= 0, not closed here) and waits for the answer
 * (Ctrl-C sends a Cancel and keeps waiting for it). On success *ret is the
 * answer unpacked as desc (desc NULL: nothing). On an error answer prints
 * "crispctl: <text>" and returns -EREMOTEIO. */
int ctl_call(struct ctl *c, uint32_t type, const ProtobufCMessage *msg, int fd,
	     const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret);
/* "crispctl: " + message on stderr; returns CTL_EXIT_FAIL. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- verbs ----------------------------------------------------------------- */

int ctl_image_ls(struct ctl *c, int argc, char **argv);
int ctl_image_pull(struct ctl *c, int argc, char **argv);
int ctl_image_rm(struct ctl *c, int argc, char **argv);
int ctl_image_import(struct ctl *c, int argc, char **argv);
int ctl_image_export(struct ctl *c, int argc, char **argv);
int ctl_image_push(struct ctl *c, int argc, char **argv);
int ctl_lease_ls(struct ctl *c, int argc, char **argv);

/* ---- layout_dir.c ---------------------------------------------------------- */

/* Starts a child that writes the OCI layout in directory dir as a tar
 * stream into a pipe; *ret_fd is the pipe's read end, *ret_pid the child. */
int layout_dir_stream(const char *dir, int *ret_fd, int *ret_pid);
/* Waits for the child: 0 if it wrote the whole layout. */
int layout_dir_wait(int pid);

/* ---- helpers ---------------------------------------------------------------- */

/* "usage: crispctl <line>" on stderr; returns CTL_EXIT_USAGE (main.c). */
int ctl_usage(const char *line);
/* The --user U:P flag of pull and push (getopt; the operands stay in argv
 * from optind). auth's username/password point into argv (image.c). */
struct Runtime__V1__AuthConfig;
int ctl_parse_user(int argc, char **argv, struct Runtime__V1__AuthConfig *auth, bool *ret_have);

/* --user USER:PASS into a runtime.v1.AuthConfig's fields (pointers into s). */
int ctl_split_user(char *s, char **ret_user, char **ret_pass);
/* "1.23MB" */
void ctl_human_size(uint64_t bytes, char *buf, size_t len);
