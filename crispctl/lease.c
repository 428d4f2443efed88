/*
 * lease: crispctl's `lease ls`: the leases that hold image content (a
 * container's rootfs, a pull or import in progress), from imaged
 * (MSG_LEASE_LIST).
 */
#include <stdio.h>
#include <time.h>
#include "crispctl/crispctl.h"
#include "crisp.pb-c.h"

int ctl_lease_ls(struct ctl *c, int argc, char **argv)
{
	if (argc != 1)
		return ctl_usage("lease ls");
	if (ctl_connect(c) < 0)
		return CTL_EXIT_FAIL;
	Crisp__LeaseListRequest rq = CRISP__LEASE_LIST_REQUEST__INIT;
	Crisp__LeaseList *resp = NULL;
	if (ctl_call(c, CRISP__MSG_TYPE__MSG_LEASE_LIST, &rq.base, -1,
		     &crisp__lease_list__descriptor, (ProtobufCMessage **)&resp) < 0)
		return CTL_EXIT_FAIL;
	printf("%-40s %-20s %-7s %-7s %s\n", "ID", "CREATED", "IMAGES", "LAYERS", "HOLDER");
	for (size_t i = 0; i < resp->n_leases; i++) {
		const Crisp__Lease *l = resp->leases[i];
		char when[32] = "-";
		time_t t = (time_t)(l->created_at / 1000000000);
		struct tm tm;
		if (l->created_at > 0 && gmtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%-40s %-20s %-7zu %-7zu %s\n", l->id, when, l->n_images, l->n_layers, l->holder);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}
