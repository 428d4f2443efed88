/*
 * check: what criserver checks in a pod or container request before it
 * hands it to sandboxd -- everything that needs no state: the fields that
 * must be set, a cap on every string, list and map, the form of ids and
 * names, and the ranges of numbers and enums. sandboxd checks again what
 * only it can know (does the pod exist, is the path allowed, ...).
 *
 * The caps are not configurable; docs/CONFIG.md ("Limits on CRI requests")
 * lists them and must change with this file. Each is well above what
 * kubelet sends for any valid pod (the Kubernetes API's own limits are
 * named where they exist), so that only a broken or hostile client meets
 * them.
 *
 * Each check returns 0, or -EINVAL with the first failure written to err as
 * "<field>: <what is wrong>", e.g. "config.metadata.name: must not be
 * empty", "config.labels: more than 256 entries"; the field is spelled as
 * in the proto, lists with their index ("config.mounts[2].host_path").
 * A message never quotes a value (envs and annotations may hold secrets).
 * Pure functions: no state, no I/O, no logging.
 */
#pragma once
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#define CHECK_ERR_MAX 256               /* the text of a failure, with its NUL */

/* ids (pod_sandbox_id, container_id, filter ids, namespace target_id):
 * 1..128 bytes of [0-9A-Za-z_.-], not starting with '.' or '-'. kubelet
 * sends full 64-hex ids, crictl unique prefixes of them (sandboxd resolves
 * prefixes); nothing else is an id. */
#define CHECK_ID_MAX 128
/* pod and container metadata (name, namespace, uid): 1..253 bytes (a DNS
 * subdomain at most), no '/' and no control character */
#define CHECK_NAME_MAX 253
#define CHECK_HOSTNAME_MAX 253
/* any path: log_directory (absolute), log_path (relative, no ".."),
 * working_dir, mount and device paths, cgroup_parent, profile files */
#define CHECK_PATH_MAX 4096
/* labels and annotations of one object (a pod, a container, an image
 * spec): entries of each map, the size of one key, and all keys and values
 * of both maps together. The API server caps a pod's annotations at
 * 256 KiB together and a label key at 317 bytes. */
#define CHECK_MAP_ENTRIES_MAX 256
#define CHECK_MAP_KEY_MAX 1024
#define CHECK_META_BYTES_MAX (512u * 1024u)
/* a label selector of a List filter */
#define CHECK_SELECTOR_ENTRIES_MAX 64
/* namespaced sysctls of a pod and cgroup v2 "unified" entries: entries
 * each, and the size of a key and of a value */
#define CHECK_SYSCTLS_MAX 256
#define CHECK_SYSCTL_KEY_MAX 256
#define CHECK_SYSCTL_VALUE_MAX 4096
/* the process: command + args (or ExecSync's cmd) together, and envs. One
 * string and one "KEY=value" may be at most MAX_ARG_STRLEN (128 KiB), and
 * everything execve takes is ~2 MiB on a default stack: more cannot run. */
#define CHECK_ARGV_MAX 4096
#define CHECK_ARG_MAX (128u * 1024u)
#define CHECK_ARGV_BYTES_MAX (1024u * 1024u)
#define CHECK_ENVS_MAX 8192
#define CHECK_ENV_KEY_MAX 4096
#define CHECK_ENVS_BYTES_MAX (1024u * 1024u)
/* mounts, devices and CDI devices of one container; mount options and id
 * mappings of one mount (the kernel takes at most 340 extents) */
#define CHECK_MOUNTS_MAX 1024
#define CHECK_MOUNT_OPTIONS_MAX 64
#define CHECK_IDMAPS_MAX 340
#define CHECK_DEVICES_MAX 1024
/* port mappings of one pod; host_ip is an address */
#define CHECK_PORTS_MAX 1024
#define CHECK_HOST_IP_MAX 64
/* DNS: Kubernetes allows 3 servers and 32 search domains (2048 bytes) */
#define CHECK_DNS_SERVERS_MAX 32
#define CHECK_DNS_SEARCHES_MAX 64
#define CHECK_DNS_OPTIONS_MAX 64
#define CHECK_DNS_ITEM_MAX 256
/* the security context: capabilities, supplemental groups, masked and
 * read-only paths, hugepage limits; SELinux labels, profile names, user
 * names and cpusets (short strings) */
#define CHECK_CAPS_MAX 128
#define CHECK_GROUPS_MAX 4096
#define CHECK_PATHS_MAX 1024
#define CHECK_HUGEPAGES_MAX 64
#define CHECK_SHORT_MAX 4096
/* an image reference in an ImageSpec (as imaged's own cap) */
#define CHECK_IMAGE_MAX 4096

/* Each takes the request as unpacked by rpc_call.c (the type the method's
 * name says). */
int check_run_pod(const ProtobufCMessage *req, char *err, size_t len);
int check_stop_pod(const ProtobufCMessage *req, char *err, size_t len);
int check_remove_pod(const ProtobufCMessage *req, char *err, size_t len);
int check_pod_status(const ProtobufCMessage *req, char *err, size_t len);
int check_list_pods(const ProtobufCMessage *req, char *err, size_t len);

int check_create_ctr(const ProtobufCMessage *req, char *err, size_t len);
int check_start_ctr(const ProtobufCMessage *req, char *err, size_t len);
int check_stop_ctr(const ProtobufCMessage *req, char *err, size_t len);
int check_remove_ctr(const ProtobufCMessage *req, char *err, size_t len);
int check_ctr_status(const ProtobufCMessage *req, char *err, size_t len);
int check_list_ctrs(const ProtobufCMessage *req, char *err, size_t len);
int check_reopen_log(const ProtobufCMessage *req, char *err, size_t len);
int check_exec_sync(const ProtobufCMessage *req, char *err, size_t len);
