/*
 * unpack_client: imaged's side of the unpack spawner (unpack_server.h).
 * Owns the socketpair and the spawner's pid; matches answers to the threads
 * waiting for them (whoever waits reads for everyone, one reader at a time).
 * Never unpacks anything itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common/chan.h"
#include "crisp.pb-c.h"
#include "imaged/unpack_server.h"

struct answer {
	uint64_t id;
	struct chan_msg msg;
	struct answer *next;
};

struct unpack_client {
	struct chan *chan;
	pid_t pid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool reading;
	int dead;               /* negative errno once the spawner is gone */
	uint64_t next_id;
	struct answer *answers; /* read, not yet taken */
};

int unpack_client_start(const char *exe, const char *tmpdir, struct unpack_client **ret)
{
	int sv[2];
	int r = chan_socketpair(sv);
	if (r < 0)
		return r;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent ||
		    dup2(sv[1], 3) < 0)
			_exit(127);
		execl(exe, "imaged", UNPACK_SERVER_ARG, tmpdir, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	struct unpack_client *c = calloc(1, sizeof *c);
	if (!c || (r = chan_new(sv[0], CHAN_FDS, &c->chan)) < 0) {
		r = c ? r : -ENOMEM;
		free(c);
		close(sv[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	c->pid = pid;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	*ret = c;
	return 0;
}

static int send_request(struct unpack_client *c, uint64_t id, const struct unpack_spawn *s,
			int timeout_ms)
{
	struct unpack_limits l;
	if (s->limits)
		l = *s->limits;
	else
		unpack_limits_default(&l);
	Crisp__UnpackRequest q = CRISP__UNPACK_REQUEST__INIT;
	q.layer_dir = (char *)s->layer_dir;
	q.compression = s->comp;
	q.timeout_ms = timeout_ms;
	q.max_tar_size = l.max_tar_size;
	q.max_ratio = l.max_ratio;
	q.ratio_floor = l.ratio_floor;
	q.max_entries = l.max_entries;
	q.max_path = l.max_path;
	q.max_link = l.max_link;
	q.max_xattrs = l.max_xattrs;
	q.max_xattr_size = l.max_xattr_size;
	return chan_send_pb(c->chan, CRISP__MSG_TYPE__MSG_UNPACK, id, 0, &q.base, s->blob_fd);
}

static struct answer *take_answer(struct unpack_client *c, uint64_t id)
{
	for (struct answer **a = &c->answers; *a; a = &(*a)->next) {
		if ((*a)->id == id) {
			struct answer *found = *a;
			*a = found->next;
			return found;
		}
	}
	return NULL;
}

static void wait_slice(struct unpack_client *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += UNPACK_CLIENT_SLICE_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&c->cond, &c->lock, &ts);
}

/* Read one answer for whoever waits for it; with c->lock held (dropped while
 * reading). */
static void read_one(struct unpack_client *c)
{
	c->reading = true;
	pthread_mutex_unlock(&c->lock);
	struct answer *got = calloc(1, sizeof *got);
	int r = got ? chan_recv_timeout(c->chan, UNPACK_CLIENT_SLICE_MS, &got->msg) : -ENOMEM;
	pthread_mutex_lock(&c->lock);
	c->reading = false;
	if (r == -ETIMEDOUT) {
		free(got);
	} else if (r < 0 || !(got->msg.flags & CHAN_MSG_ANSWER)) {
		c->dead = r < 0 ? r : -EPROTO;
		if (got)
			chan_msg_clear(&got->msg);
		free(got);
	} else {
		got->id = got->msg.id;
		got->next = c->answers;
		c->answers = got;
	}
	pthread_cond_broadcast(&c->cond);
}

/* Wait for the answer to id; with c->lock held. NULL with c->dead set if the
 * spawner is gone. Asks the spawner to stop the child once stop says so. */
static struct answer *wait_answer(struct unpack_client *c, uint64_t id, unpack_stop_fn stop,
				  void *ctx)
{
	struct answer *a;
	bool cancelled = false;
	while (!(a = take_answer(c, id)) && !c->dead) {
		if (!cancelled && stop && stop(ctx)) {
			cancelled = true;
			chan_send_pb(c->chan, CRISP__MSG_TYPE__MSG_CANCEL, id, 0, NULL, -1);
		}
		if (c->reading)
			wait_slice(c);
		else
			read_one(c);
	}
	return a;
}

static int read_result(const struct chan_msg *m, struct unpack_result *ret,
		       struct unpack_error *err)
{
	Crisp__UnpackResult *res = NULL;
	int r = chan_msg_unpack(m, &crisp__unpack_result__descriptor, (ProtobufCMessage **)&res);
	if (r < 0) {
		*err = (struct unpack_error){ .code = UNPACK_ERR_SYSTEM, .err = r };
		snprintf(err->msg, sizeof err->msg, "unpack spawner: bad answer");
		return r;
	}
	if (res->code != UNPACK_OK) {
		*err = (struct unpack_error){ .code = res->code, .err = res->err ? res->err : -EIO };
		snprintf(err->msg, sizeof err->msg, "%s", res->message);
		r = err->err;
	} else {
		*ret = (struct unpack_result){ .tar_size = res->tar_size,
			.compressed_size = res->compressed_size, .entries = res->entries,
			.xattrs_skipped = res->xattrs_skipped };
		snprintf(ret->diff_id, sizeof ret->diff_id, "%s", res->diff_id);
	}
	protobuf_c_message_free_unpacked(&res->base, NULL);
	return r;
}

int unpack_client_run(struct unpack_client *c, const struct unpack_spawn *s, int timeout_ms,
		      unpack_stop_fn stop, void *ctx, struct unpack_result *ret,
		      struct unpack_error *err)
{
	pthread_mutex_lock(&c->lock);
	uint64_t id = ++c->next_id;
	int r = c->dead ? c->dead : send_request(c, id, s, timeout_ms);
	struct answer *a = r < 0 ? NULL : wait_answer(c, id, stop, ctx);
	if (!a && r == 0)
		r = c->dead;
	pthread_mutex_unlock(&c->lock);
	if (!a) {
		*err = (struct unpack_error){ .code = UNPACK_ERR_SYSTEM, .err = r };
		snprintf(err->msg, sizeof err->msg, "the unpack spawner is gone: %s", strerror(-r));
		return r;
	}
	r = read_result(&a->msg, ret, err);
	chan_msg_clear(&a->msg);
	free(a);
	return r;
}

int unpack_client_fd(const struct unpack_client *c)
{
	return chan_fd(c->chan);
}

void unpack_client_free(struct unpack_client *c)
{
	if (!c)
		return;
	chan_free(c->chan); /* EOF: the spawner exits */
	waitpid(c->pid, NULL, 0);
	while (c->answers) {
		struct answer *a = c->answers;
		c->answers = a->next;
		chan_msg_clear(&a->msg);
		free(a);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}
