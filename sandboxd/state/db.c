/*
 * db: sandboxd's database ROOT/sandboxd/state.db (sqlite3): the schema and
 * the rows of struct pod and struct ctr (state.h). The CRI configs are kept
 * as their packed protobuf (they are what kubelet sent, re-read at start).
 *
 * Pragmas, and why:
 *   journal_mode=WAL    a commit is one append; a kill -9 rolls back cleanly.
 *   synchronous=NORMAL  survives kill -9 of sandboxd (the scenario recovery
 *                       is for); on power loss the containers are gone too,
 *                       and recovery undoes rows whose objects are missing.
 *   busy_timeout=5000   an admin's sqlite3 shell may read.
 *   trusted_schema=OFF  hygiene.
 * One connection, used under the state lock. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/status.h"
#include "sandboxd/state/db.h"

#define DB_FILE "state.db"
#define DB_VERSION 1

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS pods ("
	"  id TEXT PRIMARY KEY,"
	"  state INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  handler TEXT NOT NULL,"
	"  config BLOB NOT NULL,"               /* runtime.v1.PodSandboxConfig */
	"  init_pid INTEGER NOT NULL,"
	"  init_start INTEGER NOT NULL,"
	"  cgroup_parent TEXT,"
	"  flags INTEGER NOT NULL,"             /* POD_F_* */
	"  cni_net TEXT,"
	"  cni_result TEXT"
	") WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS containers ("
	"  id TEXT PRIMARY KEY,"
	"  pod_id TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  started INTEGER NOT NULL,"
	"  finished INTEGER NOT NULL,"
	"  exit_code INTEGER NOT NULL,"
	"  reason TEXT,"
	"  message TEXT,"
	"  config BLOB NOT NULL,"               /* runtime.v1.ContainerConfig */
	"  image_id TEXT,"
	"  image_ref TEXT,"
	"  image_name TEXT,"
	"  log_path TEXT,"
	"  pid INTEGER NOT NULL,"
	"  conmon_pid INTEGER NOT NULL,"
	"  conmon_start INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  gid INTEGER NOT NULL,"
	"  stop_signal INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL,"             /* CTR_F_* */
	"  mounts INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS containers_pod ON containers(pod_id);";

#define POD_F_CGROUP_OWNED 1
#define POD_F_NETNS 2
#define POD_F_IPCNS 4
#define POD_F_UTSNS 8
#define POD_F_SHM 16
#define POD_F_CNI 32
#define CTR_F_LEASE 1

struct db {
	sqlite3 *h;
};

static int db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: case SQLITE_ROW: case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY: case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CORRUPT: case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	default:
		return -EIO;
	}
}

int db_open(const char *root, struct db **ret, struct crisp_error *err)
{
	char dir[4096], path[4096];
	int r = fs_path_join(dir, sizeof dir, root, "sandboxd");
	if (r == 0)
		r = fs_path_join(path, sizeof path, dir, DB_FILE);
	if (r < 0)
		return crisp_fail_errno(err, r, "state dir under %s", root);
	int dfd;
	r = fs_open_dir(AT_FDCWD, dir, FS_DIR_CREATE | FS_DIR_NOFOLLOW, 0700, &dfd);
	if (r < 0)
		return crisp_fail_errno(err, r, "%s", dir);
	r = fs_fix_owner_mode(dfd, 0, 0, 0700);
	close(dfd);
	if (r < 0)
		return crisp_fail_errno(err, r, "%s", dir);
	struct db *d = calloc(1, sizeof *d);
	if (!d)
		return crisp_fail_errno(err, -ENOMEM, "state database");
	int rc = sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_FULLMUTEX, NULL);
	char *msg = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(d->h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
				  "PRAGMA trusted_schema=OFF;", NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(d->h, 5000);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(d->h, schema, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(d->h, "PRAGMA user_version=1;", NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		r = crisp_fail(err, CRISP_STATUS_INTERNAL, db_errno(rc), "%s: %s", path,
			       msg ? msg : sqlite3_errmsg(d->h));
		sqlite3_free(msg);
		sqlite3_close(d->h);
		free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void db_close(struct db *d)
{
	if (!d)
		return;
	sqlite3_close(d->h);
	free(d);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static int bind_config(sqlite3_stmt *s, int i, const ProtobufCMessage *m, uint8_t **buf)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	*buf = malloc(n ? n : 1);
	if (!*buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, *buf);
	sqlite3_bind_blob(s, i, *buf, (int)n, SQLITE_TRANSIENT);
	return 0;
}

static int step_once(sqlite3 *h, const char *sql, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	(void)h;
	(void)sql;
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int db_pod_save(struct db *d, const struct pod *p)
{
	static const char sql[] = "INSERT OR REPLACE INTO pods (id, state, created, handler, "
		"config, init_pid, init_start, cgroup_parent, flags, cni_net, cni_result) "
		"VALUES (?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(d->h, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_errno(rc);
	uint8_t *buf = NULL;
	int flags = (p->cgroup_owned ? POD_F_CGROUP_OWNED : 0) | (p->netns ? POD_F_NETNS : 0) |
		    (p->ipcns ? POD_F_IPCNS : 0) | (p->utsns ? POD_F_UTSNS : 0) |
		    (p->shm ? POD_F_SHM : 0) | (p->cni_started ? POD_F_CNI : 0);
	bind_text(s, 1, p->id);
	sqlite3_bind_int(s, 2, p->state);
	sqlite3_bind_int64(s, 3, p->created_ns);
	bind_text(s, 4, p->handler);
	if (bind_config(s, 5, &p->config->base, &buf) < 0) {
		sqlite3_finalize(s);
		return -ENOMEM;
	}
	sqlite3_bind_int64(s, 6, p->init_pid);
	sqlite3_bind_int64(s, 7, (int64_t)p->init_start);
	bind_text(s, 8, p->cgroup_parent);
	sqlite3_bind_int(s, 9, flags);
	bind_text(s, 10, p->cni_net);
	bind_text(s, 11, p->cni_result);
	int r = step_once(d->h, sql, s);
	free(buf);
	return r;
}

int db_ctr_save(struct db *d, const struct ctr *c)
{
	static const char sql[] = "INSERT OR REPLACE INTO containers (id, pod_id, state, "
		"created, started, finished, exit_code, reason, message, config, image_id, "
		"image_ref, image_name, log_path, pid, conmon_pid, conmon_start, uid, gid, "
		"stop_signal, flags, mounts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(d->h, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_errno(rc);
	uint8_t *buf = NULL;
	bind_text(s, 1, c->id);
	bind_text(s, 2, c->pod_id);
	sqlite3_bind_int(s, 3, c->state);
	sqlite3_bind_int64(s, 4, c->created_ns);
	sqlite3_bind_int64(s, 5, c->started_ns);
	sqlite3_bind_int64(s, 6, c->finished_ns);
	sqlite3_bind_int(s, 7, c->exit_code);
	bind_text(s, 8, c->reason);
	bind_text(s, 9, c->message);
	if (bind_config(s, 10, &c->config->base, &buf) < 0) {
		sqlite3_finalize(s);
		return -ENOMEM;
	}
	bind_text(s, 11, c->image_id);
	bind_text(s, 12, c->image_ref);
	bind_text(s, 13, c->image_name);
	bind_text(s, 14, c->log_path);
	sqlite3_bind_int64(s, 15, c->pid);
	sqlite3_bind_int64(s, 16, c->conmon_pid);
	sqlite3_bind_int64(s, 17, (int64_t)c->conmon_start);
	sqlite3_bind_int64(s, 18, c->uid);
	sqlite3_bind_int64(s, 19, c->gid);
	sqlite3_bind_int(s, 20, c->stop_signal);
	sqlite3_bind_int(s, 21, c->lease ? CTR_F_LEASE : 0);
	sqlite3_bind_int(s, 22, (int)c->mounts);
	int r = step_once(d->h, sql, s);
	free(buf);
	return r;
}

static int del(struct db *d, const char *sql, const char *id)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(d->h, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_errno(rc);
	bind_text(s, 1, id);
	return step_once(d->h, sql, s);
}

int db_pod_del(struct db *d, const char *id)
{
	return del(d, "DELETE FROM pods WHERE id = ?", id);
}

int db_ctr_del(struct db *d, const char *id)
{
	return del(d, "DELETE FROM containers WHERE id = ?", id);
}

static char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? strdup((const char *)t) : NULL;
}

static void *col_config(sqlite3_stmt *s, int i, const ProtobufCMessageDescriptor *desc)
{
	const void *b = sqlite3_column_blob(s, i);
	int n = sqlite3_column_bytes(s, i);
	return protobuf_c_message_unpack(desc, NULL, (size_t)n, b ? b : (const void *)"");
}

static int id_copy(char *dst, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	if (!t || strlen((const char *)t) != SBX_ID_LEN)
		return -EBADMSG;
	memcpy(dst, t, SBX_ID_LEN + 1);
	return 0;
}

static int pod_row(sqlite3_stmt *s, struct pod *p)
{
	if (id_copy(p->id, s, 0) < 0)
		return -EBADMSG;
	p->state = (enum pod_state)sqlite3_column_int(s, 1);
	p->created_ns = sqlite3_column_int64(s, 2);
	const unsigned char *h = sqlite3_column_text(s, 3);
	snprintf(p->handler, sizeof p->handler, "%s", h ? (const char *)h : "");
	p->config = col_config(s, 4, &runtime__v1__pod_sandbox_config__descriptor);
	p->init_pid = (pid_t)sqlite3_column_int64(s, 5);
	p->init_start = (uint64_t)sqlite3_column_int64(s, 6);
	p->cgroup_parent = col_text(s, 7);
	int flags = sqlite3_column_int(s, 8);
	p->cgroup_owned = flags & POD_F_CGROUP_OWNED;
	p->netns = flags & POD_F_NETNS;
	p->ipcns = flags & POD_F_IPCNS;
	p->utsns = flags & POD_F_UTSNS;
	p->shm = flags & POD_F_SHM;
	p->cni_started = flags & POD_F_CNI;
	p->cni_net = col_text(s, 9);
	p->cni_result = col_text(s, 10);
	return p->config ? 0 : -EBADMSG;
}

static int ctr_row(sqlite3_stmt *s, struct ctr *c)
{
	if (id_copy(c->id, s, 0) < 0 || id_copy(c->pod_id, s, 1) < 0)
		return -EBADMSG;
	c->state = (enum ctr_state)sqlite3_column_int(s, 2);
	c->created_ns = sqlite3_column_int64(s, 3);
	c->started_ns = sqlite3_column_int64(s, 4);
	c->finished_ns = sqlite3_column_int64(s, 5);
	c->exit_code = sqlite3_column_int(s, 6);
	c->reason = col_text(s, 7);
	c->message = col_text(s, 8);
	c->config = col_config(s, 9, &runtime__v1__container_config__descriptor);
	c->image_id = col_text(s, 10);
	c->image_ref = col_text(s, 11);
	c->image_name = col_text(s, 12);
	c->log_path = col_text(s, 13);
	c->pid = (pid_t)sqlite3_column_int64(s, 14);
	c->conmon_pid = (pid_t)sqlite3_column_int64(s, 15);
	c->conmon_start = (uint64_t)sqlite3_column_int64(s, 16);
	c->uid = (uint32_t)sqlite3_column_int64(s, 17);
	c->gid = (uint32_t)sqlite3_column_int64(s, 18);
	c->stop_signal = sqlite3_column_int(s, 19);
	c->lease = sqlite3_column_int(s, 20) & CTR_F_LEASE;
	c->mounts = (unsigned)sqlite3_column_int(s, 21);
	return c->config ? 0 : -EBADMSG;
}

int db_load(struct db *d, int (*pod_cb)(struct pod *p, void *data),
	    int (*ctr_cb)(struct ctr *c, void *data), void *data, unsigned *ret_bad)
{
	static const char *const sql[2] = {
		"SELECT id, state, created, handler, config, init_pid, init_start, "
		"cgroup_parent, flags, cni_net, cni_result FROM pods",
		"SELECT id, pod_id, state, created, started, finished, exit_code, reason, "
		"message, config, image_id, image_ref, image_name, log_path, pid, conmon_pid, "
		"conmon_start, uid, gid, stop_signal, flags, mounts FROM containers",
	};
	*ret_bad = 0;
	for (int k = 0; k < 2; k++) {
		sqlite3_stmt *s;
		int rc = sqlite3_prepare_v2(d->h, sql[k], -1, &s, NULL);
		if (rc != SQLITE_OK)
			return db_errno(rc);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			int r;
			if (k == 0) {
				struct pod *p = state_pod_new();
				if (!p) {
					sqlite3_finalize(s);
					return -ENOMEM;
				}
				r = pod_row(s, p);
				if (r == 0)
					r = pod_cb(p, data);
				else
					state_pod_free(p);
				if (r == -EBADMSG)
					(*ret_bad)++;
			} else {
				struct ctr *c = state_ctr_new();
				if (!c) {
					sqlite3_finalize(s);
					return -ENOMEM;
				}
				r = ctr_row(s, c);
				if (r == 0)
					r = ctr_cb(c, data);
				else
					state_ctr_free(c);
				if (r == -EBADMSG)
					(*ret_bad)++;
			}
			if (r < 0 && r != -EBADMSG) {
				sqlite3_finalize(s);
				return r;
			}
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return db_errno(rc);
	}
	return 0;
}
