/*
 * oci/sysctl: linux.sysctl, the pod's sysctls (sandbox_config.linux.
 * sysctls) set in every container's spec: the pod's namespaces are made by
 * sandboxd, not by a pause container that would carry them, and runc
 * writes them into the namespaces the container joins.
 *
 * Only namespaced sysctls, by runc 1.1's list (kubelet's "kernel.shm*" and
 * "kernel.msg*" prefixes are wider, but runc refuses the rest):
 * kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced,
 * kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, fs.mqueue.*
 * (these need the pod's IPC namespace), and net.* (these need the pod's
 * network namespace, not the host's). Names as kubelet validates them:
 * segments of [a-z0-9_-] (starting and ending with [a-z0-9]) separated by
 * '.' or '/', at most 253 bytes; a name whose first separator is '/' is
 * turned into the dotted form as runc does ('/' and '.' swap), so that
 * "net/ipv4/ip_forward" and "net.ipv4.ip_forward" are one sysctl (twice:
 * INVALID_ARGUMENT). Values: no NUL (impossible here) and no newline, at
 * most 4095 bytes. A refused sysctl is INVALID_ARGUMENT naming it. Never
 * logs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "sandboxd/oci/spec_int.h"

#define SYSCTL_NAME_MAX 253

static const char *const ipc_sysctls[] = {
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
};

static bool seg_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* kubelet's SysctlFmt: ([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])? */
static bool name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > SYSCTL_NAME_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		size_t st = i;
		while (i < len && seg_char(n[i]))
			i++;
		if (i == st || !alnum(n[st]) || !alnum(n[i - 1]))
			return false;
		if (i == len)
			return true;
		if (n[i] != '.' && n[i] != '/')
			return false;
		if (++i == len)
			return false;
	}
	return false;
}

/* runc's convertSysctlVariableToDotsSeparator */
static void to_dots(const char *n, char *out)
{
	size_t first = strcspn(n, "./");
	bool swap = n[first] == '/';
	for (size_t i = 0;; i++) {
		char c = n[i];
		if (swap && c == '.')
			c = '/';
		else if (swap && c == '/')
			c = '.';
		out[i] = c;
		if (!c)
			break;
	}
}

static int check(struct ocispec *s, const char *name, const char *key, const char *value)
{
	const struct oci_pod *pod = s->in->pod;
	if (!name_ok(key))
		return OCISPEC_INVALID(s, "sysctl \"%.64s\": not a sysctl name", key);
	if (strlen(value) >= OCISPEC_MAX_VALUE || strpbrk(value, "\n\r"))
		return OCISPEC_INVALID(s, "sysctl \"%s\": invalid value", key);
	bool ipc = strncmp(name, "fs.mqueue.", 10) == 0;
	for (size_t i = 0; !ipc && i < sizeof ipc_sysctls / sizeof ipc_sysctls[0]; i++)
		ipc = strcmp(name, ipc_sysctls[i]) == 0;
	if (ipc) {
		if (!pod->ipc_ns)
			return OCISPEC_INVALID(s, "sysctl \"%s\": not allowed with the host's IPC "
					       "namespace", key);
		return 0;
	}
	if (strncmp(name, "net.", 4) == 0) {
		if (!pod->net_ns)
			return OCISPEC_INVALID(s, "sysctl \"%s\": not allowed with the host's network "
					       "namespace", key);
		return 0;
	}
	return OCISPEC_INVALID(s, "sysctl \"%s\": not a namespaced sysctl", key);
}

int ocispec_sysctls(struct ocispec *s)
{
	const Runtime__V1__PodSandboxConfig *pc = s->in->pod->config;
	const Runtime__V1__LinuxPodSandboxConfig *pl = pc ? pc->linux : NULL;
	if (!pl || !pl->n_sysctls)
		return 0;
	if (pl->n_sysctls > OCISPEC_MAX_SYSCTLS)
		return OCISPEC_INVALID(s, "sandbox_config.linux.sysctls: more than %u",
				       OCISPEC_MAX_SYSCTLS);
	json_object *o = ocispec_child(s->linux, "sysctl", false);
	if (!o)
		return ocispec_nomem(s);
	for (size_t i = 0; i < pl->n_sysctls; i++) {
		const Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *e = pl->sysctls[i];
		const char *key = e ? ocispec_str(e->key) : "", *value = e ? ocispec_str(e->value) : "";
		char name[SYSCTL_NAME_MAX + 1];
		if (strlen(key) > SYSCTL_NAME_MAX)
			return OCISPEC_INVALID(s, "sysctl \"%.64s...\": name too long", key);
		to_dots(key, name);
		int r = check(s, name, key, value);
		if (r < 0)
			return r;
		if (json_object_object_get_ex(o, name, NULL))
			return OCISPEC_INVALID(s, "sysctl \"%s\": given twice", name);
		if (ocispec_set_str(o, name, value) < 0)
			return ocispec_nomem(s);
	}
	return 0;
}
