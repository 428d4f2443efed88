/*
 * unpack_server: the spawner process (see unpack_server.h). Owns the
 * requests on fd 3 and the threads that run one confined child each. Must
 * never parse layer content, unpack outside its TMPDIR, or keep a
 * capability the child does not need.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/chan.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "crisp.pb-c.h"
#include "imaged/unpack_server.h"

struct job {
	struct chan *chan;
	uint64_t id;
	atomic_bool cancel;             /* imaged sent MSG_CANCEL for id */
	struct job *next;
	int blob_fd;
	int timeout_ms;
	char dir[PATH_MAX];
	enum unpack_compression comp;
	struct unpack_limits limits;
};

#define JOB_SLICE_MS 100

static atomic_int jobs_running;
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct job *jobs;                /* running, for MSG_CANCEL */

static void job_link(struct job *j)
{
	pthread_mutex_lock(&jobs_lock);
	j->next = jobs;
	jobs = j;
	pthread_mutex_unlock(&jobs_lock);
}

static void job_unlink(struct job *j)
{
	pthread_mutex_lock(&jobs_lock);
	for (struct job **p = &jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	pthread_mutex_unlock(&jobs_lock);
}

static void jobs_cancel_all(void)
{
	pthread_mutex_lock(&jobs_lock);
	for (struct job *j = jobs; j; j = j->next)
		atomic_store(&j->cancel, true);
	pthread_mutex_unlock(&jobs_lock);
}

static void job_cancel(uint64_t id)
{
	pthread_mutex_lock(&jobs_lock);
	for (struct job *j = jobs; j; j = j->next)
		if (j->id == id)
			atomic_store(&j->cancel, true);
	pthread_mutex_unlock(&jobs_lock);
}

static void send_result(struct chan *c, uint64_t id, const struct unpack_result *res,
			const struct unpack_error *err)
{
	Crisp__UnpackResult out = CRISP__UNPACK_RESULT__INIT;
	out.code = err->code;
	out.err = err->err;
	out.message = (char *)err->msg;
	out.diff_id = (char *)res->diff_id;
	out.tar_size = res->tar_size;
	out.compressed_size = res->compressed_size;
	out.entries = res->entries;
	out.xattrs_skipped = res->xattrs_skipped;
	int r = chan_send_pb(c, CRISP__MSG_TYPE__MSG_UNPACK, id, CHAN_MSG_ANSWER,
			     &out.base, -1);
	if (r < 0)
		log_error_errno(r, "answering unpack request %llu: %m", (unsigned long long)id);
}

/* Run the child; kill it when imaged cancels or its time is up. */
static int job_unpack(struct job *j, struct unpack_result *res, struct unpack_error *err)
{
	struct unpack_spawn sp = {
		.layer_dir = j->dir, .blob_fd = j->blob_fd, .comp = j->comp, .limits = &j->limits,
	};
	struct unpack_child ch;
	int r = unpack_spawn_start(&sp, &ch, err);
	if (r < 0)
		return r;
	int waited = 0;
	for (;;) {
		struct pollfd pfd = { .fd = ch.status_fd, .events = POLLIN };
		int n = poll(&pfd, 1, JOB_SLICE_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 0)
			break;
		waited += JOB_SLICE_MS;
		bool late = j->timeout_ms > 0 && waited >= j->timeout_ms;
		if (atomic_load(&j->cancel) || late) {
			unpack_spawn_finish(&ch, 1, res, err); /* kills and reaps */
			*err = (struct unpack_error){ .code = UNPACK_ERR_SYSTEM,
				.err = late ? -ETIMEDOUT : -ECANCELED };
			snprintf(err->msg, sizeof err->msg, "%s", late ?
				 "unpacking took too long" : "unpacking was cancelled");
			return err->err;
		}
	}
	return unpack_spawn_finish(&ch, 0, res, err);
}

static void *job_run(void *p)
{
	struct job *j = p;
	struct unpack_result res = { 0 };
	struct unpack_error err = { 0 };
	if (job_unpack(j, &res, &err) == 0)
		err = (struct unpack_error){ .code = UNPACK_OK };
	job_unlink(j);
	send_result(j->chan, j->id, &res, &err);
	close(j->blob_fd);
	free(j);
	atomic_fetch_sub(&jobs_running, 1);
	return NULL;
}

/* The layer dir must be a directory under tmpdir, with no symlink on the way. */
static int check_layer_dir(const char *tmpdir, const char *dir)
{
	size_t n = strlen(tmpdir);
	if (strncmp(dir, tmpdir, n) != 0 || dir[n] != '/' || strlen(dir) >= PATH_MAX)
		return -EPERM;
	/* the canonical path must be dir itself: no symlink, "." or ".." on the way */
	char real[PATH_MAX];
	if (!realpath(dir, real))
		return -errno;
	if (strcmp(real, dir) != 0)
		return -EPERM;
	struct stat st;
	if (lstat(dir, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static void limits_from(const Crisp__UnpackRequest *q, struct unpack_limits *l)
{
	unpack_limits_default(l);
	if (q->max_tar_size)
		l->max_tar_size = q->max_tar_size;
	if (q->max_ratio)
		l->max_ratio = q->max_ratio;
	if (q->ratio_floor)
		l->ratio_floor = q->ratio_floor;
	if (q->max_entries)
		l->max_entries = q->max_entries;
	if (q->max_path)
		l->max_path = q->max_path;
	if (q->max_link)
		l->max_link = q->max_link;
	if (q->max_xattrs)
		l->max_xattrs = q->max_xattrs;
	if (q->max_xattr_size)
		l->max_xattr_size = q->max_xattr_size;
}

/* Take one request; refusals are answered here. < 0: the channel is done. */
static int take_request(struct chan *c, const char *tmpdir)
{
	struct chan_msg m = CHAN_MSG_INIT;
	int r = chan_recv(c, &m);
	if (r < 0)
		return r;
	if (m.type == CRISP__MSG_TYPE__MSG_CANCEL && m.fd < 0) {
		job_cancel(m.id);
		chan_msg_clear(&m);
		return 0;
	}
	struct unpack_result res = { 0 };
	struct unpack_error err = { .code = UNPACK_ERR_SYSTEM };
	Crisp__UnpackRequest *q = NULL;
	bool handed = false;
	if (m.type != CRISP__MSG_TYPE__MSG_UNPACK || m.fd < 0 ||
	    chan_msg_unpack(&m, &crisp__unpack_request__descriptor, (ProtobufCMessage **)&q) < 0) {
		chan_msg_clear(&m);
		return -EPROTO; /* imaged speaks this protocol exactly, or not at all */
	}
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		err.err = -ENOMEM;
		snprintf(err.msg, sizeof err.msg, "out of memory");
	} else if ((r = check_layer_dir(tmpdir, q->layer_dir)) < 0 ||
		   q->compression > UNPACK_COMP_ZSTD) {
		err.err = r < 0 ? r : -EINVAL;
		snprintf(err.msg, sizeof err.msg, "refused layer dir or compression");
	} else if (atomic_fetch_add(&jobs_running, 1) >= UNPACK_SERVER_MAX_JOBS) {
		atomic_fetch_sub(&jobs_running, 1);
		err = (struct unpack_error){ .code = UNPACK_ERR_LIMIT, .err = -EBUSY };
		snprintf(err.msg, sizeof err.msg, "too many layers unpacking at once");
	} else {
		*j = (struct job){ .chan = c, .id = m.id, .blob_fd = m.fd,
				   .timeout_ms = q->timeout_ms, .comp = q->compression };
		atomic_init(&j->cancel, false);
		snprintf(j->dir, sizeof j->dir, "%s", q->layer_dir);
		limits_from(q, &j->limits);
		m.fd = -1;
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		job_link(j);
		r = pthread_create(&t, &a, job_run, j);
		pthread_attr_destroy(&a);
		if (r == 0) {
			handed = true;
			j = NULL;
		} else {
			job_unlink(j);
			m.fd = j->blob_fd;
			atomic_fetch_sub(&jobs_running, 1);
			err.err = -r;
			snprintf(err.msg, sizeof err.msg, "cannot start a thread");
		}
	}
	if (!handed)
		send_result(c, m.id, &res, &err);
	free(j);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	chan_msg_clear(&m);
	return 0;
}

/* Only what the child needs to jail itself and write any file of a layer:
 * the child's six (unpack.h) plus SYS_ADMIN (its namespaces, bind mount,
 * pivot_root), SYS_CHROOT (the Landlock fallback) and SETPCAP (to cut its
 * own bounding set). No seccomp or Landlock here: the child inherits them,
 * and it needs unshare, mount and pivot_root to build a tighter jail. */
static int drop(void)
{
	struct privdrop pd = {
		.keep_caps = PRIVDROP_CAP(CAP_CHOWN) | PRIVDROP_CAP(CAP_DAC_OVERRIDE) |
			     PRIVDROP_CAP(CAP_FOWNER) | PRIVDROP_CAP(CAP_FSETID) |
			     PRIVDROP_CAP(CAP_MKNOD) | PRIVDROP_CAP(CAP_SETFCAP) |
			     PRIVDROP_CAP(CAP_SYS_ADMIN) | PRIVDROP_CAP(CAP_SYS_CHROOT) |
			     PRIVDROP_CAP(CAP_SETPCAP),
		.pdeathsig = SIGKILL,
	};
	const char *step = NULL;
	int r = privdrop_apply(&pd, &step);
	if (r < 0)
		log_error_errno(r, "dropping privilege (%s): %m", step ? step : "?");
	return r;
}

int unpack_server_main(int argc, char **argv)
{
	log_init("imaged-unpack", LOG_INFO);
	if (argc != 3 || argv[2][0] != '/') {
		log_error("usage: imaged %s TMPDIR (fd 3: the socket)", UNPACK_SERVER_ARG);
		return 2;
	}
	if (drop() < 0)
		return 1;
	struct chan *c;
	int r = chan_new(3, CHAN_FDS, &c);
	if (r < 0)
		return log_error_errno(r, "fd 3: %m"), 1;
	while ((r = take_request(c, argv[2])) == 0)
		;
	if (r != -ECONNRESET)
		log_error_errno(r, "request channel: %m");
	/* imaged is gone or broke the protocol: stop the children still
	 * unpacking, let their threads finish (their answers go nowhere), and
	 * leave with nothing held */
	jobs_cancel_all();
	for (int i = 0; i < 100 && atomic_load(&jobs_running) > 0; i++)
		usleep(50 * 1000);
	if (atomic_load(&jobs_running) == 0)
		chan_free(c);
	return r == -ECONNRESET ? 0 : 1;
}
