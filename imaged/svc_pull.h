/*
 * svc_pull: what the svc_pull*.c files share about one pull in progress,
 * and nothing else may use:
 *   svc_pull.c         the steps: reference, lease, manifest, config, the
 *                      image record, the end (lease released, GC on failure)
 *   svc_pull_blob.c    one blob or one layer into the store, once per key
 *                      across concurrent pulls (store_inflight), held by the
 *                      pull's lease
 *   svc_pull_layers.c  the layers: fetched and unpacked in parallel, each
 *                      into its own temp dir, committed bottom up
 */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "imaged/reference.h"
#include "imaged/registry.h"
#include "imaged/svc.h"
#include "imaged/svc_config.h"

#define PULL_WAIT_SLICE_MS 250          /* how often a waiting pull looks at cancel */
#define PULL_FLIGHT_TRIES 4             /* follow/lead rounds for one blob or layer */
#define PULL_LEASE_MAX 64

struct pull {
	struct svc *s;
	struct image_ref ref;
	char name[REF_NAME_MAX + 1];    /* "docker.io/library/busybox" */
	const atomic_bool *cancel;      /* the request's */
	int64_t deadline_ms;            /* CLOCK_MONOTONIC; 0: none */
	char lease[PULL_LEASE_MAX];     /* "crisp-pull-<pid>-<n>" */
	struct registry_session *sess;
	struct registry_manifest *m;
	struct svc_image_config cfg;
	char (*chain)[DIGEST_STR_SIZE]; /* chain ids, bottom first */
	atomic_bool abort;              /* set with failed: transfers and waits stop */

	/* the layers' progress, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t next;                    /* the next layer a worker takes */
	bool *done;                     /* layer i is in the store and held */
	size_t committed;               /* layers 0..committed-1 are done */
	bool failed;                    /* a layer failed: everyone stops */
	struct svc_error err;           /* the first failure */
};

/* 0 while the pull may go on; else the error (CANCELLED, DEADLINE_EXCEEDED,
 * or ECANCELED when another layer of this pull failed) in err. */
int pull_check(struct pull *p, struct svc_error *err);
/* The registry's error as ours. */
int pull_registry_fail(struct svc_error *err, int r, const struct registry_error *rerr);

/* svc_pull_blob.c */
/* Follow the flight for key, a slice at a time (so that cancel and the
 * deadline are seen), or lead it: 1 with *ret_f when we lead (then
 * store_inflight_done is ours to call), 0 when another pull's flight ended
 * (look at the store again). */
int pull_flight_join(struct pull *p, const char *key, struct store_flight **ret_f,
		     struct svc_error *err);
/* Blob d is in the store and held by the pull's lease; fetched if missing.
 * cap: 0 for none. */
int pull_blob(struct pull *p, const struct registry_descriptor *d, uint64_t cap,
	      struct svc_error *err);
/* Layer i is in the store (unpacked from its blob, its diff_id checked,
 * committed on top of layer i-1 once that is done) and held by the lease. */
int pull_layer(struct pull *p, size_t i, struct svc_error *err);

/* svc_pull_layers.c: every layer, with up to s->downloads at once. */
int pull_layers(struct pull *p);
/* Waits until layers 0..i-1 are done (or the pull failed). */
int pull_wait_turn(struct pull *p, size_t i, struct svc_error *err);
/* Layer i is done. */
void pull_mark_done(struct pull *p, size_t i);
