/*
 * status_info: the `info` map of a verbose CRI Status: JSON values that
 * describe criserver ("criserver": its version, pid, grpc, calls in flight),
 * the effective configuration ("config") and each daemon behind it
 * ("daemons": connected or not, since when, pid and name from its Health
 * answer, why it is down). Built with json-c. The configuration holds no
 * secrets today; a key that ever does must be left out here.
 */
#pragma once
#include <stddef.h>
#include "criserver/criserver.h"
#include "cri.pb-c.h"

#define STATUS_INFO_MAX 3

struct status_info {
	Runtime__V1__StatusResponse__InfoEntry entry[STATUS_INFO_MAX];
	Runtime__V1__StatusResponse__InfoEntry *entries[STATUS_INFO_MAX];
	size_t n;
};

/* Fill ret (free with status_info_free); untouched on failure. */
int status_info_build(struct criserver *cs, struct status_info *ret);
void status_info_free(struct status_info *info);
/* The configuration as a JSON object text (free()); NULL when out of memory. */
char *status_info_config_json(const struct crisp_config *c);
