/*
 * state: pods and containers in memory, saved through db.c (see state.h for
 * the rules). Owns the maps, the objects' life (references) and the state
 * lock with its condition variable. Never logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "common/status.h"
#include "sandboxd/state/db.h"
#include "sandboxd/state/idmap.h"
#include "sandboxd/state/state.h"

struct state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct db *db;
	struct idmap pods, ctrs;
};

void state_lock(struct state *st)
{
	pthread_mutex_lock(&st->lock);
}

void state_unlock(struct state *st)
{
	pthread_mutex_unlock(&st->lock);
}

void state_broadcast(struct state *st)
{
	pthread_cond_broadcast(&st->cond);
}

int state_wait(struct state *st, int64_t deadline_ms)
{
	if (!deadline_ms) {
		pthread_cond_wait(&st->cond, &st->lock);
		return 0;
	}
	struct timespec ts = { deadline_ms / 1000, (deadline_ms % 1000) * 1000000 };
	return pthread_cond_timedwait(&st->cond, &st->lock, &ts) == ETIMEDOUT ? -ETIMEDOUT : 0;
}

void state_new_id(char ret[SBX_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[SBX_ID_LEN / 2];
	size_t got = 0;
	while (got < sizeof b) {
		ssize_t n = getrandom(b + got, sizeof b - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof b; i++) {
		ret[2 * i] = hex[b[i] >> 4];
		ret[2 * i + 1] = hex[b[i] & 15];
	}
	ret[SBX_ID_LEN] = '\0';
}

struct pod *state_pod_new(void)
{
	struct pod *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	pthread_mutex_init(&p->op, NULL);
	p->refs = 1;
	return p;
}

struct ctr *state_ctr_new(void)
{
	struct ctr *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	pthread_mutex_init(&c->op, NULL);
	c->refs = 1;
	c->exit_watch = -1;
	return c;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void state_pod_free(struct pod *p)
{
	if (!p)
		return;
	if (p->config)
		runtime__v1__pod_sandbox_config__free_unpacked(p->config, NULL);
	free(p->cgroup_parent);
	free(p->cni_net);
	free(p->cni_result);
	strv_free(p->ips, p->n_ips);
	pthread_mutex_destroy(&p->op);
	free(p);
}

void state_ctr_free(struct ctr *c)
{
	if (!c)
		return;
	if (c->config)
		runtime__v1__container_config__free_unpacked(c->config, NULL);
	free(c->image_id);
	free(c->image_ref);
	free(c->image_name);
	free(c->log_path);
	free(c->reason);
	free(c->message);
	pthread_mutex_destroy(&c->op);
	free(c);
}

static int load_pod(struct pod *p, void *data)
{
	struct state *st = data;
	int r = idmap_put(&st->pods, p->id, p);
	if (r < 0)
		state_pod_free(p);
	return r == -EEXIST ? -EBADMSG : r;
}

static int load_ctr(struct ctr *c, void *data)
{
	struct state *st = data;
	int r = idmap_put(&st->ctrs, c->id, c);
	if (r < 0)
		state_ctr_free(c);
	return r == -EEXIST ? -EBADMSG : r;
}

int state_open(const char *root, struct state **ret, struct crisp_error *err)
{
	struct state *st = calloc(1, sizeof *st);
	if (!st)
		return crisp_fail_errno(err, -ENOMEM, "state");
	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cond, &ca);
	pthread_condattr_destroy(&ca);
	idmap_init(&st->pods);
	idmap_init(&st->ctrs);
	int r = db_open(root, &st->db, err);
	unsigned bad = 0;
	if (r == 0 && (r = db_load(st->db, load_pod, load_ctr, st, &bad)) < 0)
		crisp_fail_errno(err, r, "reading the state database");
	if (r < 0) {
		state_close(st);
		return r;
	}
	*ret = st;
	return (int)bad;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	void *o;
	for (size_t i = 0; (o = idmap_next(&st->ctrs, &i));)
		state_ctr_free(o);
	for (size_t i = 0; (o = idmap_next(&st->pods, &i));)
		state_pod_free(o);
	idmap_free(&st->pods);
	idmap_free(&st->ctrs);
	db_close(st->db);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* Only lowercase hex of up to 64 characters can name (a prefix of) one of
 * our ids: anything else names nothing here (-ENOENT), so that stopping
 * or removing it succeeds as the CRI asks, and a status says NOT_FOUND. */
static int id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > SBX_ID_LEN)
		return -ENOENT;
	for (; *id; id++)
		if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f')))
			return -ENOENT;
	return 0;
}

int state_pod_get(struct state *st, const char *id, struct pod **ret)
{
	void *o = NULL;
	int r = id_ok(id);
	if (r < 0)
		return r;
	state_lock(st);
	r = idmap_find(&st->pods, id, &o);
	if (r == 0)
		((struct pod *)o)->refs++;
	state_unlock(st);
	if (r == 0)
		*ret = o;
	return r;
}

int state_ctr_get(struct state *st, const char *id, struct ctr **ret)
{
	void *o = NULL;
	int r = id_ok(id);
	if (r < 0)
		return r;
	state_lock(st);
	r = idmap_find(&st->ctrs, id, &o);
	if (r == 0)
		((struct ctr *)o)->refs++;
	state_unlock(st);
	if (r == 0)
		*ret = o;
	return r;
}

void state_pod_put(struct state *st, struct pod *p)
{
	if (!p)
		return;
	state_lock(st);
	bool last = --p->refs == 0;
	state_unlock(st);
	if (last)
		state_pod_free(p);
}

void state_ctr_put(struct state *st, struct ctr *c)
{
	if (!c)
		return;
	state_lock(st);
	bool last = --c->refs == 0;
	state_unlock(st);
	if (last)
		state_ctr_free(c);
}

int state_pod_add(struct state *st, struct pod *p)
{
	state_lock(st);
	int r = idmap_put(&st->pods, p->id, p);
	if (r == 0) {
		r = db_pod_save(st->db, p);
		if (r < 0)
			idmap_del(&st->pods, p->id);
		else
			p->refs++;      /* the map's */
	}
	state_unlock(st);
	return r;
}

int state_ctr_add(struct state *st, struct ctr *c)
{
	state_lock(st);
	int r = idmap_put(&st->ctrs, c->id, c);
	if (r == 0) {
		r = db_ctr_save(st->db, c);
		if (r < 0)
			idmap_del(&st->ctrs, c->id);
		else
			c->refs++;
	}
	state_unlock(st);
	return r;
}

int state_pod_save(struct state *st, struct pod *p)
{
	return p->gone ? 0 : db_pod_save(st->db, p);
}

int state_ctr_save(struct state *st, struct ctr *c)
{
	return c->gone ? 0 : db_ctr_save(st->db, c);
}

int state_pod_del(struct state *st, struct pod *p)
{
	state_lock(st);
	int r = 0;
	if (!p->gone) {
		r = db_pod_del(st->db, p->id);
		if (r == 0) {
			idmap_del(&st->pods, p->id);
			p->gone = true;
			p->refs--;
		}
	}
	state_broadcast(st);
	state_unlock(st);
	return r;
}

int state_ctr_del(struct state *st, struct ctr *c)
{
	state_lock(st);
	int r = 0;
	if (!c->gone) {
		r = db_ctr_del(st->db, c->id);
		if (r == 0) {
			idmap_del(&st->ctrs, c->id);
			c->gone = true;
			c->refs--;
		}
	}
	state_broadcast(st);
	state_unlock(st);
	return r;
}

size_t state_n_pods(struct state *st)
{
	return st->pods.n;
}

size_t state_n_ctrs(struct state *st)
{
	return st->ctrs.n;
}

size_t state_pod_n_ctrs(struct state *st, const char *pod_id)
{
	size_t n = 0;
	struct ctr *c;
	for (size_t i = 0; (c = idmap_next(&st->ctrs, &i));)
		n += strcmp(c->pod_id, pod_id) == 0;
	return n;
}

static int collect(struct state *st, struct idmap *m, const char *pod_id, bool ctrs,
		   void ***ret_v, size_t *ret_n)
{
	state_lock(st);
	void **v = calloc(m->n ? m->n : 1, sizeof *v);
	size_t n = 0;
	void *o;
	if (v) {
		for (size_t i = 0; (o = idmap_next(m, &i));) {
			if (ctrs) {
				struct ctr *c = o;
				if (pod_id && strcmp(c->pod_id, pod_id) != 0)
					continue;
				c->refs++;
			} else {
				((struct pod *)o)->refs++;
			}
			v[n++] = o;
		}
	}
	state_unlock(st);
	if (!v)
		return -ENOMEM;
	*ret_v = v;
	*ret_n = n;
	return 0;
}

int state_pods_all(struct state *st, struct pod ***ret_v, size_t *ret_n)
{
	return collect(st, &st->pods, NULL, false, (void ***)ret_v, ret_n);
}

int state_ctrs_all(struct state *st, struct ctr ***ret_v, size_t *ret_n)
{
	return collect(st, &st->ctrs, NULL, true, (void ***)ret_v, ret_n);
}

int state_pod_ctrs(struct state *st, const char *pod_id, struct ctr ***ret_v, size_t *ret_n)
{
	return collect(st, &st->ctrs, pod_id, true, (void ***)ret_v, ret_n);
}

void state_pods_put_all(struct state *st, struct pod **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		state_pod_put(st, v[i]);
	free(v);
}

void state_ctrs_put_all(struct state *st, struct ctr **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		state_ctr_put(st, v[i]);
	free(v);
}

int state_set_str(char **field, const char *v)
{
	char *c = NULL;
	if (v && !(c = strdup(v)))
		return -ENOMEM;
	free(*field);
	*field = c;
	return 0;
}
