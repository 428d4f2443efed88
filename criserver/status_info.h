/*
 * status_info: the `info` map of a verbose CRI Status: JSON values that
 * describe criserver ("criserver": its version, pid, grpc, calls in flight),
 * the CRI connections), the effective configuration ("config"), each
 * daemon behind it ("daemons": connected or not, since when, pid and name
 * from its Health answer, why it is down), and the network as sandboxd
 * reported it ("network": ready or not and why, the CNI config file and
 * network in use, whether it is crisp's own default, and what each runtime
 * handler can do). Built with json-c. The configuration holds no secrets
 * today; a key that ever does must be left out here.
 */
#pragma once
#include <stddef.h>
#include "criserver/criserver.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"

#define STATUS_INFO_MAX 4

struct status_info {
	Runtime__V1__StatusResponse__InfoEntry entry[STATUS_INFO_MAX];
	Runtime__V1__StatusResponse__InfoEntry *entries[STATUS_INFO_MAX];
	size_t n;
};

/* Fill ret (free with status_info_free); untouched on failure. net:
 * sandboxd's NetworkStatus, or NULL with why in net_error (may be NULL). */
int status_info_build(struct criserver *cs, const Crisp__NetworkStatus *net,
		      const char *net_error, struct status_info *ret);
/* sandboxd's NetworkStatus as a JSON object text (free()); NULL when out of
 * memory. */
char *status_info_network_json(const Crisp__NetworkStatus *net, const char *net_error);
void status_info_free(struct status_info *info);
/* The configuration as a JSON object text (free()); NULL when out of memory. */
char *status_info_config_json(const struct crisp_config *c);
