/*
 * db: the rows of sandboxd's pods and containers in sqlite (see db.c for the
 * pragmas). Called by state.c only, under the state lock. Never logs.
 */
#pragma once
#include "common/error.h"
#include "sandboxd/state/state.h"

struct db;

int db_open(const char *root, struct db **ret, struct crisp_error *err);
void db_close(struct db *d);
int db_pod_save(struct db *d, const struct pod *p);
int db_ctr_save(struct db *d, const struct ctr *c);
int db_pod_del(struct db *d, const char *id);
int db_ctr_del(struct db *d, const char *id);
/* Every row, as new objects handed to the callbacks (which own them when
 * they return 0). A row that does not read back is skipped and counted in
 * *ret_bad. */
int db_load(struct db *d, int (*pod_cb)(struct pod *p, void *data),
	    int (*ctr_cb)(struct ctr *c, void *data), void *data, unsigned *ret_bad);
