/*
 * crispctl: crisp's admin tool, for root on the node (like containerd's
 * ctr). Two ways in:
 *  - imaged's admin socket RUNROOT/admin/imaged.sock as role crispctl: the
 *    CRI image calls (so that it shows what the CRI sees) and the admin
 *    requests (import, export, push) whose archives travel as passed fds:
 *    crispctl opens the files, imaged never opens a path it is given.
 *  - the CRI socket, over gRPC like any CRI client (crictl's everyday verbs
 *    and ctr's `run`): pods, containers, logs, exec. The socket is found as
 *    crictl finds it: -r/--runtime-endpoint, $CONTAINER_RUNTIME_ENDPOINT,
 *    else crisp's default listen path.
 *
 * One file per concern: main.c (flags, verbs, usage), util.c (small shared
 * helpers), client.c (the admin channel: connect, Hello, one call at a
 * time, Ctrl-C sends a Cancel), image.c (ls, pull, rm), transfer.c (import,
 * export, push), layout_dir.c (a directory layout streamed as a tar),
 * lease.c (lease ls); cri_client.c (grpc core unary calls), endpoint.c
 * (which socket), cri.c (crispctl's CRI calls: errors printed, Ctrl-C,
 * id prefixes), table.c (crictl-like tables), pbjson.c (protobuf as JSON),
 * pbmap.c (map<string,string> fields), pods.c (pods, stopp, rmp, inspectp), containers.c (ps, stop, rm,
 * inspect), run_opts.c and run.c (run), crilog.c (the CRI log format),
 * logs.c (logs, following), exec.c (exec), version.c (version).
 *
 * Exit status: 0 success, 1 failure with a message on stderr (the status
 * text imaged or the gRPC status criserver answered), 2 usage; `run`
 * (attached) and `exec` exit with the container's or the command's exit
 * code, and with 125 when crispctl itself fails; 130 when interrupted.
 * Credentials given with --user are sent to imaged and never printed.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <protobuf-c/protobuf-c.h>

#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_RUN_FAIL 125           /* run/exec: crispctl itself failed */
#define CTL_EXIT_INTERRUPTED 130
#define CTL_CONNECT_TIMEOUT_MS 5000
#define CTL_TIMEOUT_MS_DEFAULT (2 * 60 * 1000)  /* a CRI call, --timeout */
#define CTL_PULL_TIMEOUT_MS (30 * 60 * 1000)    /* PullImage, at least */
#define CTL_ENDPOINT_ENV "CONTAINER_RUNTIME_ENDPOINT"
#define CTL_PATH_MAX 4096
#define CTL_ERR_MAX 1280

struct chan;
struct cri_client;

struct ctl {
	const char *runroot;
	struct chan *chan;
	uint64_t next_id;
	const char *prog;       /* "crispctl" */
	/* the CRI side */
	const char *endpoint;           /* -r, or NULL */
	const char *default_listen;     /* crisp's default CRI socket */
	int64_t timeout_ms;             /* one CRI call (--timeout) */
	char cri_path[CTL_PATH_MAX];    /* the socket, once resolved */
	struct cri_client *cri;
	int last_code;                  /* the gRPC status of the last CRI call */
	char last_error[CTL_ERR_MAX];   /* and what went wrong, as printed */
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

int ctl_version(struct ctl *c, int argc, char **argv);
int ctl_pods(struct ctl *c, int argc, char **argv);
int ctl_stopp(struct ctl *c, int argc, char **argv);
int ctl_rmp(struct ctl *c, int argc, char **argv);
int ctl_inspectp(struct ctl *c, int argc, char **argv);
int ctl_ps(struct ctl *c, int argc, char **argv);
int ctl_stop(struct ctl *c, int argc, char **argv);
int ctl_rm(struct ctl *c, int argc, char **argv);
int ctl_inspect(struct ctl *c, int argc, char **argv);
int ctl_logs(struct ctl *c, int argc, char **argv);
int ctl_exec(struct ctl *c, int argc, char **argv);
int ctl_run(struct ctl *c, int argc, char **argv);

/* ---- endpoint.c ------------------------------------------------------------ */

/* The CRI socket's path from flag (-r), else env ($CONTAINER_RUNTIME_ENDPOINT,
 * when not empty), else dflt: -EPROTONOSUPPORT for a scheme other than
 * unix, -EINVAL for an empty one, -ENAMETOOLONG. */
int ctl_endpoint_path(const char *flag, const char *env, const char *dflt, char *buf,
		      size_t len);

/* ---- cri.c: crispctl's CRI calls --------------------------------------------- */

#define CTL_CALL_QUIET 1                /* print nothing on failure */

/* Resolves the endpoint and opens the channel (once; later calls reuse it);
 * installs the SIGINT/SIGTERM counter. Prints why on failure. */
int ctl_cri_connect(struct ctl *c);
void ctl_cri_close(struct ctl *c);
/* One CRI call by its method name ("RunPodSandbox", "PullImage"):
 * timeout_ms 0 is c->timeout_ms. On failure prints "crispctl: METHOD:
 * STATUS: details" (unless CTL_CALL_QUIET) and returns < 0 with
 * c->last_code the gRPC status and c->last_error that text (-EINTR:
 * interrupted). */
int ctl_cri_call(struct ctl *c, const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *desc, int64_t timeout_ms, int flags,
		 ProtobufCMessage **ret);
/* How many SIGINT/SIGTERM arrived since ctl_cri_connect. */
int ctl_interrupts(void);
/* The full id of the one container (pod) whose id starts with prefix (an
 * exact id wins). Prints why not (unless CTL_CALL_QUIET): no such, or
 * ambiguous (-ENOENT, -EEXIST; else the call's error). *ret_id: free(). */
int ctl_ctr_resolve(struct ctl *c, const char *prefix, int flags, char **ret_id);
int ctl_pod_resolve(struct ctl *c, const char *prefix, int flags, char **ret_id);
/* The one of ids[0..n) that prefix names (what: "container" or "pod", for
 * the message): an exact id wins, else a unique prefix; -ENOENT, -EEXIST. */
int ctl_id_pick(const char *what, const char *prefix, const char *const *ids, size_t n,
		int flags, char **ret_id);

/* ---- table.c ------------------------------------------------------------- */

#define CTL_ID_SHORT 13                 /* as crictl */

struct ctl_table;
struct ctl_table *ctl_table_new(size_t ncols);
/* A row of ncols cells (copied; NULL is ""). */
int ctl_table_add(struct ctl_table *t, const char *const *row);
void ctl_table_print(const struct ctl_table *t, FILE *f);
void ctl_table_free(struct ctl_table *t);
/* "5 minutes ago" (crictl's wording); "-" when created_ns is unset. */
void ctl_ago(int64_t created_ns, int64_t now_ns, char *buf, size_t len);
/* The first 13 characters of id (without "sha256:"). */
void ctl_trunc_id(const char *id, char buf[CTL_ID_SHORT + 1]);
const char *ctl_pod_state_name(int state);
const char *ctl_ctr_state_name(int state);

/* ---- pbjson.c ------------------------------------------------------------- */

struct json_object;
/* msg as crictl prints it (protojson, defaults emitted); NULL: no memory. */
struct json_object *ctl_pb_json(const ProtobufCMessage *msg);
/* "log_directory" -> "logDirectory" (protoc's JSON name). */
void ctl_json_name(const char *proto_name, char *buf, size_t len);
/* `inspect`'s object, as crictl's: "status" (status as JSON) and each key
 * of the verbose info map (string entries), a value that starts with '{'
 * embedded as JSON, others as strings; keys sorted. */
struct json_object *ctl_inspect_json(const ProtobufCMessage *status, void *const *info,
				     size_t n_info);
/* o pretty-printed (2 spaces) and a newline. */
int ctl_json_print(struct json_object *o, FILE *f);

/* ---- logs.c ---------------------------------------------------------------- */

struct crilog_file;
struct crilog_out;
struct Runtime__V1__ContainerStatusResponse;
/* ContainerStatus of the full id (an answer without a status: -EBADMSG). */
int ctl_ctr_status(struct ctl *c, const char *id, bool verbose, int flags,
		   struct Runtime__V1__ContainerStatusResponse **ret);
/* Writes f's records to o until container id has exited (0, *ret_code its
 * exit code; what is left is read first) or is gone (-ENOENT). -EINTR when
 * a SIGINT/SIGTERM came (the caller decides what next); -EPIPE when o's
 * reader went away; other errors printed. */
int ctl_log_follow(struct ctl *c, const char *id, struct crilog_file *f, struct crilog_out *o,
		   int *ret_code);

/* ---- pbmap.c: map<string,string> fields ---------------------------------- */

struct ctl_kv {
	char *key, *value;
};
/* The entries of a map field whose entry type is entry, from kv[0..n)
 * (strings not copied): *ret is what the message's field takes. One
 * block: ctl_map_free(*ret). */
int ctl_map_new(const ProtobufCMessageDescriptor *entry, const struct ctl_kv *kv, size_t n,
		void ***ret);
void ctl_map_free(void **entries);
/* The value of key in a map field's entries, or NULL. */
const char *ctl_map_get(void *const *entries, size_t n, const char *key);
/* Whether every want[i] is in the map with that value. */
bool ctl_map_has_all(void *const *entries, size_t n, const struct ctl_kv *want, size_t n_want);

/* ---- pods.c ------------------------------------------------------------ */

/* Where `run` makes its pods' log directories (LOG_BASE/<pod uid>), and
 * the temp dir it uses instead when that is not writable; the annotation
 * that tells `rmp` (and run --rm) to remove the directory with the pod. */
#define CTL_LOG_BASE "/var/log/crisp/pods"
#define CTL_LOG_TMP_PREFIX "crispctl-logs-"
#define CTL_LOGDIR_ANNOTATION "crispctl.crisp/log-directory"

struct Runtime__V1__PodSandboxStatusResponse;
int64_t ctl_now_ns(void);       /* CLOCK_REALTIME */
/* regcomp (extended, no sub-matches); prints why not. */
int ctl_regex(regex_t *re, const char *pattern);
int ctl_pod_status(struct ctl *c, const char *id, bool verbose, int flags,
		   struct Runtime__V1__PodSandboxStatusResponse **ret);
int ctl_pod_stop(struct ctl *c, const char *id);
/* RemovePodSandbox, and the log directory if `run` made it. */
int ctl_pod_remove(struct ctl *c, const char *id);
void ctl_logdir_remove(const char *dir);
/* The inspect object of a pod (NULL: printed why). */
struct json_object *ctl_pod_inspect(struct ctl *c, const char *id);
/* One object as it is, several as an array, pretty on stdout. */
int ctl_print_inspect(struct json_object *const *objs, size_t n);

/* ---- containers.c --------------------------------------------------------- */

/* StopContainer with a grace of timeout_s (the call may last that long). */
int ctl_ctr_stop(struct ctl *c, const char *id, int64_t timeout_s);
int ctl_ctr_remove(struct ctl *c, const char *id);

/* ---- run_opts.c ------------------------------------------------------------ */

#define RUN_ENV_MAX 256
#define RUN_LABELS_MAX 64

struct ctl_user {
	const char *name;               /* NULL: by uid */
	int64_t uid, gid;
	bool have_uid, have_gid;
};

struct run_opts {
	bool rm, detach, tty, interactive, host_net, have_user;
	const char *name, *workdir, *image;     /* NULL: not given */
	struct ctl_user user;
	struct ctl_kv env[RUN_ENV_MAX];
	size_t n_env;
	struct ctl_kv labels[RUN_LABELS_MAX];
	size_t n_labels;
	char **cmd;                     /* CMD [ARG...] (into argv), n_cmd 0: the image's */
	size_t n_cmd;
};

/* run's flags (argv[0] is "run"); pairs are split in place. -EINVAL with
 * err set (or empty: plain usage), -ENOTSUP for -i/-t (err says why). */
int ctl_run_opts_parse(int argc, char **argv, struct run_opts *o, char *err, size_t len);
/* "NAME", "UID", "NAME:GID", "UID:GID" (split in place). */
int ctl_parse_user_spec(char *s, struct ctl_user *ret);
/* A DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
bool ctl_dns_label(const char *s);
/* "<image's last name, as a DNS label>-<suffix>" ("busybox-1a2b3c"). */
void ctl_run_default_name(const char *image, const char *suffix, char *buf, size_t len);

/* ---- layout_dir.c ---------------------------------------------------------- */

/* Starts a child that writes the OCI layout in directory dir as a tar
 * stream into a pipe; *ret_fd is the pipe's read end, *ret_pid the child. */
int layout_dir_stream(const char *dir, int *ret_fd, int *ret_pid);
/* Waits for the child: 0 if it wrote the whole layout. */
int layout_dir_wait(int pid);

/* ---- helpers (util.c) ---------------------------------------------------- */

/* "usage: crispctl <line>" on stderr; returns CTL_EXIT_USAGE. */
int ctl_usage(const char *line);
/* The --user U:P flag of pull and push (getopt; the operands stay in argv
 * from optind). auth's username/password point into argv (image.c). */
struct Runtime__V1__AuthConfig;
int ctl_parse_user(int argc, char **argv, struct Runtime__V1__AuthConfig *auth, bool *ret_have);

/* --user USER:PASS into a runtime.v1.AuthConfig's fields (pointers into s). */
int ctl_split_user(char *s, char **ret_user, char **ret_pass);
/* "1.23MB" */
void ctl_human_size(uint64_t bytes, char *buf, size_t len);
/* "30" (seconds), "30s", "500ms", "2m", "1h" into milliseconds. */
int ctl_parse_duration(const char *s, int64_t *ret_ms);
/* "KEY=VALUE" split in place (KEY not empty); -EINVAL otherwise. */
int ctl_split_kv(char *s, char **ret_key, char **ret_value);
