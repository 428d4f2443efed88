/*
 * imaged: sandboxd's requests to imaged's admin socket (RUNROOT/admin/
 * imaged.sock, as ROLE_SANDBOXD): a lease on a container's image, answered
 * with what the rootfs and the OCI spec are built from, its release, and
 * the list of leases (recovery releases those of containers that are gone).
 * One connection per request, so that a restarted imaged is simply
 * reconnected to. Never logs.
 */
#pragma once
#include "common/error.h"
#include "crisp.pb-c.h"

#define SBX_LEASE_PREFIX "sandboxd-"    /* sandboxd's leases: sandboxd-<container id> */

/* Lease lease_id on image; *ret is imaged's answer (free with
 * crisp__leased_image__free_unpacked). NOT_FOUND when there is no such
 * image; UNAVAILABLE when imaged cannot be reached. */
int imaged_lease_image(const char *sock, const char *lease_id, const char *holder,
		       const char *image, int timeout_ms, Crisp__LeasedImage **ret,
		       struct crisp_error *err);
/* Release it; a lease that is gone already is fine. */
int imaged_lease_release(const char *sock, const char *lease_id, struct crisp_error *err);
/* Every lease's id (free with crisp__lease_list__free_unpacked). */
int imaged_lease_list(const char *sock, Crisp__LeaseList **ret, struct crisp_error *err);
