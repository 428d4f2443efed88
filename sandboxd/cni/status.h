/*
 * cni_status: is the pod network ready? The answer to CRI Status's
 * NetworkReady condition, from the CNI configuration alone: the config file
 * libcni would pick in cni_conf_dir, whether it is valid, and whether every
 * plugin it names is an executable in one of cni_bin_dirs. Reads files
 * only; never runs a plugin, never logs.
 */
#pragma once
#include <limits.h>
#include <stdbool.h>

#define CNI_STATUS_REASON_NOT_READY "NetworkPluginNotReady"
#define CNI_CONF_MAX (1024u * 1024u)    /* the largest config file read */

struct cni_status {
	bool ready;
	const char *reason;             /* "" when ready, else CNI_STATUS_REASON_NOT_READY */
	char message[1024];             /* what is wrong, for the user ("" when ready) */
	char config_file[PATH_MAX];     /* the file looked at ("" if none) */
	char network_name[256];         /* its "name" ("" if none) */
};

/* Fill ret. Not ready is an answer, not an error: anything that stops the
 * check (a missing dir, a read error, even out of memory) is reported as
 * not ready with its reason in message. Returns 0. */
int cni_status_check(const char *conf_dir, const char *bin_dirs, struct cni_status *ret);
