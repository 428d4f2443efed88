/*
 * registry_platform: this node's platform (from the architecture crisp was
 * compiled for, which is what its containers' binaries must match, not
 * uname: a 32-bit userland on a 64-bit kernel runs 32-bit images), and how
 * well an index entry's platform fits, the way containerd matches them:
 * os and architecture equal (after the usual aliases: x86_64 = amd64,
 * aarch64 = arm64), variant equal after normalisation (arm64 "" = "v8",
 * arm "" = "v7", amd64 "" = "v1"), or, on arm, an older variant that the
 * node runs too (v7 runs v6 and v5), ranked below the exact one.
 * Pure functions; never logs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "imaged/registry_int.h"

void registry_platform_host(struct registry_platform *ret)
{
	*ret = (struct registry_platform){ .os = "linux" };
#if defined(__x86_64__)
	snprintf(ret->architecture, sizeof ret->architecture, "amd64");
#elif defined(__aarch64__)
	snprintf(ret->architecture, sizeof ret->architecture, "arm64");
	snprintf(ret->variant, sizeof ret->variant, "v8");
#elif defined(__arm__)
	snprintf(ret->architecture, sizeof ret->architecture, "arm");
	snprintf(ret->variant, sizeof ret->variant, "v%d", __ARM_ARCH);
#elif defined(__i386__)
	snprintf(ret->architecture, sizeof ret->architecture, "386");
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	snprintf(ret->architecture, sizeof ret->architecture, "ppc64le");
#elif defined(__s390x__)
	snprintf(ret->architecture, sizeof ret->architecture, "s390x");
#elif defined(__riscv) && __riscv_xlen == 64
	snprintf(ret->architecture, sizeof ret->architecture, "riscv64");
#elif defined(__loongarch64)
	snprintf(ret->architecture, sizeof ret->architecture, "loong64");
#elif defined(__mips64) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	snprintf(ret->architecture, sizeof ret->architecture, "mips64le");
#else
#error "crisp does not know the OCI name of this architecture"
#endif
}

static const char *arch_normal(const char *a)
{
	static const char *const alias[][2] = {
		{ "x86_64", "amd64" }, { "x86-64", "amd64" }, { "aarch64", "arm64" },
		{ "i386", "386" }, { "armhf", "arm" }, { "armel", "arm" },
	};
	for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
		if (strcmp(a, alias[i][0]) == 0)
			return alias[i][1];
	return a;
}

static const char *variant_normal(const char *arch, const char *v)
{
	if (v[0])
		return strcmp(arch, "arm64") == 0 && strcmp(v, "8") == 0 ? "v8" : v;
	if (strcmp(arch, "arm64") == 0)
		return "v8";
	if (strcmp(arch, "arm") == 0)
		return "v7";
	if (strcmp(arch, "amd64") == 0)
		return "v1";
	return "";
}

/* "v7" -> 7, else -1 */
static int variant_number(const char *v)
{
	if (v[0] != 'v' || v[1] < '0' || v[1] > '9')
		return -1;
	char *end;
	long n = strtol(v + 1, &end, 10);
	return *end || n > 100 ? -1 : (int)n;
}

int reg_platform_score(const struct registry_platform *want, const char *os, const char *arch,
		       const char *variant)
{
	const char *wa = arch_normal(want->architecture), *a = arch_normal(arch ? arch : "");
	if (!os || strcmp(os, want->os) != 0 || strcmp(a, wa) != 0)
		return -1;
	const char *wv = variant_normal(wa, want->variant), *v = variant_normal(a, variant ? variant : "");
	if (strcmp(v, wv) == 0)
		return 1000;
	if (strcmp(a, "arm") == 0) {
		int have = variant_number(wv), img = variant_number(v);
		if (have >= 0 && img >= 0 && img < have)
			return 100 + img;
	}
	return -1;
}
