/*
 * oci/resources: linux.resources cpu, memory, hugepageLimits and unified
 * from config.linux.resources, as containerd's WithResources sets them: a
 * zero (or empty) value leaves a setting unset; cpu period, quota and
 * shares, cpuset cpus and mems; the memory limit, and swap: the request's
 * memory_swap_limit_in_bytes when set, else the memory limit (no swap by
 * default), both only when host->swap (the OCI value is memory+swap on v1
 * and v2 alike: runc turns it into memory.swap.max on v2). Hugepage limits
 * only when host->hugetlb (else dropped, as containerd's
 * tolerate_missing_hugetlb_controller does; sandboxd says so in its log).
 * unified (raw cgroup v2 files) only on cgroup v2 (on v1 a non-empty map is
 * INVALID_ARGUMENT). Names that runc turns into file names are checked
 * strictly (hugepage sizes, unified keys), so that none reaches outside
 * the container's cgroup. devices are oci/devices'. Never logs.
 */
#include <errno.h>
#include <string.h>
#include "sandboxd/oci/spec_int.h"

#define RES_FIELD "config.linux.resources"

static bool cpuset_ok(const char *v)
{
	return strlen(v) < OCISPEC_MAX_VALUE && strspn(v, "0123456789,-") == strlen(v);
}

static int cpu(struct ocispec *s, const Runtime__V1__LinuxContainerResources *r)
{
	if (r->cpu_period < 0 || r->cpu_shares < 0 || r->cpu_quota < -1)
		return OCISPEC_INVALID(s, RES_FIELD ": negative cpu_period, cpu_shares or cpu_quota");
	const char *cpus = ocispec_str(r->cpuset_cpus), *mems = ocispec_str(r->cpuset_mems);
	if (!cpuset_ok(cpus))
		return OCISPEC_INVALID(s, RES_FIELD ".cpuset_cpus: not a CPU list");
	if (!cpuset_ok(mems))
		return OCISPEC_INVALID(s, RES_FIELD ".cpuset_mems: not a node list");
	if (!r->cpu_period && !r->cpu_quota && !r->cpu_shares && !cpus[0] && !mems[0])
		return 0;
	json_object *c = ocispec_child(s->resources, "cpu", false);
	if (!c)
		return ocispec_nomem(s);
	if ((r->cpu_period && ocispec_set(c, "period", json_object_new_uint64((uint64_t)r->cpu_period)) < 0) ||
	    (r->cpu_quota && ocispec_set_int(c, "quota", r->cpu_quota) < 0) ||
	    (r->cpu_shares && ocispec_set(c, "shares", json_object_new_uint64((uint64_t)r->cpu_shares)) < 0) ||
	    (cpus[0] && ocispec_set_str(c, "cpus", cpus) < 0) ||
	    (mems[0] && ocispec_set_str(c, "mems", mems) < 0))
		return ocispec_nomem(s);
	return 0;
}

static int memory(struct ocispec *s, const Runtime__V1__LinuxContainerResources *r)
{
	int64_t limit = r->memory_limit_in_bytes, swap = r->memory_swap_limit_in_bytes;
	if (limit < 0)
		return OCISPEC_INVALID(s, RES_FIELD ".memory_limit_in_bytes: negative");
	if (swap < -1)
		return OCISPEC_INVALID(s, RES_FIELD ".memory_swap_limit_in_bytes: below -1");
	if (limit && swap > 0 && swap < limit)
		return OCISPEC_INVALID(s, RES_FIELD ".memory_swap_limit_in_bytes: below the memory "
				       "limit (it is memory + swap)");
	if (!s->in->host->swap)
		swap = 0;
	else if (!swap)
		swap = limit;
	if (!limit && !swap)
		return 0;
	json_object *m = ocispec_child(s->resources, "memory", false);
	if (!m)
		return ocispec_nomem(s);
	if ((limit && ocispec_set_int(m, "limit", limit) < 0) ||
	    (swap && ocispec_set_int(m, "swap", swap) < 0))
		return ocispec_nomem(s);
	return 0;
}

/* "2MB", "1GB", "64KB": what runc puts in hugetlb.<size>.limit_in_bytes */
static bool pagesize_ok(const char *p)
{
	size_t d = strspn(p, "0123456789");
	return d >= 1 && d <= 10 && p[0] != '0' && strlen(p + d) == 2 &&
	       strchr("KMGTP", p[d]) && p[d] != '\0' && p[d + 1] == 'B';
}

static int hugepages(struct ocispec *s, const Runtime__V1__LinuxContainerResources *r)
{
	if (r->n_hugepage_limits > OCISPEC_MAX_HUGEPAGES)
		return OCISPEC_INVALID(s, RES_FIELD ".hugepage_limits: more than %u",
				       OCISPEC_MAX_HUGEPAGES);
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		const Runtime__V1__HugepageLimit *h = r->hugepage_limits[i];
		if (!h || !pagesize_ok(ocispec_str(h->page_size)))
			return OCISPEC_INVALID(s, RES_FIELD ".hugepage_limits[%zu].page_size: not a "
					       "page size like \"2MB\"", i);
	}
	if (!r->n_hugepage_limits || !s->in->host->hugetlb)
		return 0;
	json_object *a = ocispec_child(s->resources, "hugepageLimits", true);
	if (!a)
		return ocispec_nomem(s);
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		json_object *o = json_object_new_object();
		if (!o || ocispec_set_str(o, "pageSize", r->hugepage_limits[i]->page_size) < 0 ||
		    ocispec_set(o, "limit", json_object_new_uint64(r->hugepage_limits[i]->limit)) < 0) {
			json_object_put(o);
			return ocispec_nomem(s);
		}
		if (ocispec_push(a, o) < 0)
			return ocispec_nomem(s);
	}
	return 0;
}

/* "<controller>.<file>": lowercase letters, digits, '_' and '.', not the
 * cgroup core's own files but its two limits. */
static bool unified_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n >= OCISPEC_MAX_NAME || strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_.") != n)
		return false;
	const char *dot = strchr(k, '.');
	if (!dot || dot == k || dot[1] == '\0' || dot[1] == '.' || k[n - 1] == '.')
		return false;
	if (strncmp(k, "cgroup.", 7) == 0)
		return strcmp(k, "cgroup.max.depth") == 0 || strcmp(k, "cgroup.max.descendants") == 0;
	return true;
}

static int unified(struct ocispec *s, const Runtime__V1__LinuxContainerResources *r)
{
	if (!r->n_unified)
		return 0;
	if (!s->in->host->cgroup_v2)
		return OCISPEC_INVALID(s, RES_FIELD ".unified: needs cgroup v2");
	if (r->n_unified > OCISPEC_MAX_UNIFIED)
		return OCISPEC_INVALID(s, RES_FIELD ".unified: more than %u", OCISPEC_MAX_UNIFIED);
	json_object *u = ocispec_child(s->resources, "unified", false);
	if (!u)
		return ocispec_nomem(s);
	for (size_t i = 0; i < r->n_unified; i++) {
		const Runtime__V1__LinuxContainerResources__UnifiedEntry *e = r->unified[i];
		const char *k = e ? ocispec_str(e->key) : "", *v = e ? ocispec_str(e->value) : "";
		if (!unified_key_ok(k))
			return OCISPEC_INVALID(s, RES_FIELD ".unified: \"%.64s\" is not a cgroup v2 "
					       "file name", k);
		if (strlen(v) >= OCISPEC_MAX_VALUE)
			return OCISPEC_INVALID(s, RES_FIELD ".unified[\"%s\"]: value too long", k);
		if (ocispec_set_str(u, k, v) < 0)
			return ocispec_nomem(s);
	}
	return 0;
}

int ocispec_resources(struct ocispec *s)
{
	const Runtime__V1__LinuxContainerResources *r = s->res;
	if (!r)
		return 0;
	int rc = cpu(s, r);
	if (rc >= 0)
		rc = memory(s, r);
	if (rc >= 0)
		rc = hugepages(s, r);
	if (rc >= 0)
		rc = unified(s, r);
	return rc;
}
