/*
 * imaged: sandboxd's requests to imaged's admin socket (RUNROOT/admin/
 * imaged.sock, as ROLE_SANDBOXD): a lease on a container's image, answered
 * with what the rootfs and the OCI spec are built from, its release, and
 * the list of leases (recovery releases those of containers that are gone).
 * One connection, kept between requests and used by one request at a time;
 * it is made again when imaged has gone away (a request that finds the
 * connection dead is sent once more on a new one, which is safe: every
 * request here may be repeated). Never logs.
 */
#pragma once
#include <pthread.h>
#include "common/error.h"
#include "crisp.pb-c.h"

#define SBX_LEASE_PREFIX "sandboxd-"    /* sandboxd's leases: sandboxd-<container id> */

struct chan;

struct imaged_conn {
	pthread_mutex_t lock;
	const char *sock;               /* the admin socket's path */
	struct chan *chan;              /* NULL: not connected */
	uint64_t next_id;
};

void imaged_conn_init(struct imaged_conn *c, const char *sock);
void imaged_conn_close(struct imaged_conn *c);

/* Lease lease_id on image; *ret is imaged's answer (free with
 * crisp__leased_image__free_unpacked). NOT_FOUND when there is no such
 * image; UNAVAILABLE when imaged cannot be reached. */
int imaged_lease_image(struct imaged_conn *c, const char *lease_id, const char *holder,
		       const char *image, int timeout_ms, Crisp__LeasedImage **ret,
		       struct crisp_error *err);
/* Release it; a lease that is gone already is fine. */
int imaged_lease_release(struct imaged_conn *c, const char *lease_id, struct crisp_error *err);
/* Every lease's id (free with crisp__lease_list__free_unpacked). */
int imaged_lease_list(struct imaged_conn *c, Crisp__LeaseList **ret, struct crisp_error *err);
