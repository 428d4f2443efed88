/*
 * admin: imaged's admin requests from crispctl on RUNROOT/admin/imaged.sock
 * (root only): import an OCI image layout archive (MSG_ADM_IMPORT, the
 * archive comes as the message's fd), export images as one
 * (MSG_ADM_EXPORT, the fd is where it goes) and push an image to a
 * registry (MSG_ADM_PUSH). The handlers have the dispatch_entry signature
 * and go into imaged's one dispatch table (imaged/main.c):
 *
 *   { T(ADM_IMPORT), ROLES_ADM, &crisp__image_import__descriptor, true, admin_import },
 *   { T(ADM_EXPORT), ROLES_ADM, &crisp__image_export__descriptor, true, admin_export },
 *   { T(ADM_PUSH), ROLES_ADM, &crisp__image_push__descriptor, false, admin_push },
 *
 * with the admin socket listened on with CHAN_FDS (fd passing is opt-in
 * per channel). Like the image service's handlers (imaged/svc.h), their
 * userdata is the daemon_ctx whose data is the running struct svc: they
 * use its store, registry client and unpack settings, and run each request
 * on its pull pool (long work never holds up the event loop; svc_stop
 * cancels and waits for them), answering from there.
 *
 * The work itself (admin_*_run) takes a struct admin_ctx, so that the unit
 * tests drive it with a store of their own.
 *
 * Never logs a credential; never opens a path that came from a request or
 * an archive (content goes into the store by digest only).
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/server.h"
#include "imaged/digest.h"
#include "imaged/oci_layout.h"
#include "crisp.pb-c.h"

struct store;
struct registry_client;
struct unpack_limits;

/* What the work needs; plain data, filled by the caller. */
struct admin_ctx {
	struct store *store;
	struct registry_client *registry;       /* NULL: no push */
	struct unpack_client *unpacker;         /* the spawner of unpack children */
	const struct unpack_limits *unpack_limits;  /* NULL: the defaults */
	uint64_t push_chunk_size;               /* 0: REGISTRY_PUSH_CHUNK */
};

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
