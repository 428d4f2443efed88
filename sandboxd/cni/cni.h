/*
 * cni: a pod's network through CNI plugins (the CNI spec 0.3.0 to 1.0.0,
 * as libcni runs them). Owns: choosing the network (the first config file
 * in cni_conf_dir in byte order of names ending .conf, .conflist or .json,
 * as libcni does; crisp's own default conflist when there is none), running
 * a network's plugin chain for ADD (in order, each given the previous
 * result) and DEL (in reverse, with the cached result), the loopback
 * interface, and reading a result's IPs.
 *
 * A plugin runs as a child process with the CNI environment (CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS with the K8S_POD_* keys,
 * CNI_PATH), its network config on stdin (name, cniVersion, prevResult and
 * runtimeConfig for the capabilities it declares: portMappings, bandwidth),
 * the result or a CNI error on stdout, with a time limit (plugin_timeout)
 * and a cap on what it prints; its stderr goes into the error message.
 *
 * DEL is idempotent: it succeeds when the pod was never added, when its
 * netns is gone (CNI_NETNS empty), and after sandboxd restarts: it runs
 * with the config and result stored at ADD (struct cni_attachment), so a
 * changed config dir cannot strand an IP allocation.
 *
 * Thread-safe (no shared state but the loaded network, which is read only).
 * Never logs; errors go to crisp_error.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "cri.pb-c.h"

struct cni_settings {
	const char *conf_dir;           /* [network] cni_conf_dir */
	const char *bin_dirs;           /* [network] cni_bin_dirs, ':' separated */
	const char *default_bridge;     /* crisp's default conflist: its bridge */
	const char *default_subnet;     /* its subnet */
	const char *ipam_dir;           /* its host-local dataDir */
	unsigned timeout_ms;            /* one plugin run (0: 60 s) */
};

#define CNI_CONF_MAX (1024u * 1024u)    /* the largest config file read */

struct cni_net;                         /* a loaded network config (immutable) */

/* Which network is in use: the one place that decides it, for cni_net_load
 * and for the status check (cni/status.h). 1, with the path of the config
 * file libcni would pick in conf_dir in ret_path; 0 when conf_dir holds no
 * config file or does not exist (crisp's default conflist is in use);
 * negative errno when conf_dir cannot be read. */
int cni_net_pick(const struct cni_settings *s, char *ret_path, size_t len,
		 struct crisp_error *err);

/* The network to use now: the config file libcni would pick in conf_dir,
 * parsed and checked (every plugin type an executable in bin_dirs), or crisp's
 * default conflist rendered from the settings when conf_dir holds no config
 * file. A config file that is there but bad is an error (FAILED_PRECONDITION
 * naming the file): never fall back to the default then. */
int cni_net_load(const struct cni_settings *s, struct cni_net **ret, struct crisp_error *err);
void cni_net_free(struct cni_net *n);
const char *cni_net_name(const struct cni_net *n);
const char *cni_net_file(const struct cni_net *n);     /* "" for the default */
bool cni_net_is_default(const struct cni_net *n);

/* The pod a plugin run is for. */
struct cni_pod {
	const char *id;                 /* CNI_CONTAINERID: the pod sandbox id */
	const char *netns;              /* CNI_NETNS: the pinned netns ("" on DEL
					 * when it is gone) */
	const char *name, *namespace_, *uid;    /* K8S_POD_NAME, _NAMESPACE, _UID */
	Runtime__V1__PortMapping **ports;       /* runtimeConfig.portMappings */
	size_t n_ports;
	uint64_t ingress_bps, egress_bps;       /* runtimeConfig.bandwidth; 0: none */
	const char *cgroup_path;        /* runtimeConfig.cgroupPath; NULL: none */
};

/* What ADD made, to be stored by sandboxd and handed back to DEL. */
struct cni_attachment {
	char *net_json;                 /* the network config the chain ran with */
	char *result_json;              /* the last plugin's result */
	char **ips;                     /* the pod's IPs, primary first ("10.67.0.5") */
	size_t n_ips;
};

/* Bring up "lo" in netns (the loopback plugin, as libcni's callers do). */
int cni_loopback(const struct cni_settings *s, const char *netns, struct crisp_error *err);
/* ADD pod to net as interface eth0. On failure everything ADD did is undone
 * (DEL of the plugins that ran) before it returns. */
int cni_add(const struct cni_settings *s, const struct cni_net *net, const struct cni_pod *pod,
	    struct cni_attachment *ret, struct crisp_error *err);
/* DEL pod: with att (its net_json and result_json) when ADD finished; with
 * att->result_json NULL when ADD may have begun but its result was never
 * stored (DEL without prevResult); with att NULL, on the network net. */
int cni_del(const struct cni_settings *s, const struct cni_net *net,
	    const struct cni_attachment *att, const struct cni_pod *pod, struct crisp_error *err);
/* The IPs of a stored result (for a restarted sandboxd). */
int cni_result_ips(const char *result_json, char ***ret_ips, size_t *ret_n,
		   struct crisp_error *err);
void cni_attachment_clear(struct cni_attachment *a);
