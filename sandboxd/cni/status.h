/*
 * cni/status: is the pod network ready? The answer to CRI Status's
 * NetworkReady condition, from the CNI configuration alone: the network
 * cni_net_pick says is in use (the config file libcni would pick in
 * cni_conf_dir, else crisp's default conflist), whether that file is valid,
 * and whether every plugin it needs is an executable in one of
 * cni_bin_dirs. Reads files only; never runs a plugin, never logs.
 */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include "sandboxd/cni/cni.h"

#define CNI_STATUS_REASON_NOT_READY "NetworkPluginNotReady"

struct cni_status {
	bool ready;
	const char *reason;             /* "" when ready, else CNI_STATUS_REASON_NOT_READY */
	char message[1024];             /* what is wrong, for the user; when ready, ""
					 * for a config file, and for crisp's default
					 * network "crisp default network crisp (bridge
					 * crisp0, 10.67.0.0/16)" */
	char config_file[PATH_MAX];     /* the file looked at ("" if none: the default) */
	char network_name[256];         /* its "name" ("" if none; "crisp" for the default) */
	bool default_network;           /* crisp's default conflist is in use */
};

/* Fill ret for the settings s (conf_dir, bin_dirs, and default_bridge and
 * default_subnet for the message; the rest is not used). Not ready is an
 * answer, not an error: anything that stops the check (an unreadable dir, a
 * read error, even out of memory) is reported as not ready with its reason
 * in message. Returns 0. */
int cni_status_check_settings(const struct cni_settings *s, struct cni_status *ret);
/* The same without the default network's bridge and subnet (its message
 * then names neither). */
int cni_status_check(const char *conf_dir, const char *bin_dirs, struct cni_status *ret);
