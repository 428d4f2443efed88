/*
 * admin: imaged's admin requests from crispctl on RUNROOT/admin/imaged.sock
 * (root only): import an OCI image layout archive (MSG_ADM_IMPORT, the
 * archive comes as the message's fd), export images as one
 * (MSG_ADM_EXPORT, the fd is where it goes) and push an image to a
 * registry (MSG_ADM_PUSH). The handlers have the dispatch_entry signature
 * and go into imaged's one dispatch table (imaged/main.c):
 *
 *   { CRISP__MSG_TYPE__MSG_ADM_IMPORT, ROLE_BIT(CRISP__ROLE__ROLE_CRISPCTL),
 *     &crisp__image_import__descriptor, true, admin_import },
 *   { CRISP__MSG_TYPE__MSG_ADM_EXPORT, ROLE_BIT(CRISP__ROLE__ROLE_CRISPCTL),
 *     &crisp__image_export__descriptor, true, admin_export },
 *   { CRISP__MSG_TYPE__MSG_ADM_PUSH, ROLE_BIT(CRISP__ROLE__ROLE_CRISPCTL),
 *     &crisp__image_push__descriptor, false, admin_push },
 *
 * and the admin socket must be listened on with CHAN_FDS (fd passing is
 * opt-in per channel). Each request runs on a thread of its own (at most
 * ADMIN_JOBS_MAX at once, more are answered RESOURCE_EXHAUSTED) and is
 * answered from there with server_answer; the asker's cancel stops it.
 *
 * imaged has one admin context: admin_init() (before the loop runs, after
 * the store and the registry client exist) makes it the one the handlers
 * use (their userdata is not looked at); admin_stop() (before the store is
 * closed) cancels the jobs and waits for them.
 *
 * Never logs a credential; never opens a path that came from a request or
 * an archive (content goes into the store by digest only).
 */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/server.h"
#include "imaged/digest.h"
#include "imaged/oci_layout.h"
#include "crisp.pb-c.h"

#define ADMIN_JOBS_MAX 4

struct store;
struct registry_client;
struct unpack_limits;
struct admin_job;

struct admin_ctx {
	struct store *store;
	struct registry_client *registry;
	const char *unpack_exe;                 /* NULL: /proc/self/exe (imaged) */
	const struct unpack_limits *unpack_limits;  /* NULL: the defaults */
	uint64_t push_chunk_size;               /* 0: REGISTRY_PUSH_CHUNK */
	/* set by admin_init */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	struct admin_job *jobs;                 /* running, under lock */
	unsigned running;
	bool stopping;
	atomic_ulong seq;                       /* for lease ids */
};

/* Fills a (store and registry must outlive it; exe/limits may be NULL) and
 * makes it the context of the handlers below. */
int admin_init(struct admin_ctx *a, struct store *store, struct registry_client *registry,
	       const char *unpack_exe, const struct unpack_limits *limits);
/* Refuses new jobs, cancels the running ones and waits for them to end. */
void admin_stop(struct admin_ctx *a);

/* crisp.ImageImport + fd (an OCI image layout as a tar stream) ->
 * crisp.ImageImported. */
int admin_import(struct server_req *req, void *userdata);
/* crisp.ImageExport + fd (written: an OCI image layout tar) ->
 * crisp.ImageExported. */
int admin_export(struct server_req *req, void *userdata);
/* crisp.ImagePush -> crisp.ImagePushed. */
int admin_push(struct server_req *req, void *userdata);

/* The work itself, without the channel (the handlers run these on their
 * thread; the unit tests call them directly). cancel may be NULL. */
int admin_import_run(struct admin_ctx *a, int fd, const Crisp__ImageImport *rq,
		     const atomic_bool *cancel, Crisp__ImageImported *ret, struct oci_error *err);
void admin_imported_clear(Crisp__ImageImported *r);
int admin_export_run(struct admin_ctx *a, int fd, const Crisp__ImageExport *rq,
		     const atomic_bool *cancel, uint64_t *ret_bytes, struct oci_error *err);
int admin_push_run(struct admin_ctx *a, const Crisp__ImagePush *rq, const atomic_bool *cancel,
		   char ret_digest[DIGEST_STR_SIZE], struct oci_error *err);
