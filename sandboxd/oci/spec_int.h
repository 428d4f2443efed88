/*
 * oci/spec_int: what the files of sandboxd/oci/ share and nobody else may
 * use: the caps on every list and string that comes from kubelet or the
 * image, the build context (struct ocispec) that each part of the document
 * is written into, and the small path and JSON helpers. Each part returns
 * a negative errno and fills s->err (crisp_fail) naming the CRI field;
 * none of them logs. Internal names start with ocispec_ (imaged's
 * oci_layout owns oci_*, and the unit-test binary links both).
 */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/status.h"
#include "sandboxd/oci/spec.h"

/* Caps (past one: INVALID_ARGUMENT naming the field). */
#define OCISPEC_MAX_ARGS        4096u           /* command + args, or entrypoint + cmd */
#define OCISPEC_MAX_ENV         4096u           /* image Env + config.envs, together */
#define OCISPEC_MAX_STRING      (128u * 1024u)  /* one arg or env entry (the kernel's
						 * MAX_ARG_STRLEN: exec refuses more) */
#define OCISPEC_MAX_PATH        4096u           /* a path, with its NUL */
#define OCISPEC_MAX_NAME        256u            /* a capability, sysctl, cgroup file name */
#define OCISPEC_MAX_VALUE       4096u           /* a sysctl or unified value */
#define OCISPEC_MAX_MOUNTS      256u
#define OCISPEC_MAX_DEVICES     256u
#define OCISPEC_MAX_HOST_DEVICES 8192u          /* privileged: the host's /dev */
#define OCISPEC_MAX_PATHS       256u            /* masked_paths, readonly_paths */
#define OCISPEC_MAX_CAPS        64u             /* per capability list */
#define OCISPEC_MAX_GROUPS      1024u           /* supplemental + /etc/group ones */
#define OCISPEC_MAX_SYSCTLS     256u
#define OCISPEC_MAX_UNIFIED     256u
#define OCISPEC_MAX_HUGEPAGES   16u
#define OCISPEC_MAX_VOLUMES     256u
#define OCISPEC_MAX_SPEC        (4u << 20)      /* config.json */
#define OCISPEC_MAX_USER_FILE   (4u << 20)      /* the image's /etc/passwd, /etc/group */
#define OCISPEC_MAX_USER_LINE   (64u * 1024u)   /* one line of them */
#define OCISPEC_MAX_MOUNTINFO   (16u << 20)     /* /proc/self/mountinfo */
/* The largest uid or gid we pass on: runc 1.1 (and so containerd) keep ids
 * at or below INT32_MAX, though the kernel takes up to 2^32-2. */
#define OCISPEC_ID_MAX          0x7fffffffu

/* One build. */
struct ocispec {
	const struct oci_input *in;
	const Runtime__V1__ContainerConfig *cfg;
	const Runtime__V1__LinuxContainerSecurityContext *sc;   /* NULL: none given */
	const Runtime__V1__LinuxContainerResources *res;        /* NULL: none given */
	const Runtime__V1__LinuxSandboxSecurityContext *pod_sc; /* NULL: none given */
	const Crisp__ImageRuntimeConfig *image;                 /* never NULL */
	bool privileged;
	struct crisp_error *err;

	json_object *spec;              /* the document; the rest are inside it */
	json_object *process;
	json_object *linux;
	json_object *resources;         /* linux.resources */

	/* what process.c resolved, for the output */
	uint32_t uid, gid;
	uint32_t *groups;
	size_t n_groups;
	int stop_signal;
};

#define OCISPEC_INVALID(s, ...) \
	crisp_fail((s)->err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, __VA_ARGS__)

static inline const char *ocispec_str(const char *p)
{
	return p ? p : "";
}

/* The parts of the document, in the order oci_spec_build calls them. */
int ocispec_process(struct ocispec *s);         /* process.c */
int ocispec_user(struct ocispec *s, json_object *process);      /* user.c */
int ocispec_caps(struct ocispec *s, json_object *process);      /* caps.c */
int ocispec_stop_signal(struct ocispec *s);     /* signal.c */
int ocispec_mounts(struct ocispec *s);          /* mounts.c */
int ocispec_linux(struct ocispec *s);           /* linux.c */
int ocispec_devices(struct ocispec *s);         /* devices.c */
int ocispec_resources(struct ocispec *s);       /* resources.c */
int ocispec_sysctls(struct ocispec *s);         /* sysctl.c */
int ocispec_volumes(struct ocispec *s);         /* volumes.c: last (it writes) */

/* path.c. Clean the absolute path p lexically (Go's filepath.Clean: no
 * "//", ".", ".." or trailing '/') into buf: -EINVAL when p is not
 * absolute, -ENAMETOOLONG when it does not fit. */
int ocispec_path_clean(const char *p, char *buf, size_t len);
/* p has a ".." component */
bool ocispec_path_has_dotdot(const char *p);
/* the clean absolute path parent is child or one of its ancestors */
bool ocispec_path_covers(const char *parent, const char *child);
/* openat2(dirfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS):
 * path resolved with dirfd as its root, symlinks included. fd or -errno. */
int ocispec_open_in_root(int dirfd, const char *path, int flags);

/* passwd.c: the image's etc/passwd and etc/group, read through rootfs_fd
 * (RESOLVE_IN_ROOT) with the caps above. -ENOENT (err untouched) when the
 * file does not exist; a file that is no regular file, too large or has a
 * too long line: INVALID_ARGUMENT. */
struct ocispec_userdb {
	char *buf;                      /* NULL: not read yet */
	size_t len;
	bool missing;                   /* read, and not there */
};
int ocispec_userdb_load(struct ocispec *s, const char *path, struct ocispec_userdb *db);
void ocispec_userdb_free(struct ocispec_userdb *db);
/* One line's fields (pointers into the buffer, not NUL-terminated). */
#define OCISPEC_USERDB_FIELDS 7
struct ocispec_userdb_line {
	const char *f[OCISPEC_USERDB_FIELDS];
	size_t len[OCISPEC_USERDB_FIELDS];
	size_t n;
};
/* The next non-empty, non-comment line at *pos: 1, 0 at the end. */
int ocispec_userdb_next(const struct ocispec_userdb *db, size_t *pos,
			struct ocispec_userdb_line *l);
/* field i of l is exactly s */
bool ocispec_userdb_field_is(const struct ocispec_userdb_line *l, size_t i, const char *s);
/* field i of l is a decimal id (0..UINT32_MAX): 0 and *ret, else -EINVAL */
int ocispec_userdb_field_id(const struct ocispec_userdb_line *l, size_t i, uint32_t *ret);

/* propagation.c: the mount holding path (the longest mount point of
 * /proc/self/mountinfo above it) is shared (bidirectional), or shared or a
 * slave (!need_shared). 0: it is; -EBUSY with err FAILED_PRECONDITION
 * naming field: it is not. */
int ocispec_check_propagation(struct ocispec *s, const char *path, bool need_shared,
			      const char *field);

/* json.c: add to an object or array; each takes v (NULL: out of memory)
 * and frees it on failure. -ENOMEM on failure. */
int ocispec_set(json_object *o, const char *key, json_object *v);
int ocispec_set_str(json_object *o, const char *key, const char *v);
int ocispec_set_int(json_object *o, const char *key, int64_t v);
int ocispec_set_bool(json_object *o, const char *key, bool v);
int ocispec_push(json_object *a, json_object *v);
int ocispec_push_str(json_object *a, const char *v);
/* The object (or array) member key of o, made when missing; NULL: no memory. */
json_object *ocispec_child(json_object *o, const char *key, bool array);
/* An array of n strings; NULL: no memory. */
json_object *ocispec_str_array(const char *const *v, size_t n);
/* For the callers: fill s->err for -ENOMEM and return it. */
int ocispec_nomem(struct ocispec *s);
