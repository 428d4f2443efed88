/*
 * oci/caps: process.capabilities. The names are runc 1.1's (`runc
 * features`: CAP_CHOWN .. CAP_CHECKPOINT_RESTORE, kernel numbers 0..40);
 * the default set is containerd's (oci.defaultUnixCaps, docker's): in
 * bounding, effective and permitted, none inheritable or ambient.
 *
 * security_context.capabilities as containerd's WithCapabilities applies
 * them: "ALL" in add_capabilities gives every capability, "ALL" in
 * drop_capabilities removes every one, then the named adds, then the named
 * drops (so add ALL + drop CHOWN is all but CHOWN). Names are taken with
 * or without "CAP_", in any case; an unknown name is INVALID_ARGUMENT
 * (containerd passes it to runc, which ignores it with a warning).
 * add_ambient_capabilities (which containerd and CRI-O clear) are honoured:
 * each goes into ambient and inheritable, and into bounding, effective and
 * permitted, without which the kernel drops it; a drop removes it again.
 * privileged: every capability in bounding, effective and permitted,
 * whatever add/drop say (containerd applies WithPrivileged after them);
 * the lists are still checked. "Every capability" (privileged, and "ALL")
 * is host->all_caps, sandboxd's own effective set, as containerd uses its
 * own (cap.Current()): runc fails to start a container asking for one it
 * lacks (a host without CAP_SYS_RESOURCE, say). Never logs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "sandboxd/oci/spec_int.h"

#define CAPS_FIELD "config.linux.security_context.capabilities"

/* kernel number order */
static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
#define N_CAPS (sizeof cap_names / sizeof cap_names[0])
#define CAP_BIT(n) (UINT64_C(1) << (n))
#define ALL_CAPS ((UINT64_C(1) << N_CAPS) - 1)

/* containerd's defaultUnixCaps */
static const uint64_t default_caps =
	CAP_BIT(0) /* CHOWN */ | CAP_BIT(1) /* DAC_OVERRIDE */ | CAP_BIT(4) /* FSETID */ |
	CAP_BIT(3) /* FOWNER */ | CAP_BIT(27) /* MKNOD */ | CAP_BIT(13) /* NET_RAW */ |
	CAP_BIT(6) /* SETGID */ | CAP_BIT(7) /* SETUID */ | CAP_BIT(31) /* SETFCAP */ |
	CAP_BIT(8) /* SETPCAP */ | CAP_BIT(10) /* NET_BIND_SERVICE */ |
	CAP_BIT(18) /* SYS_CHROOT */ | CAP_BIT(5) /* KILL */ | CAP_BIT(29) /* AUDIT_WRITE */;

struct capsets {
	uint64_t bounding, effective, permitted, inheritable, ambient;
};

static bool is_all(const char *name)
{
	return strcasecmp(name, "ALL") == 0;
}

/* The bit of name ("net_admin", "CAP_NET_ADMIN"); -EINVAL when unknown. */
static int cap_lookup(const char *name)
{
	if (strncasecmp(name, "CAP_", 4) == 0)
		name += 4;
	for (size_t i = 0; i < N_CAPS; i++)
		if (strcasecmp(name, cap_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

/* Check list (ALL allowed when allow_all) and return its named caps as a
 * mask and whether it holds ALL. */
static int cap_list(struct ocispec *s, char *const *v, size_t n, const char *field,
		    bool allow_all, uint64_t *ret_mask, bool *ret_all)
{
	if (n > OCISPEC_MAX_CAPS)
		return OCISPEC_INVALID(s, CAPS_FIELD ".%s: more than %u entries", field,
				       OCISPEC_MAX_CAPS);
	*ret_mask = 0;
	*ret_all = false;
	for (size_t i = 0; i < n; i++) {
		const char *name = ocispec_str(v[i]);
		if (strlen(name) >= OCISPEC_MAX_NAME)
			return OCISPEC_INVALID(s, CAPS_FIELD ".%s[%zu]: name too long", field, i);
		if (allow_all && is_all(name)) {
			*ret_all = true;
			continue;
		}
		int b = cap_lookup(name);
		if (b < 0)
			return OCISPEC_INVALID(s, CAPS_FIELD ".%s[%zu]: unknown capability \"%s\"",
					       field, i, name);
		*ret_mask |= CAP_BIT(b);
	}
	return 0;
}

static json_object *cap_array(uint64_t mask)
{
	json_object *a = json_object_new_array();
	char name[OCISPEC_MAX_NAME];
	for (size_t i = 0; a && i < N_CAPS; i++) {
		if (!(mask & CAP_BIT(i)))
			continue;
		snprintf(name, sizeof name, "CAP_%s", cap_names[i]);
		if (ocispec_push_str(a, name) < 0) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static int emit(struct ocispec *s, json_object *process, const struct capsets *c)
{
	json_object *o = json_object_new_object();
	int r = o ? 0 : -ENOMEM;
	if (r >= 0)
		r = ocispec_set(o, "bounding", cap_array(c->bounding));
	if (r >= 0)
		r = ocispec_set(o, "effective", cap_array(c->effective));
	if (r >= 0)
		r = ocispec_set(o, "permitted", cap_array(c->permitted));
	if (r >= 0 && c->inheritable)
		r = ocispec_set(o, "inheritable", cap_array(c->inheritable));
	if (r >= 0 && c->ambient)
		r = ocispec_set(o, "ambient", cap_array(c->ambient));
	if (r >= 0)
		return ocispec_set(process, "capabilities", o) < 0 ? ocispec_nomem(s) : 0;
	json_object_put(o);
	return ocispec_nomem(s);
}

int ocispec_caps(struct ocispec *s, json_object *process)
{
	const Runtime__V1__Capability *cap = s->sc ? s->sc->capabilities : NULL;
	uint64_t add = 0, drop = 0, ambient = 0;
	bool add_all = false, drop_all = false, unused;
	int r = 0;
	if (cap) {
		r = cap_list(s, cap->add_capabilities, cap->n_add_capabilities,
			     "add_capabilities", true, &add, &add_all);
		if (r >= 0)
			r = cap_list(s, cap->drop_capabilities, cap->n_drop_capabilities,
				     "drop_capabilities", true, &drop, &drop_all);
		if (r >= 0)
			r = cap_list(s, cap->add_ambient_capabilities,
				     cap->n_add_ambient_capabilities, "add_ambient_capabilities",
				     false, &ambient, &unused);
		if (r < 0)
			return r;
	}
	struct capsets c;
	uint64_t all = s->in->host->all_caps ? s->in->host->all_caps & ALL_CAPS : ALL_CAPS;
	uint64_t base = s->privileged ? all : default_caps;
	if (!s->privileged) {
		if (add_all)
			base = all;
		if (drop_all)
			base = 0;
		base |= add;
	}
	c = (struct capsets){ base, base, base, 0, 0 };
	c.ambient = c.inheritable = ambient;
	c.bounding |= ambient;
	c.effective |= ambient;
	c.permitted |= ambient;
	if (!s->privileged) {
		c.bounding &= ~drop;
		c.effective &= ~drop;
		c.permitted &= ~drop;
		c.inheritable &= ~drop;
		c.ambient &= ~drop;
	}
	return emit(s, process, &c);
}
