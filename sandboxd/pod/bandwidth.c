/*
 * bandwidth: a pod's traffic shaping asks, from the annotations kubelet
 * copies from the pod (kubernetes.io/ingress-bandwidth and
 * kubernetes.io/egress-bandwidth, Kubernetes quantities such as "10M" or
 * "1Gi", in bits per second), handed to the CNI bandwidth plugin as
 * containerd and CRI-O do. A value that does not parse is ignored, as they
 * ignore it. Never logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sandboxd/pod/pod.h"

/* "10M" -> 10000000, "1Gi" -> 1073741824; 0 for what is not a quantity. */
uint64_t pod_quantity(const char *s)
{
	static const struct { const char *suffix; uint64_t mult; } units[] = {
		{ "Ki", 1ull << 10 }, { "Mi", 1ull << 20 }, { "Gi", 1ull << 30 },
		{ "Ti", 1ull << 40 }, { "Pi", 1ull << 50 }, { "k", 1000ull },
		{ "M", 1000000ull }, { "G", 1000000000ull }, { "T", 1000000000000ull },
		{ "P", 1000000000000000ull }, { "", 1 },
	};
	char *end;
	if (!s || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return 0;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return 0;
		return v * units[i].mult;
	}
	return 0;
}

void pod_bandwidth(const Runtime__V1__PodSandboxConfig *cfg, uint64_t *ret_in, uint64_t *ret_out)
{
	*ret_in = *ret_out = 0;
	for (size_t i = 0; i < cfg->n_annotations; i++) {
		const char *k = cfg->annotations[i]->key, *v = cfg->annotations[i]->value;
		if (!strcmp(k, "kubernetes.io/ingress-bandwidth"))
			*ret_in = pod_quantity(v);
		else if (!strcmp(k, "kubernetes.io/egress-bandwidth"))
			*ret_out = pod_quantity(v);
	}
}
