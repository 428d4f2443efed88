/*
 * config: crisp's configuration. Owns the defaults, the command line flags
 * that every crisp binary shares, and the INI files: the main file
 * (default /etc/crisp/crisp.conf, --config FILE) and then every file
 * named *.conf in <dir of main file>/crisp.conf.d, in name order
 * (--config-dir DIR),
 * read with libinih. Later files override earlier; flags override files.
 * An unknown section or key, or a bad value, is an error naming file:line.
 * Every key is documented in docs/CONFIG.md.
 * Returns negative errno; the error text goes to ret_err, never to a log.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_FILE "/etc/crisp/crisp.conf"
#define CONFIG_DROPIN_DIR "crisp.conf.d"    /* next to the main file */
#define CONFIG_MAX_HANDLERS 8
#define CONFIG_MAX_PINNED 64
#define CONFIG_MAX_REGISTRIES 32
#define CONFIG_MAX_MIRRORS 8

struct runtime_handler {
	char *name;             /* [runtime.NAME] */
	char *path;             /* the OCI runtime binary (runc) */
	char *root;             /* its --root state dir; default RUNROOT/runtime/NAME */
};

/* [registry.HOST]: how imaged reaches one registry domain. */
struct registry_host_config {
	char *host;             /* as references spell it: "docker.io", "localhost:5000" */
	char *mirrors[CONFIG_MAX_MIRRORS];  /* "http[s]://host[:port][/prefix]", tried in order */
	size_t n_mirrors;
	bool insecure;          /* https without verification, then plain http */
	char *ca_file;          /* PEM CAs for this host; NULL: the system's */
};

struct crisp_config {
	/* command line only */
	char *config_file;      /* --config; NULL: CONFIG_DEFAULT_FILE, may be missing */
	char *config_dir;       /* --config-dir; NULL: CONFIG_DROPIN_DIR by the main file */
	bool supervised;        /* --supervised: started by crisp-up */
	bool help;              /* --help: print config_usage() and exit 0 */

	/* [crisp] */
	char *root;             /* persistent state, --root */
	char *runroot;          /* runtime state and sockets, --runroot */
	char *listen;           /* the CRI socket, --listen */
	char *user;             /* the user the unprivileged daemons run as */
	int log_level;          /* --log-level */

	/* [api] */
	uint64_t max_msg_size;  /* largest CRI message, in and out */
	unsigned max_connections;
	unsigned idle_timeout;          /* s: a connection with no call in flight is closed */
	unsigned handshake_timeout;     /* s: a new connection must speak HTTP/2 by then */
	unsigned max_call_timeout;      /* s: the deadline of a call that comes without one */

	/* [runtime] */
	char *cgroup_manager;   /* cgroupfs | systemd */
	char *default_runtime;  /* a handler name */
	struct runtime_handler handlers[CONFIG_MAX_HANDLERS];
	size_t n_handlers;
	unsigned max_pods;              /* pod sandboxes at once */
	unsigned max_containers;        /* containers at once, all pods */
	uint64_t shm_size;              /* a pod's /dev/shm */
	uint64_t log_max_line;          /* longer log lines are split into P records */

	/* [network] */
	char *cni_conf_dir;
	char *cni_bin_dirs;     /* colon separated */
	char *default_bridge;   /* crisp's default conflist: its bridge, */
	char *default_subnet;   /* its subnet (CIDR) */
	char *ipam_dir;         /* and host-local's dataDir; NULL: ROOT/cni/networks */
	unsigned plugin_timeout;        /* s: one CNI plugin run */

	/* [stream] */
	char *stream_address;
	unsigned stream_port;   /* 0: ephemeral */

	/* [image] */
	char *pinned_images[CONFIG_MAX_PINNED];
	size_t n_pinned;
	unsigned max_concurrent_pulls;      /* pulls at once */
	unsigned max_concurrent_downloads;  /* layers at once, per pull */
	uint64_t max_manifest_size;         /* manifests, indexes, image configs */
	uint64_t max_layer_size;            /* one layer, uncompressed */
	unsigned max_layer_ratio;           /* uncompressed / compressed */

	/* [registry] */
	char *docker_config;    /* a docker config.json with credentials; NULL: none */
	unsigned connect_timeout;       /* seconds */
	unsigned stall_timeout;         /* seconds without a byte: DEADLINE_EXCEEDED */
	unsigned max_retries;
	struct registry_host_config registries[CONFIG_MAX_REGISTRIES];
	size_t n_registries;
};

/* Fill c with the defaults. */
int config_init(struct crisp_config *c);
/* Parse the shared flags (see config_usage), then read the files, then apply
 * the flags again so they win. argv entries not known are an error. */
int config_load(struct crisp_config *c, int argc, char **argv, char **ret_err);
/* Read one INI file into c (used by config_load and the unit tests). */
int config_read_file(struct crisp_config *c, const char *path, char **ret_err);
/* Turn c back into flags for a child: "--config F --root R ...". ret_argv is
 * NULL-terminated, strings owned by c until config_free. */
int config_to_argv(const struct crisp_config *c, char ***ret_argv);
const struct runtime_handler *config_handler(const struct crisp_config *c, const char *name);
/* The [registry.HOST] section for host, or NULL. */
const struct registry_host_config *config_registry(const struct crisp_config *c,
						   const char *host);
void config_free(struct crisp_config *c);
const char *config_usage(void);
