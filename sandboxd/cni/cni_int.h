/*
 * cni_int: what the files of sandboxd/cni share among themselves and with
 * nobody else (the rest of sandboxd uses cni.h and status.h). A loaded
 * network is kept as the JSON text of its conflist, so that every run parses
 * its own copy (json-c objects are not shared between threads) and so that
 * ADD stores exactly what DEL will run with.
 */
#pragma once
#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "common/error.h"
#include "sandboxd/cni/cni.h"

#define CNI_MAX_PLUGINS 64              /* plugins in one list */
#define CNI_OUTPUT_MAX (1024u * 1024u)  /* a plugin's stdout; past it: error */
#define CNI_STDERR_MAX 2048u            /* the part of its stderr we keep */
#define CNI_TIMEOUT_DEFAULT_MS 60000u   /* settings->timeout_ms 0 */
#define CNI_DEFAULT_NAME "crisp"        /* crisp's default network */

struct cni_net {
	char *file;                     /* "" for crisp's default */
	char *name;
	char *json;                     /* the conflist: {cniVersion, name, plugins} */
	bool is_default;
};

/* plugin.c: find the plugin binary `type` in the ':' separated bin_dirs
 * into ret_path. -EINVAL: type is not a plain name ('/', ".", ".." or
 * empty); -EACCES: found, but not executable (its path in ret_path);
 * -ENOENT: in none of them. */
int cni_plugin_find(const char *bin_dirs, const char *type, char *ret_path, size_t len);
/* The same as an error naming the plugin and where it was named (`where`,
 * e.g. the config file): FAILED_PRECONDITION, or INVALID_ARGUMENT for a
 * type that is not a plain name. */
int cni_plugin_find_err(const char *bin_dirs, const char *type, const char *where,
			char *ret_path, size_t len, struct crisp_error *err);

/* conf.c: read the config file path (at most CNI_CONF_MAX bytes) and
 * check its shape: a JSON object with string "cniVersion" and "name" and
 * either a "type" (.conf, .json) or a list of 1..CNI_MAX_PLUGINS plugin
 * objects with a "type" each (.conflist). Into *ret_list the conflist (a
 * .conf turned into a list of one, as libcni does); errors name the file
 * (FAILED_PRECONDITION). */
int cni_conf_read(const char *path, struct json_object **ret_list, struct crisp_error *err);
/* Every plugin type of list an executable in bin_dirs (errors name file). */
int cni_conf_check_plugins(struct json_object *list, const char *file, const char *bin_dirs,
			   struct crisp_error *err);
/* obj[key] as a non-empty string, or NULL. */
const char *cni_json_string(struct json_object *obj, const char *key);
/* Parse buf (len bytes) as exactly one JSON object (nothing after it but
 * white space). -EBADMSG with a short reason in ret_why on failure. */
int cni_json_parse_object(const char *buf, size_t len, struct json_object **ret,
			  const char **ret_why);
/* The plain JSON text of obj (malloc'd), or NULL when out of memory. */
char *cni_json_text(struct json_object *obj);

/* default.c: crisp's default conflist rendered from the settings (see
 * cni.h); INVALID_ARGUMENT for a missing bridge or subnet. */
int cni_default_conflist(const struct cni_settings *s, struct json_object **ret,
			 struct crisp_error *err);
/* Every plugin the default network needs (bridge, host-local, portmap,
 * bandwidth, loopback) an executable in bin_dirs. */
int cni_default_check_plugins(const char *bin_dirs, struct crisp_error *err);
/* "crisp default network crisp (bridge B, SUBNET)" into buf (without the
 * parenthesis when bridge or subnet is NULL). */
void cni_default_describe(const struct cni_settings *s, char *buf, size_t len);

/* exec.c: run one plugin binary. */
struct cni_run {
	const char *type;               /* the plugin's type, for messages */
	const char *command;            /* ADD, DEL, for messages */
	const char *path;               /* its binary */
	char *const *env;               /* NULL-terminated, the whole environment */
	const char *conf;               /* its stdin */
	size_t conf_len;
	unsigned timeout_ms;            /* 0: CNI_TIMEOUT_DEFAULT_MS */
};
struct cni_output {
	char *out;                      /* stdout, NUL-terminated (at most CNI_OUTPUT_MAX) */
	size_t out_len;
	char *err;                      /* the first CNI_STDERR_MAX bytes of stderr */
	size_t err_len;
	int status;                     /* its wait status */
};
/* Run it and wait for it: 0 when it exited, whatever its exit status, with
 * what it printed in *ret. DEADLINE_EXCEEDED (-ETIMEDOUT) when it ran past
 * the time limit, RESOURCE_EXHAUSTED (-EFBIG) when it printed more than
 * CNI_OUTPUT_MAX: then it and its process group are killed. *ret is left
 * clear on failure. */
int cni_exec(const struct cni_run *run, struct cni_output *ret, struct crisp_error *err);
void cni_output_clear(struct cni_output *o);

/* result.c */
/* The IPs of a parsed result (0.3.0+ "ips"; 0.1.0/0.2.0 "ip4"/"ip6"),
 * primary first; none is not an error. */
int cni_result_ips_of(struct json_object *result, char ***ret_ips, size_t *ret_n,
		      struct crisp_error *err);
/* A failed plugin's answer as text for the user: its CNI error
 * ({"code","msg","details"}) or its exit status, then its stderr. */
void cni_error_text(const struct cni_output *o, char *buf, size_t len, int *ret_cni_code);
/* "x.y.z" >= "a.b.c" (missing parts are 0; NULL or junk is 0.1.0). */
bool cni_version_at_least(const char *v, int major, int minor, int patch);

/* args.c: the environment and runtimeConfig of one run. */
struct cni_env {
	char *vars[8];                  /* CNI_COMMAND ... PATH, NULL-terminated */
};
/* The whole environment of a plugin: CNI_COMMAND, CNI_CONTAINERID,
 * CNI_NETNS, CNI_IFNAME, CNI_ARGS (pod: the K8S_POD_* keys; NULL: none),
 * CNI_PATH and a fixed PATH. INVALID_ARGUMENT for an id or a CNI_ARGS value
 * that cannot be passed. */
int cni_env_build(const struct cni_settings *s, const char *command, const char *id,
		  const char *netns, const char *ifname, const struct cni_pod *pod,
		  struct cni_env *ret, struct crisp_error *err);
void cni_env_clear(struct cni_env *e);
/* The "runtimeConfig" for plugin (its config object) into *ret: the pod's
 * values of the capabilities the plugin declares true in "capabilities"
 * (portMappings, bandwidth, cgroupPath), or NULL when none applies (pod
 * NULL: none). -ENOMEM. */
int cni_runtime_config(struct json_object *plugin, const struct cni_pod *pod,
		       struct json_object **ret);
