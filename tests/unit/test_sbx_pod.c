/*
 * test_sbx_pod: the pod files (sandboxd/pod/files.c): resolv.conf from
 * DNSConfig, hosts with the pod's IP, hostnames checked, injections
 * refused; the bandwidth annotations' quantities (pod/bandwidth.c).
 */
#include <errno.h>
#include <fcntl.h>
#include "common/fsutil.h"
#include "sandboxd/pod/pod.h"
#include "tests/unit/unit.h"

static char *read_in(const char *dir, const char *name)
{
	char p[4096], *buf = NULL;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	CHECK(fs_read_file(AT_FDCWD, p, 65536, &buf, NULL) == 0);
	return buf;
}

TEST(sbx_pod_files)
{
	Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__DNSConfig dns = RUNTIME__V1__DNSCONFIG__INIT;
	char *servers[] = { "10.0.0.10", "8.8.8.8" }, *search[] = { "a.local", "b" },
	     *opts[] = { "ndots:5" };
	dns.servers = servers;
	dns.n_servers = 2;
	dns.searches = search;
	dns.n_searches = 2;
	dns.options = opts;
	dns.n_options = 1;
	cfg.dns_config = &dns;
	struct crisp_error err = { 0 };
	CHECK_RC(pod_files_write(unit_tmpdir(), &cfg, false, "web-1", "10.67.0.9", &err));
	char *r = read_in(unit_tmpdir(), "resolv.conf");
	CHECK(!strcmp(r, "search a.local b\nnameserver 10.0.0.10\nnameserver 8.8.8.8\n"
		      "options ndots:5\n"));
	free(r);
	r = read_in(unit_tmpdir(), "hosts");
	CHECK(strstr(r, "127.0.0.1\tlocalhost\n") && strstr(r, "10.67.0.9\tweb-1\n"));
	free(r);
	r = read_in(unit_tmpdir(), "hostname");
	CHECK(!strcmp(r, "web-1\n"));
	free(r);
	char *evil[] = { "1.1.1.1\nnameserver 6.6.6.6" };
	dns.servers = evil;
	dns.n_servers = 1;
	CHECK(pod_files_write(unit_tmpdir(), &cfg, false, "web-1", NULL, &err) == -EINVAL);
	CHECK(err.code == 3 && strstr(err.msg, "servers[0]"));
}

TEST(sbx_pod_hostname_check)
{
	struct crisp_error err = { 0 };
	CHECK_RC(pod_hostname_check("my-pod.example", &err));
	CHECK(pod_hostname_check("my pod", &err) == -EINVAL);
	CHECK(pod_hostname_check("a\nb", &err) == -EINVAL);
	char long_name[80];
	memset(long_name, 'a', 64);
	long_name[64] = 0;
	CHECK(pod_hostname_check(long_name, &err) == -EINVAL);
}

TEST(sbx_pod_bandwidth_quantities)
{
	CHECK(pod_quantity("10M") == 10000000ull);
	CHECK(pod_quantity("1Gi") == 1ull << 30);
	CHECK(pod_quantity("500k") == 500000ull);
	CHECK(pod_quantity("7") == 7);
	CHECK(pod_quantity("10X") == 0 && pod_quantity("") == 0 && pod_quantity("-1M") == 0);
	CHECK(pod_quantity("99999999999999999999M") == 0);
}
